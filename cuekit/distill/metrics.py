"""Where a run's numbers go: ``metrics.jsonl`` always, TensorBoard and wandb when asked."""

from __future__ import annotations

import json
import resource
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from cuekit.errors import ConfigError

METRICS_FILE = "metrics.jsonl"


def peak_memory_mb(device: torch.device) -> float:
    """Peak allocated memory: CUDA allocator on GPU, max RSS of the process on CPU."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 2**10  # bytes on macOS, KiB else


def _step_of(line: str) -> int | None:
    """A metrics line's step; None for a line a killed run or a full disk cut short."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return int(record.get("step", 0)) if isinstance(record, dict) else None


def truncate_metrics(run_dir: Path, after_step: int) -> None:
    """Drop lines logged after ``after_step`` (they are redone when a run resumes), and
    any line cut short mid-write, which would otherwise stop every later read."""
    path = run_dir / METRICS_FILE
    if not path.exists():
        return
    kept = [
        line
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines()
        if (step := _step_of(line)) is not None and step <= after_step
    ]
    path.write_text("".join(f"{line}\n" for line in kept), encoding="utf-8")


class MetricsLogger:
    """Appends one JSON line per record and mirrors scalars to TensorBoard / wandb."""

    def __init__(
        self, run_dir: Path, *, tensorboard: bool, wandb: bool, config: dict[str, Any]
    ) -> None:
        self.path = run_dir / METRICS_FILE
        self._tb = None
        self._wandb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # tensorboard is a dependency, but be kind to slim installs
                raise ConfigError(
                    "TensorBoard logging needs `pip install tensorboard` (or pass --no-tensorboard)"
                ) from None
            self._tb = SummaryWriter(log_dir=str(run_dir / "tensorboard"))
        if wandb:
            try:
                import wandb as wandb_lib
            except ImportError:
                raise ConfigError("--wandb needs `pip install wandb`") from None
            self._wandb = wandb_lib.init(
                project="cuekit", dir=str(run_dir), config=config, resume="allow"
            )

    def log(self, record: Mapping[str, Any]) -> None:
        """Append one flat record (a :class:`~cuekit.schemas.StepMetrics` or a dict)."""
        record = dict(record)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, sort_keys=True) + "\n")
        step = int(record.get("step", 0))
        scalars = {
            k: v
            for k, v in record.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "step"
        }
        if self._tb is not None:
            for key, value in scalars.items():
                self._tb.add_scalar(key.replace(".", "/"), value, step)
        if self._wandb is not None:
            self._wandb.log(scalars, step=step)

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
        if self._wandb is not None:
            self._wandb.finish()


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    path = Path(run_dir) / METRICS_FILE
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
