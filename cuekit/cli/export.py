"""`cuekit export` and `cuekit export-student`: cues and students for other tools."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import click

from cuekit.evaluate.config import ExportSettings
from cuekit.settings import setting, settings_command


@settings_command("export", ExportSettings)
def export_command(settings: ExportSettings) -> None:
    """Export cues for verl-style trainers or as a Hugging Face dataset folder."""
    from cuekit.evaluate.export import run_export

    written = run_export(
        settings.input,
        settings.output,
        settings.export_format,
        limit=settings.limit,
        style=settings.style,
    )
    click.echo(f"export ({settings.export_format}): wrote {', '.join(str(p) for p in written)}")


@dataclass(frozen=True)
class ExportStudentSettings:
    """What `cuekit export-student` accepts."""

    run: Path = setting(
        description="Output folder of `cuekit distill`.",
        argument=True,
        click_type=click.Path(path_type=Path, file_okay=False, exists=True),
    )
    output: Path = setting(
        description="Folder for the weights, cue module, processor and README.",
        short="-o",
        click_type=click.Path(path_type=Path, file_okay=False),
    )
    overwrite: bool = setting(False, "Write into a non-empty --output.")


@settings_command("export-student", ExportStudentSettings)
def export_student_command(settings: ExportStudentSettings) -> None:
    """Package a distilled student (weights, cue module, config, README) from RUN."""
    from cuekit.evaluate.export import export_student

    folder = export_student(settings.run, settings.output, overwrite=settings.overwrite)
    click.echo(f"export-student: {folder} (load with cuekit.distill.load_student)")
