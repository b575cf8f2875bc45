"""`cuekit audit`: leakage, coverage and (with a teacher) cue advantage of every cue."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from cuekit.cli.common import prompt_style_options
from cuekit.devices import DTYPES


@click.command("audit")
@click.option("--input", "-i", "input_path", required=True,
              help="A `cuekit extract` folder, a `cuekit shard` folder, a brace pattern or URLs.")
@click.option("--output", "-o", required=True, type=click.Path(path_type=Path, file_okay=False),
              help="Folder for audit.parquet, summary.json and the PNG plots.")
@click.option("--teacher", default=None, envvar="CUEKIT_TEACHER",
              help="Teacher for the cue advantage (alias, hub id, folder, run or tiny-random).")
@click.option("--responses", default=None,
              type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="Score these responses (parquet/jsonl with id, response; e.g. an eval "
                   "predictions.parquet) instead of the reference answers.")
@click.option("--batch-size", default=8, show_default=True, type=int,
              help="Samples per teacher forward.")
@click.option("--limit", default=None, type=int, help="Audit only the first N samples.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:1...")
@click.option("--dtype", type=click.Choice(DTYPES), default="auto",
              show_default=True, help="auto: bf16 on GPU, fp32 on CPU.")
@click.option("--plots/--no-plots", default=True, show_default=True, help="Write PNG plots.")
@prompt_style_options
def audit_command(input_path: str, output: Path, teacher: str | None, responses: Path | None,
                  batch_size: int, limit: int | None, device: str, dtype: str,
                  plots: bool, system_prompt: str | None, instruction: str | None) -> None:
    """Measure each cue: answer leakage, phrase coverage, and the teacher's cue advantage."""
    from cuekit.distill.prompts import PromptStyle
    from cuekit.evaluate.audit import AuditConfig, run_audit

    if responses is not None and teacher is None:
        raise click.UsageError("--responses needs --teacher")
    if batch_size < 1:
        raise click.BadParameter("must be >= 1", param_hint="--batch-size")
    summary = run_audit(AuditConfig(input=input_path, output=output, teacher=teacher,
                                    responses=responses, batch_size=batch_size, limit=limit,
                                    device=device, dtype=dtype, plots=plots,
                                    style=PromptStyle(system_prompt, instruction)))
    click.echo(format_audit(summary))
    click.echo(f"audit written to {output}")


def _fmt(stats: dict[str, Any] | None, key: str, spec: str = ".2f") -> str:
    return "n/a" if not stats else format(stats[key], spec)


def format_audit(summary: dict[str, Any]) -> str:
    """A few lines a person can read at a glance."""
    leak, cov = summary["leakage"], summary["coverage"]
    kinds = ", ".join(f"{k} {v}" for k, v in leak["by_kind"].items()) or "none"
    lines = [
        f"audit: {summary['samples']} samples",
        f"leakage: {leak['leaky']}/{leak['checked']} cues give the answer away "
        f"({leak['rate']:.1%}; {kinds})",
        f"coverage: {cov['phrases_per_sample']:.2f} phrases/sample, "
        f"{_fmt(cov['phrase_coverage'], 'mean', '.1%')} grounded on average, "
        f"{_fmt(cov['detections_per_sample'], 'mean', '.1f')} detections/sample, "
        f"median score {_fmt(cov['scores'], 'median')}",
    ]
    for example in leak["examples"][:3]:
        lines.append(f"  leak {example['id']}: answer {example['answer']!r} as "
                     f"{example['kind']} {example['match']!r}")
    adv = summary["advantage"]
    if adv is not None:
        lines.append(
            f"cue advantage ({summary['teacher']}, target {summary['target']}): "
            f"{_fmt(adv['per_sample'], 'mean', '+.3f')} nats/sample, "
            f"{_fmt(adv['per_token'], 'mean', '+.4f')} nats/token, "
            f"{adv['positive_rate'] or 0:.0%} of samples helped")
    if summary["plots"]:
        lines.append(f"plots: {', '.join(summary['plots'])}")
    return "\n".join(lines)
