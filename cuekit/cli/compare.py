"""`cuekit compare`: two eval runs side by side, with a paired bootstrap interval."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from cuekit.evaluate.config import CompareSettings
from cuekit.settings import build, click_options, resolve


def compare_and_report(
    run_a: Path, run_b: Path, output: Path | None, *, resamples: int, confidence: float, seed: int
) -> None:
    """Print the comparison of two eval output folders; write compare.json to ``output``."""
    from cuekit.evaluate.compare import compare_runs, format_comparison, write_comparison

    result = compare_runs(run_a, run_b, resamples=resamples, confidence=confidence, seed=seed)
    click.echo(format_comparison(result))
    if output is not None:
        click.echo(f"comparison written to {write_comparison(result, output)}")


@click.command("compare")
@click.argument("run_a", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.argument("run_b", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click_options(CompareSettings)
@click.pass_context
def compare_command(
    ctx: click.Context, run_a: Path, run_b: Path, config_file: Path | None, **options: Any
) -> None:
    """Compare two `cuekit eval` output folders A B on their shared samples (B - A)."""
    settings = build(CompareSettings, resolve([CompareSettings], ctx, options, config_file))
    compare_and_report(
        run_a,
        run_b,
        settings.output,
        resamples=settings.resamples,
        confidence=settings.confidence,
        seed=settings.seed,
    )
