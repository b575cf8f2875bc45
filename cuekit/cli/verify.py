"""`cuekit verify`: check shards against their manifest."""

from __future__ import annotations

import click

from cuekit.pipelines.shard.settings import VerifySettings
from cuekit.settings import settings_command


@settings_command("verify", VerifySettings)
def verify_command(settings: VerifySettings) -> None:
    """Check shards (a shard folder, paths, URLs, brace patterns or globs); exit 1 on any fault."""
    from cuekit.pipelines.shard.verify import verify

    location = settings.location
    report = verify(
        location[0] if len(location) == 1 else list(location),
        check_images=not settings.no_image_hashes,
    )
    click.echo(report.format())
    if not report.ok:
        raise SystemExit(1)
