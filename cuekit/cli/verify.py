"""`cuekit verify`: check shards against their manifest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from cuekit.pipelines.shard.settings import VerifySettings
from cuekit.settings import build, click_options, resolve


@click.command("verify")
@click_options(VerifySettings)
@click.pass_context
def verify_command(ctx: click.Context, config_file: Path | None, **options: Any) -> None:
    """Check shards (a shard folder, paths, URLs, brace patterns or globs); exit 1 on any fault."""
    from cuekit.pipelines.shard.verify import verify

    settings = build(VerifySettings, resolve([VerifySettings], ctx, options, config_file))
    location = settings.location
    report = verify(
        location[0] if len(location) == 1 else list(location),
        check_images=not settings.no_image_hashes,
    )
    click.echo(report.format())
    if not report.ok:
        raise SystemExit(1)
