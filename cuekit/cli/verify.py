"""`cuekit verify`: check shards against their manifest."""

from __future__ import annotations

import click


@click.command("verify")
@click.argument("location", nargs=-1, required=True)
@click.option(
    "--no-image-hashes",
    is_flag=True,
    help="Skip hashing image bytes against the sha256 in each json.",
)
def verify_command(location: tuple[str, ...], no_image_hashes: bool) -> None:
    """Check shards (a shard folder, paths, URLs, brace patterns or globs); exit 1 on any fault."""
    from cuekit.pipelines.shard.verify import verify

    target = location[0] if len(location) == 1 else list(location)
    report = verify(target, check_images=not no_image_hashes)
    click.echo(report.format())
    if not report.ok:
        raise SystemExit(1)
