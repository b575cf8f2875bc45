"""Progress reporting shared by the stages: a tqdm bar on a terminal, log lines otherwise.

Batch jobs (CI, SLURM, ``nohup``) write to files where a redrawn bar is noise, so when
stderr is not a TTY the same progress goes to the ``cuekit`` logger every ``log_every_s``
seconds, with the rate and, when the total is known, the percentage.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

logger = logging.getLogger("cuekit.progress")


def _is_tty() -> bool:
    stream = sys.stderr
    return bool(getattr(stream, "isatty", None) and stream.isatty())


class Progress:
    """A counter that renders as a tqdm bar (TTY) or as periodic log lines (no TTY).

    Use as a context manager and call :meth:`update`; ``unit_scale`` lets byte counts
    show as kB/MB on the bar.
    """

    def __init__(
        self,
        total: int | None = None,
        *,
        desc: str = "",
        unit: str = "it",
        unit_scale: bool = False,
        log_every_s: float = 10.0,
        use_bar: bool | None = None,
    ) -> None:
        self.total = total
        self.desc = desc
        self.unit = unit
        self.count = 0
        self._log_every_s = log_every_s
        self._start = time.perf_counter()
        self._last_log = self._start
        self._bar = None
        if use_bar if use_bar is not None else _is_tty():
            from tqdm.auto import tqdm

            self._bar = tqdm(
                total=total, desc=desc, unit=unit, unit_scale=unit_scale, dynamic_ncols=True
            )

    def update(self, n: int = 1) -> None:
        self.count += n
        if self._bar is not None:
            self._bar.update(n)
            return
        now = time.perf_counter()
        if now - self._last_log >= self._log_every_s:
            self._last_log = now
            logger.info(self._line(now))

    def _line(self, now: float) -> str:
        elapsed = max(now - self._start, 1e-9)
        done = f"{self.count}" if self.total is None else f"{self.count}/{self.total}"
        pct = "" if not self.total else f" ({100.0 * self.count / self.total:.0f}%)"
        return f"{self.desc}: {done} {self.unit}{pct}, {self.count / elapsed:.1f} {self.unit}/s"

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        else:
            logger.info(self._line(time.perf_counter()))

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc_info: object) -> None:  # closed alike on success or error
        self.close()


def progress(
    iterable: Iterable[T],
    total: int | None = None,
    *,
    desc: str = "",
    unit: str = "it",
    log_every_s: float = 10.0,
    use_bar: bool | None = None,
) -> Iterator[T]:
    """Yield from ``iterable`` while reporting progress (see :class:`Progress`)."""
    if total is None and hasattr(iterable, "__len__"):
        total = len(iterable)  # type: ignore[arg-type]
    with Progress(total, desc=desc, unit=unit, log_every_s=log_every_s, use_bar=use_bar) as bar:
        for item in iterable:
            yield item
            bar.update(1)
