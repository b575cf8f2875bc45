"""`cuekit compare`: two eval runs side by side, with a paired bootstrap interval."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import click

from cuekit.errors import ConfigError
from cuekit.evaluate.config import CompareSettings
from cuekit.settings import setting, settings_command

_RUN = click.Path(path_type=Path, file_okay=False, exists=True)


@dataclass(frozen=True)
class ComparedRuns:
    """The two eval output folders `cuekit compare` reads (its arguments)."""

    run_a: Path = setting(description="The baseline eval folder.", argument=True, click_type=_RUN)
    run_b: Path = setting(
        description="The eval folder compared with A.", argument=True, click_type=_RUN
    )


@dataclass(frozen=True)
class EvalCompare:
    """`eval --compare A B`: kept for existing scripts; `cuekit compare A B` is the command."""

    compare: tuple[Path, ...] | None = setting(
        None,
        "Compare two eval output folders A B on their shared samples instead "
        "(the same as `cuekit compare A B`).",
        nargs=2,
        click_type=_RUN,
    )

    def __post_init__(self) -> None:
        if self.compare is not None and len(self.compare) != 2:
            raise ConfigError(f"--compare takes two folders A B, got {len(self.compare)}")


def compare_and_report(
    run_a: Path, run_b: Path, output: Path | None, *, resamples: int, confidence: float, seed: int
) -> None:
    """Print the comparison of two eval output folders; write compare.json to ``output``."""
    from cuekit.evaluate.compare import compare_runs, format_comparison, write_comparison

    result = compare_runs(run_a, run_b, resamples=resamples, confidence=confidence, seed=seed)
    click.echo(format_comparison(result))
    if output is not None:
        click.echo(f"comparison written to {write_comparison(result, output)}")


@settings_command("compare", ComparedRuns, CompareSettings)
def compare_command(runs: ComparedRuns, settings: CompareSettings) -> None:
    """Compare two `cuekit eval` output folders A B on their shared samples (B - A)."""
    compare_and_report(
        runs.run_a,
        runs.run_b,
        settings.output,
        resamples=settings.resamples,
        confidence=settings.confidence,
        seed=settings.seed,
    )
