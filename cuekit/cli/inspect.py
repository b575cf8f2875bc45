"""`cuekit inspect`: print one sample of a shard, optionally drawing its detections."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("inspect")
@click.argument("location")
@click.option("--key", "-k", default=None, help="Sample key [default: the first sample].")
@click.option(
    "--render",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Save the image with its detections drawn to this file (e.g. out.png).",
)
@click.option(
    "--image-index",
    default=0,
    show_default=True,
    type=int,
    help="Which image of the sample to render.",
)
def inspect_command(location: str, key: str | None, render: Path | None, image_index: int) -> None:
    """Print a sample (question, answer, phrases, detections, hint) from a shard or folder."""
    from cuekit.pipelines.shard.inspect import format_sample, load_sample, render_detections

    fields = load_sample(location, key)
    click.echo(format_sample(fields))
    if render is not None:
        out = render_detections(fields, render, image_index)
        click.echo(f"rendered: {out}")
