"""`cuekit compare`: two eval runs side by side, with a paired bootstrap interval."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click


def compare_and_report(run_a: Path, run_b: Path, output: Path | None, *, resamples: int,
                       confidence: float, seed: int) -> None:
    """Print the comparison of two eval output folders; write compare.json to ``output``."""
    from cuekit.evaluate.compare import compare_runs, format_comparison, write_comparison

    result = compare_runs(run_a, run_b, resamples=resamples, confidence=confidence, seed=seed)
    click.echo(format_comparison(result))
    if output is not None:
        click.echo(f"comparison written to {write_comparison(result, output)}")


def bootstrap_options(command: Any) -> Any:
    """``--resamples`` and ``--confidence`` of the paired bootstrap (compare, eval)."""
    command = click.option("--confidence", default=0.95, show_default=True, type=float,
                           help="Confidence level of the comparison's interval.")(command)
    return click.option("--resamples", default=10_000, show_default=True, type=int,
                        help="Bootstrap resamples of the comparison.")(command)


@click.command("compare")
@click.argument("run_a", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.argument("run_b", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option("--output", "-o", type=click.Path(path_type=Path, file_okay=False),
              help="Folder for compare.json.")
@bootstrap_options
@click.option("--seed", default=0, show_default=True, type=int, help="Bootstrap seed.")
def compare_command(run_a: Path, run_b: Path, output: Path | None, resamples: int,
                    confidence: float, seed: int) -> None:
    """Compare two `cuekit eval` output folders A B on their shared samples (B - A)."""
    compare_and_report(run_a, run_b, output, resamples=resamples, confidence=confidence,
                       seed=seed)
