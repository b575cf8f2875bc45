"""`cuekit export` and `cuekit export-student`: cues and students for other tools."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from cuekit.evaluate.config import ExportSettings
from cuekit.settings import build, click_options, resolve


@click.command("export")
@click_options(ExportSettings)
@click.pass_context
def export_command(ctx: click.Context, config_file: Path | None, **options: Any) -> None:
    """Export cues for verl-style trainers or as a Hugging Face dataset folder."""
    from cuekit.evaluate.export import run_export

    settings = build(ExportSettings, resolve([ExportSettings], ctx, options, config_file))
    written = run_export(
        settings.input,
        settings.output,
        settings.export_format,
        limit=settings.limit,
        style=settings.style,
    )
    click.echo(f"export ({settings.export_format}): wrote {', '.join(str(p) for p in written)}")


@click.command("export-student")
@click.argument("run", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option(
    "--output",
    "-o",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder for the weights, cue module, processor and README.",
)
@click.option("--overwrite", is_flag=True, help="Write into a non-empty --output.")
def export_student_command(run: Path, output: Path, overwrite: bool) -> None:
    """Package a distilled student (weights, cue module, config, README) from RUN."""
    from cuekit.evaluate.export import export_student

    folder = export_student(run, output, overwrite=overwrite)
    click.echo(f"export-student: {folder} (load with cuekit.distill.load_student)")
