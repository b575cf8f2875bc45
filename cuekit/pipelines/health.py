"""Is an extract run good enough to build on? The check behind ``cuekit extract``'s exit code.

A pipeline step that turned every row into an error must not look like a success, and
one that lost a large share of its rows should say why. :func:`failure_report` reads
the run's counts and ``errors.parquet`` and returns ``None`` for a healthy run, else a
message with the failure rate and the most frequent error reasons with their counts.
Reasons are grouped by stage, field and message with the sample-specific parts (quoted
values, paths, numbers) blanked, so a thousand missing files make one reason.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import polars as pl

from cuekit.pipelines.extract import layout
from cuekit.schemas.runs import StageCounts

DEFAULT_MAX_ERROR_RATE = 0.1  # above 10% of rows in errors.parquet the run fails
TOP_REASONS = 5

_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_PATH = re.compile(r"(?:[\w.~-]*/)+[\w.-]+")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def reason_of(stage: str, field: str | None, message: str) -> str:
    """A message's reason: where it failed and what, without sample-specific values."""
    text = _NUMBER.sub("N", _PATH.sub("<path>", _QUOTED.sub("'…'", message)))
    where = f"{stage}/{_NUMBER.sub('N', field)}" if field else stage
    return f"{where}: {text}"


def top_reasons(errors_file: Path, limit: int = TOP_REASONS) -> list[tuple[str, int]]:
    """The ``limit`` most frequent reasons in an errors table, with their counts."""
    if not errors_file.is_file():
        return []
    frame = pl.read_parquet(errors_file, columns=["stage", "field", "message"])
    reasons = Counter(
        reason_of(stage, field, message) for stage, field, message in frame.iter_rows()
    )
    return reasons.most_common(limit)


def failure_report(
    output: Path,
    counts: StageCounts,
    *,
    max_error_rate: float = DEFAULT_MAX_ERROR_RATE,
    stage: str = "extract",
) -> str | None:
    """None when the run is usable; else why not (rate and top error reasons).

    ``shard`` uses it too (its errors.parquet has the same columns), with a rate of 1:
    it fails only when no sample was written."""
    if not 0.0 <= max_error_rate <= 1.0:
        raise ValueError(f"max_error_rate must be in [0, 1], got {max_error_rate}")
    total, ok, errors = counts.input, counts.ok, counts.errors
    rate = errors / total if total else 1.0
    if ok > 0 and rate <= max_error_rate:
        return None
    head = (
        "no sample succeeded"
        if ok == 0
        else f"{rate:.1%} of samples failed, above --max-error-rate {max_error_rate:.1%}"
    )
    lines = [
        f"{stage}: {head} ({errors} errors out of {total} rows; see {output / layout.ERRORS_FILE})"
    ]
    reasons = top_reasons(output / layout.ERRORS_FILE)
    if reasons:
        lines.append("top error reasons:")
        lines += [f"  {count:>6}  {reason}" for reason, count in reasons]
    return "\n".join(lines)
