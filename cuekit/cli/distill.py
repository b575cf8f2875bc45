"""`cuekit distill`: train a student against a cue-privileged teacher.

The options are generated from :class:`cuekit.distill.config.DistillConfig`, so the
command line and the YAML config file always accept the same settings.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TYPE_CHECKING, Any

import click

from cuekit.distill.config import DistillConfig
from cuekit.settings import settings_command

if TYPE_CHECKING:
    from cuekit.schemas import StepMetrics


@settings_command("distill", DistillConfig)
def distill_command(config: DistillConfig) -> None:
    """Train a student (with its cue recovery module) against a cue-privileged teacher."""
    from cuekit.distill.recipe import run_distill

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    bar = StepProgress(config.max_steps)
    try:
        records = run_distill(config, progress=bar.update_record)
    finally:
        bar.close()
    if records and int(os.environ.get("RANK", "0")) == 0:  # one summary per job
        click.echo(_summary(config, records))


def _summary(config: Any, records: list[StepMetrics]) -> str:
    """One line: steps, the held-out KL path when evaluated (else the training estimate)."""
    from cuekit.distill.metrics import read_metrics

    evals = [r for r in read_metrics(config.run_dir) if "eval_reverse_kl" in r]
    if evals:
        path = " -> ".join(f"{r['eval_reverse_kl']:.5f} (step {r['step']})" for r in evals)
        kl = f"held-out reverse KL {path}"
    else:
        kl = (
            f"training reverse-KL estimate {records[0].reverse_kl:.4f} -> "
            f"{records[-1].reverse_kl:.4f}"
        )
    return f"distill: {records[-1].step} steps; {kl}; student saved to {config.run_dir / 'student'}"


class StepProgress:
    """A tqdm bar with the live loss and KL on a terminal; one log line per step otherwise."""

    def __init__(self, total: int) -> None:
        self._bar = None
        if sys.stderr.isatty():
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, desc="distill", unit="step", dynamic_ncols=True)

    def update_record(self, record: StepMetrics) -> None:
        text = f"loss {record.loss:.4f} kl {record.reverse_kl:.4f}"
        if self._bar is not None:
            self._bar.n = record.step
            self._bar.set_postfix_str(text)
        else:
            logging.getLogger("cuekit.distill").info(
                "step %d: %s, %.1f tok/s", record.step, text, record.tokens_per_s
            )

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
