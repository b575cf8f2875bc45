"""The tiny-random distill run every distill test varies: seconds on a CPU.

A plain module (not a fixture) because ``distributed_worker.py`` imports it too, under
torchrun; test modules in this folder import it by name (pytest puts the folder on
``sys.path``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cuekit.distill.config import DistillConfig
from cuekit.distill.metrics import read_metrics

# Step metrics that are wall-clock figures: they differ between runs; the rest must match.
VOLATILE = {
    "time_rollout",
    "time_teacher",
    "time_student",
    "time_optimizer",
    "tokens_per_s",
    "peak_mem_mb",
}


def tiny_config(shards: str | Path, output: str | Path, **overrides: Any) -> DistillConfig:
    """A tiny-random run over ``shards`` writing to ``output``; ``overrides`` win."""
    base: dict[str, Any] = dict(
        student="tiny-random",
        shards=str(shards),
        output=str(output),
        batch_size=4,
        max_new_tokens=8,
        max_steps=2,
        lr=1e-3,
        module_lr=1e-2,
        tensorboard=False,
        shuffle_buffer=16,
    )
    return DistillConfig(**{**base, **overrides})


def steady_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """The run's logged step records without the wall-clock figures (:data:`VOLATILE`)."""
    return [{k: v for k, v in r.items() if k not in VOLATILE} for r in read_metrics(run_dir)]
