"""Stops for training runs that would otherwise loop or diverge without saying so.

- :class:`NonFiniteGuard`: a step whose loss or gradient norm is inf/NaN is skipped (no
  optimizer update, so the weights stay finite) and counted; ``limit`` such steps in a
  row stop the run, naming the likely cause.
- :class:`UsableBatchGuard`: when prompts are skipped (longer than ``--max-prompt-len``)
  a batch may yield nothing to train on; a whole epoch's worth of such batches in a row
  would repeat forever, so it stops the run.
"""

from __future__ import annotations

import logging
import math

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
                "teacher; the last checkpoint is intact")
        logger.warning("step %d: non-finite loss %s or grad norm %s: update skipped (%d in a "
                       "row, %d in all)", step, loss, grad_norm, self.streak, self.total)


class UsableBatchGuard:
    """Raises when ``per_epoch`` batches in a row had no prompt to train on."""

    def __init__(self, per_epoch: int, max_prompt_len: int) -> None:
        self.per_epoch = per_epoch
        self.max_prompt_len = max_prompt_len
        self.unusable = 0

    def update(self, usable: bool) -> None:
        if usable:
            self.unusable = 0
            return
        self.unusable += 1
        if self.unusable >= self.per_epoch:
            raise CuekitError(
                f"no usable batch in {self.unusable} batches in a row (a whole epoch): every "
                f"prompt is longer than --max-prompt-len {self.max_prompt_len} tokens. Raise "
                "--max-prompt-len, or shorten the questions or images")
