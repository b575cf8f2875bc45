"""Typed records of what a run produces: manifest rows, shard results, step metrics and
held-out evaluations.

They cross room boundaries (the shard writer to the shard driver to ``manifest.parquet``;
the distill step to the loop, the metrics log and the CLI), so each is a frozen
dataclass with its fields named once, not a dict with string keys. The parquet and JSON
forms are built from them (``as_dict``), and read back with ``from_dict``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


@dataclass(frozen=True)
class SampleStats:
    """What the shard stage knows of a sample before it is placed in a shard."""

    key: str
    image_bytes: int
    json_bytes: int
    hint_bytes: int
    n_images: int
    resized: bool
    cue_style: str
    leak: bool
    source: str
    split: str


@dataclass(frozen=True)
class ManifestRow:
    """One row of ``manifest.parquet`` (``MANIFEST_SCHEMA``): a sample and where it lies."""

    stats: SampleStats
    shard: str
    shard_index: int
    offset: int  # byte offset of the sample's first header in its shard
    bytes: int  # bytes the sample takes in the tar (headers + padding)

    def __post_init__(self) -> None:
        _require(
            self.shard_index >= 0 and self.offset >= 0 and self.bytes > 0,
            f"manifest row {self.stats.key!r}: shard_index and offset must be >= 0 and "
            f"bytes > 0, got {self.shard_index}, {self.offset}, {self.bytes}",
        )

    def as_dict(self) -> dict[str, Any]:
        """The flat parquet row: the placement, then the sample's stats."""
        stats = {f.name: getattr(self.stats, f.name) for f in fields(self.stats)}
        return {
            "key": stats.pop("key"),
            "shard": self.shard,
            "shard_index": self.shard_index,
            "offset": self.offset,
            "bytes": self.bytes,
            **stats,
        }


@dataclass(frozen=True)
class ShardResult:
    """A finished shard: written now, or reused from an earlier run (its resume record)."""

    shard: str
    shard_index: int
    samples: int
    size: int  # bytes of the tar
    sha256: str
    content_digest: str  # over the members' names, sizes and sha256s, known from the plan
    reused: bool = False

    def record(self) -> dict[str, Any]:
        """The resume record stored beside the shard (``.cuekit-shard/NAME.json``)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "reused"}

    @classmethod
    def from_record(cls, record: Mapping[str, Any], *, reused: bool) -> ShardResult:
        names = {f.name for f in fields(cls)} - {"reused"}
        return cls(**{k: record[k] for k in names}, reused=reused)

    def table_row(self) -> dict[str, Any]:
        """Its row of ``shards.parquet`` (``SHARDS_SCHEMA``)."""
        return {
            "shard": self.shard,
            "shard_index": self.shard_index,
            "samples": self.samples,
            "bytes": self.size,
            "sha256": self.sha256,
        }


@dataclass(frozen=True)
class EvalMetrics:
    """Distill's held-out check (``cuekit.distill.evaluation``); its ``eval_*`` fields join
    the step's line of ``metrics.jsonl`` under these names."""

    eval_reverse_kl: float  # per response token, teacher-forced on fixed greedy responses
    eval_accuracy: float  # greedy answers judged as ``cuekit eval`` judges them
    eval_samples: float  # samples evaluated (all ranks together)

    def as_dict(self) -> dict[str, float]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True, eq=False)
class StepMetrics(Mapping[str, Any]):
    """What one distill step did: one line of ``metrics.jsonl``.

    A read-only mapping too (``record["loss"]``, ``dict(record)``), so the log, TensorBoard
    and the CLI take it as the flat record they write. ``evaluation`` holds the held-out
    ``eval_*`` figures of the steps that ran the evaluation; they join the flat view.
    """

    step: int
    loss: float
    reverse_kl: float
    student_lp: float
    teacher_lp: float
    clip_frac: float
    grad_norm: float
    skipped_update: int  # 1: a non-finite loss or gradient, the update was dropped
    nonfinite_steps: int  # such steps so far in the run
    response_len: float  # mean response tokens per rollout
    response_tokens: int
    rollouts: int
    skipped_long_prompts: int  # prompts over --max-prompt-len so far (never truncated)
    time_rollout: float
    time_teacher: float
    time_student: float
    time_optimizer: float
    tokens_per_s: float
    peak_mem_mb: float
    lr: float
    module_lr: float
    evaluation: Mapping[str, float] = field(default_factory=dict)

    def with_evaluation(self, evaluation: Mapping[str, float]) -> StepMetrics:
        return replace(self, evaluation={**self.evaluation, **evaluation})

    def as_dict(self) -> dict[str, Any]:
        flat = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "evaluation"}
        flat.update(self.evaluation)
        return flat

    def __getitem__(self, key: str) -> Any:
        return self.as_dict()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.as_dict())

    def __len__(self) -> int:
        return len(self.as_dict())
