"""`cuekit export` and `cuekit export-student`: cues and students for other tools."""

from __future__ import annotations

from pathlib import Path

import click

from cuekit.cli.common import prompt_style_options

EXPORT_FORMATS = ("verl", "hf")  # cuekit.evaluate.export.EXPORT_FORMATS, kept import-free


@click.command("export")
@click.option("--input", "-i", "input_path", required=True,
              help="A `cuekit extract` folder, a `cuekit shard` folder, a brace pattern or URLs.")
@click.option("--output", "-o", required=True, type=click.Path(path_type=Path, file_okay=False),
              help="Output folder.")
@click.option("--format", "export_format", type=click.Choice(EXPORT_FORMATS), required=True,
              help="verl: train.parquet with prompt/teacher_prompt/images/reward_model rows; "
                   "hf: a folder datasets.load_dataset reads (Image feature + cue columns).")
@click.option("--limit", default=None, type=int, help="Export only the first N samples.")
@prompt_style_options
def export_command(input_path: str, output: Path, export_format: str, limit: int | None,
                   system_prompt: str | None, instruction: str | None) -> None:
    """Export cues for verl-style trainers or as a Hugging Face dataset folder."""
    from cuekit.distill.prompts import PromptStyle
    from cuekit.evaluate.export import run_export

    written = run_export(input_path, output, export_format, limit=limit,
                         style=PromptStyle(system_prompt, instruction))
    click.echo(f"export ({export_format}): wrote {', '.join(str(p) for p in written)}")


@click.command("export-student")
@click.argument("run", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option("--output", "-o", required=True, type=click.Path(path_type=Path, file_okay=False),
              help="Folder for the weights, cue module, processor and README.")
@click.option("--overwrite", is_flag=True, help="Write into a non-empty --output.")
def export_student_command(run: Path, output: Path, overwrite: bool) -> None:
    """Package a distilled student (weights, cue module, config, README) from RUN."""
    from cuekit.evaluate.export import export_student

    folder = export_student(run, output, overwrite=overwrite)
    click.echo(f"export-student: {folder} (load with cuekit.distill.load_student)")
