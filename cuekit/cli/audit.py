"""`cuekit audit`: leakage, coverage and (with a teacher) cue advantage of every cue."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click

from cuekit.evaluate.config import AuditConfig
from cuekit.settings import settings_command


@settings_command("audit", AuditConfig)
def audit_command(config: AuditConfig) -> None:
    """Measure each cue: answer leakage, phrase coverage, and the teacher's cue advantage."""
    from cuekit.evaluate.audit import run_audit

    summary = run_audit(config)
    click.echo(format_audit(summary))
    click.echo(f"audit written to {config.output}")


def _fmt(stats: dict[str, Any] | None, key: str, spec: str = ".2f") -> str:
    return "n/a" if not stats else format(stats[key], spec)


def format_audit(summary: Mapping[str, Any]) -> str:
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
        lines.append(
            f"  leak {example['id']}: answer {example['answer']!r} as "
            f"{example['kind']} {example['match']!r}"
        )
    adv = summary["advantage"]
    if adv is not None:
        lines.append(
            f"cue advantage ({summary['teacher']}, target {summary['target']}): "
            f"{_fmt(adv['per_sample'], 'mean', '+.3f')} nats/sample, "
            f"{_fmt(adv['per_token'], 'mean', '+.4f')} nats/token, "
            f"{adv['positive_rate'] or 0:.0%} of samples helped"
        )
    if summary["plots"]:
        lines.append(f"plots: {', '.join(summary['plots'])}")
    return "\n".join(lines)
