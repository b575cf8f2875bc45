"""Stops for training runs that would otherwise loop or diverge without saying so.

- :class:`NonFiniteGuard`: a step whose loss or gradient norm is inf/NaN is skipped (no
  optimizer update, so the weights stay finite) and counted; ``limit`` such steps in a
  row stop the run, naming the likely cause.
- :class:`UsableBatchGuard`: when prompts are skipped (longer than ``--max-prompt-len``)
  a batch may yield nothing to train on; an epoch of nothing but such batches would
  repeat forever, so it stops the run.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

from cuekit.errors import CuekitError

logger = logging.getLogger("cuekit.distill")


class NonFiniteGuard:
    """Counts skipped non-finite steps: ``streak`` in a row, ``total`` over the run."""

    def __init__(self, limit: int, total: int = 0) -> None:
        self.limit = limit
        self.total = total
        self.streak = 0

    @staticmethod
    def is_bad(loss: float, grad_norm: float) -> bool:
        return not (math.isfinite(loss) and math.isfinite(grad_norm))

    def update(self, step: int, bad: bool, *, loss: float, grad_norm: float) -> None:
        """Record step ``step``'s verdict; raise once ``limit`` bad steps come in a row."""
        if not bad:
            self.streak = 0
            return
        self.streak += 1
        self.total += 1
        if self.streak >= self.limit:
            raise CuekitError(
                f"step {step}: {self.streak} steps in a row had a non-finite loss or gradient "
                f"(loss {loss}, grad norm {grad_norm}); each was skipped, and the run stops "
                "here. Lower --lr / --module-lr, keep --max-grad-norm on, or check the "
                "teacher; the last checkpoint is intact"
            )
        logger.warning(
            "step %d: non-finite loss %s or grad norm %s: update skipped (%d in a row, %d in all)",
            step,
            loss,
            grad_norm,
            self.streak,
            self.total,
        )


class UsableBatchGuard:
    """Raises when every batch of a whole epoch had no prompt to train on.

    ``per_epoch(epoch)`` is the number of batches the epoch holds. An epoch this process
    saw only part of (a resume mid-epoch) never triggers it."""

    def __init__(self, per_epoch: Callable[[int], int], max_prompt_len: int) -> None:
        self.per_epoch = per_epoch
        self.max_prompt_len = max_prompt_len
        self.epoch: int | None = None
        self.seen = self.used = self.size = 0

    def update(self, epoch: int, usable: bool) -> None:
        if epoch != self.epoch:
            self.epoch, self.seen, self.used = epoch, 0, 0
            self.size = self.per_epoch(epoch)
        self.seen += 1
        self.used += usable
        if self.seen >= self.size and not self.used:
            raise CuekitError(
                f"epoch {epoch} yielded no usable batch ({self.seen} batches): every prompt "
                f"is longer than --max-prompt-len {self.max_prompt_len} tokens. Raise "
                "--max-prompt-len, or shorten the questions or images"
            )
