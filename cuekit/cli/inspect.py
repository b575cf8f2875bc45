"""`cuekit inspect`: print one sample of a shard, optionally drawing its detections."""

from __future__ import annotations

import click

from cuekit.pipelines.shard.settings import InspectSettings
from cuekit.settings import settings_command


@settings_command("inspect", InspectSettings)
def inspect_command(settings: InspectSettings) -> None:
    """Print a sample (question, answer, phrases, detections, hint) from a shard or folder."""
    from cuekit.pipelines.shard.inspect import format_sample, load_sample, render_detections

    fields = load_sample(settings.location, settings.key)
    click.echo(format_sample(fields))
    if settings.render is not None:
        out = render_detections(fields, settings.render, settings.image_index)
        click.echo(f"rendered: {out}")
