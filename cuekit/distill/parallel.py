"""The one seam between a distill step and the other ranks.

A step under torchrun must agree with the other ranks on a few things: whether to skip
the step (they share the sharded collectives), the number of response tokens the loss
is normalised by, how many micro-batches to run, whether the update is finite, and the
figures it logs. :class:`Parallel` asks them; in one process every method returns its
input, and no collective runs. The FSDP2 sharding, checkpoint gathering and RNG
bookkeeping live in :mod:`cuekit.distill.distributed`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cuekit.distill import distributed as dd
from cuekit.schemas.runs import EvalMetrics


@dataclass(frozen=True)
class StepTotals:
    """The figures of one step that are summed (or maxed) over ranks before logging."""

    metrics: dict[str, float]  # the loss's metrics, summed by token share
    response_len: float  # mean response tokens per rollout
    rollouts: int
    skipped_long: int  # prompts over --max-prompt-len so far
    elapsed: float  # seconds of the step (the slowest rank)
    peak_mem_mb: float


@dataclass(frozen=True)
class Parallel:
    """Collectives of one step; the identity in one process."""

    info: dd.DistInfo = dd.SINGLE

    @property
    def is_distributed(self) -> bool:
        return self.info.is_distributed

    @property
    def world_size(self) -> int:
        return self.info.world_size

    def any(self, flag: bool) -> bool:
        """True on every rank when it is True on one (ranks skip together)."""
        return bool(dd.all_reduce([flag], "max")[0]) if self.is_distributed else flag

    def total(self, value: int) -> int:
        """The sum over ranks of an integer count."""
        return int(dd.all_reduce([value])[0]) if self.is_distributed else value

    def micro_batches(self, chunks: list[list[int]]) -> list[tuple[list[int], float]]:
        """``(rows, loss weight)`` per micro-batch.

        FSDP averages gradients over ranks, so each loss is weighted by the world size to
        make them a sum. Ranks may hold different row counts (long prompts are skipped per
        rank), so all run the largest micro-batch count: a rank with fewer repeats its
        last micro-batch with weight 0 (every rank must run the same sharded forwards)."""
        if not self.is_distributed:
            return [(rows, 1.0) for rows in chunks]
        count = int(dd.all_reduce([len(chunks)], "max")[0])
        weight = float(self.world_size)
        return [(rows, weight) for rows in chunks] + [(chunks[-1], 0.0)] * (count - len(chunks))

    def full(self, value: Any) -> Any:
        """A sharded tensor's full value (e.g. the clipped gradient norm)."""
        return dd.full_value(value)

    def step_totals(self, local: StepTotals, length_sum: float) -> StepTotals:
        """Global figures: sums over ranks, and the slowest rank's time and memory.
        ``length_sum`` is this rank's total response tokens (for the global mean)."""
        if not self.is_distributed:
            return local
        keys = sorted(local.metrics)
        *sums, lengths, rows, skipped = dd.all_reduce(
            [*(local.metrics[k] for k in keys), length_sum, local.rollouts, local.skipped_long]
        )
        elapsed, peak = dd.all_reduce([local.elapsed, local.peak_mem_mb], "max")
        return StepTotals(
            metrics=dict(zip(keys, sums, strict=True)),
            response_len=lengths / max(rows, 1),
            rollouts=int(rows),
            skipped_long=int(skipped),
            elapsed=elapsed,
            peak_mem_mb=peak,
        )

    def mean_metrics(self, result: EvalMetrics) -> EvalMetrics:
        """Held-out metrics averaged over ranks (each evaluates its own equal split);
        ``eval_samples`` is summed."""
        if not self.is_distributed:
            return result
        kl, accuracy, samples = dd.all_reduce(
            [result.eval_reverse_kl, result.eval_accuracy, result.eval_samples]
        )
        return EvalMetrics(
            eval_reverse_kl=kl / self.world_size,
            eval_accuracy=accuracy / self.world_size,
            eval_samples=samples,
        )
