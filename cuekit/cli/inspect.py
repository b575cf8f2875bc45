"""`cuekit inspect`: print one sample of a shard, optionally drawing its detections."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from cuekit.pipelines.shard.settings import InspectSettings
from cuekit.settings import build, click_options, resolve


@click.command("inspect")
@click_options(InspectSettings)
@click.pass_context
def inspect_command(ctx: click.Context, config_file: Path | None, **options: Any) -> None:
    """Print a sample (question, answer, phrases, detections, hint) from a shard or folder."""
    from cuekit.pipelines.shard.inspect import format_sample, load_sample, render_detections

    settings = build(InspectSettings, resolve([InspectSettings], ctx, options, config_file))
    fields = load_sample(settings.location, settings.key)
    click.echo(format_sample(fields))
    if settings.render is not None:
        out = render_detections(fields, settings.render, settings.image_index)
        click.echo(f"rendered: {out}")
