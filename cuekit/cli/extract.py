"""`cuekit extract` and `cuekit merge`: ground each question in its image and render cues."""

from __future__ import annotations

import logging

import click

from cuekit.pipelines.extract.settings import ExtractSettings, MergeSettings
from cuekit.settings import settings_command


@settings_command("extract", ExtractSettings)
def extract_command(settings: ExtractSettings) -> None:
    """Parse each question into phrases, ground them, and render cue text for the teacher."""
    from cuekit.pipelines.extract.run import run_extract
    from cuekit.pipelines.health import failure_report

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    result = run_extract(settings.to_config())
    click.echo(result.summary())
    if result.counts is None:  # other ranks still running: the merging rank checks
        return
    problem = failure_report(settings.output, result.counts, max_error_rate=settings.max_error_rate)
    if problem is None:
        return
    if settings.tolerate_errors and result.counts.ok > 0:
        click.echo(f"warning: {problem}", err=True)
        return
    raise click.ClickException(problem)


@settings_command("merge", MergeSettings)
def merge_command(settings: MergeSettings) -> None:
    """Merge the per-rank parts of an extract run into its final tables."""
    from cuekit.pipelines.extract.parts import merge_parts, rank_markers

    output = settings.output
    if not rank_markers(output):
        raise click.ClickException(f"{output}: no finished extract parts to merge")
    counts = merge_parts(output, {"stage": "extract", "merged_by": "cuekit merge"})
    click.echo(
        f"merge: {counts.input} samples -> {counts.ok} cues, {counts.errors} errors -> {output}"
    )
