"""`cuekit extract` and `cuekit merge`: ground each question in its image and render cues."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import click

from cuekit.pipelines.extract.settings import ExtractSettings, MergeSettings
from cuekit.settings import build, click_options, resolve


@click.command("extract")
@click_options(ExtractSettings)
@click.pass_context
def extract_command(ctx: click.Context, config_file: Path | None, **options: Any) -> None:
    """Parse each question into phrases, ground them, and render cue text for the teacher."""
    from cuekit.pipelines.extract.run import run_extract
    from cuekit.pipelines.health import failure_report

    settings = build(ExtractSettings, resolve([ExtractSettings], ctx, options, config_file))
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    result = run_extract(settings.to_config())
    click.echo(result.summary())
    if result.counts is None:  # other ranks still running: the merging rank checks
        return
    problem = failure_report(settings.output, result.counts, max_error_rate=settings.max_error_rate)
    if problem is None:
        return
    if settings.tolerate_errors and result.counts["ok"] > 0:
        click.echo(f"warning: {problem}", err=True)
        return
    raise click.ClickException(problem)


@click.command("merge")
@click_options(MergeSettings)
@click.pass_context
def merge_command(ctx: click.Context, **options: Any) -> None:
    """Merge the per-rank parts of an extract run into its final tables."""
    from cuekit.pipelines.extract.parts import merge_parts, rank_markers

    output = build(MergeSettings, resolve([MergeSettings], ctx, options)).output

    if not rank_markers(output):
        raise click.ClickException(f"{output}: no finished extract parts to merge")
    counts = merge_parts(output, {"stage": "extract", "merged_by": "cuekit merge"})
    click.echo(
        f"merge: {counts['input']} samples -> {counts['ok']} cues, "
        f"{counts['errors']} errors -> {output}"
    )
