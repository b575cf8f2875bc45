"""Typed records of what a run produces: manifest rows, shard results, step metrics,
held-out evaluations, and the eval and audit summaries.

They cross room boundaries (the shard writer to the shard driver to ``manifest.parquet``;
the distill step to the loop, the metrics log and the CLI; eval and audit to the CLI and
``summary.json``), so each is a frozen dataclass with its fields named once, not a dict
with string keys. The parquet and JSON forms are built from them (``as_dict``), and read
back with ``from_dict``.
"""

from __future__ import annotations

import functools
import math
import statistics
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, ClassVar


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


class _JsonView(Mapping[str, Any]):
    """A read-only mapping view of a dataclass record's JSON form (``as_dict``), so code
    that reads the written file (``record["accuracy"]``) and code that holds the record
    agree. The JSON fields of an ``inline`` field stand at the record's own top level."""

    __dataclass_fields__: ClassVar[dict[str, Any]]
    inline: ClassVar[tuple[str, ...]] = ()

    def as_dict(self) -> dict[str, Any]:
        flat: dict[str, Any] = {}
        for name, value in asdict(self).items():
            if name not in self.inline:
                flat[name] = value
                continue
            part = getattr(self, name)  # a view flattens itself (its own inline fields)
            flat.update(part.as_dict() if isinstance(part, _JsonView) else value)
        return flat

    @functools.cached_property
    def _view(self) -> dict[str, Any]:
        # Built once: the record is frozen, and dict(record) reads every key.
        return self.as_dict()

    def __getitem__(self, key: str) -> Any:
        return self._view[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._view)

    def __len__(self) -> int:
        return len(self._view)


@dataclass(frozen=True, eq=False)
class StageCounts(_JsonView):
    """How a stage's input rows ended (``counts`` in extract's run.json): each one either
    in the output (``ok``) or in the errors table, so ``input == ok + errors``."""

    input: int
    ok: int
    errors: int
    leaky: int = 0  # extract: kept cues that give the answer away (0 with --drop-leaky)

    def __post_init__(self) -> None:
        if self.input != self.ok + self.errors:
            raise ValueError(
                f"counts do not reconcile: {self.input} input rows, {self.ok} ok + "
                f"{self.errors} errors"
            )


@dataclass(frozen=True, eq=False)
class StepMetrics(_JsonView):
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


@dataclass(frozen=True)
class Distribution:
    """Count, mean and quantiles of some numbers (a ``summary.json`` block)."""

    count: int
    mean: float
    min: float
    p10: float
    median: float
    p90: float
    max: float

    @classmethod
    def of(cls, values: Iterable[float | None]) -> Distribution | None:
        """Of the values that are numbers (None and nan left out); None when there are none."""
        data = sorted(v for v in values if v is not None and not math.isnan(v))
        if not data:
            return None
        quantiles = (
            statistics.quantiles(data, n=10, method="inclusive") if len(data) > 1 else [data[0]] * 9
        )
        return cls(
            len(data),
            statistics.fmean(data),
            data[0],
            quantiles[0],
            statistics.median(data),
            quantiles[8],
            data[-1],
        )


# ---------------------------------------------------------------- cuekit eval


@dataclass(frozen=True)
class AccuracyCounts:
    """Scored samples of one source (or all): a no-answer counts as wrong in ``accuracy``."""

    samples: int
    correct: int
    wrong: int
    no_answer: int
    accuracy: float


@dataclass(frozen=True, eq=False)
class EvalScores(_JsonView):
    """What the predictions score (:func:`cuekit.evaluate.eval.summarize`); in JSON the
    overall counts stand at the top level, beside ``per_source``."""

    overall: AccuracyCounts
    unscored: int  # samples without a reference answer
    per_source: dict[str, AccuracyCounts]
    methods: dict[str, int]  # predictions per answer-extraction rule
    unfinished: int  # responses that hit --max-new-tokens
    mean_response_tokens: float
    inline: ClassVar[tuple[str, ...]] = ("overall",)


@dataclass(frozen=True, eq=False)
class EvalSummary(_JsonView):
    """``cuekit eval``'s ``summary.json``: the run, its scores, skipped rows and timings."""

    model: str
    loaded: str  # what was loaded: the student folder of a run, or the model's name
    input: str | None  # --shards or --dataset
    privilege: str
    scores: EvalScores
    skipped_rows: int
    skipped_examples: list[str]
    time_load_s: float
    time_generate_s: float
    new_tokens_per_s: float
    config: dict[str, Any]
    inline: ClassVar[tuple[str, ...]] = ("scores",)


# ---------------------------------------------------------------- cuekit audit


@dataclass(frozen=True)
class LeakExample:
    """A cue that gives its answer away: how (``kind``), by what text, and where."""

    id: str
    answer: str | None
    kind: str | None
    match: str | None
    cue: str  # an excerpt of the cue around the match


@dataclass(frozen=True)
class LeakageSummary:
    checked: int  # cues of samples with a reference answer
    leaky: int
    rate: float
    by_kind: dict[str, int]
    recorded_by_extract: int  # leaks the extract stage had already flagged
    examples: list[LeakExample]


@dataclass(frozen=True)
class CoverageSummary:
    phrases_per_sample: float
    phrase_coverage: Distribution | None  # fraction of a sample's phrases grounded
    fully_grounded_rate: float | None
    samples_without_phrases: int
    detections_per_sample: Distribution | None
    samples_without_detections: int
    scores: Distribution | None  # detection scores
    backends: dict[str, int]  # detections per backend


@dataclass(frozen=True)
class AdvantageSummary:
    """The teacher's cue advantage, log p(target | cue) - log p(target), over samples."""

    samples: int
    per_sample: Distribution | None
    per_token: Distribution | None
    positive_rate: float | None
    most_informative: list[str]  # sample ids, the largest advantage first
    least_informative: list[str]


@dataclass(frozen=True, eq=False)
class AuditScores(_JsonView):
    """What the cues measure (:func:`cuekit.evaluate.audit.summarize_audit`)."""

    samples: int
    leakage: LeakageSummary
    coverage: CoverageSummary
    advantage: AdvantageSummary | None  # None without a teacher


@dataclass(frozen=True, eq=False)
class AuditSummary(_JsonView):
    """``cuekit audit``'s ``summary.json``: the run, its scores, the plots written."""

    input: str
    teacher: str | None
    target: str | None  # what the advantage scores: "answer" or "responses"
    scores: AuditScores
    plots: list[str]
    inline: ClassVar[tuple[str, ...]] = ("scores",)
