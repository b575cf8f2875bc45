"""`cuekit shard`: write WebDataset shards from an extract folder."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import click

from cuekit.pipelines.shard.settings import ShardFolders, ShardSettings
from cuekit.settings import build, click_options, resolve

SHARD_SETTINGS = (ShardFolders, ShardSettings)


@click.command("shard")
@click_options(*SHARD_SETTINGS)
@click.pass_context
def shard_command(ctx: click.Context, config_file: Path | None, **options: Any) -> None:
    """Write deterministic WebDataset shards, a manifest and stats from an extract folder."""
    from cuekit.pipelines.health import failure_report
    from cuekit.pipelines.shard.run import shard

    values = resolve(SHARD_SETTINGS, ctx, options, config_file)
    folders, settings = build(ShardFolders, values), build(ShardSettings, values)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    report = shard(folders.input, folders.output, settings)
    click.echo(report.summary())
    # Shards with no sample in them are no success: a pipeline must see a failure.
    problem = failure_report(
        folders.output,
        {"input": report.inputs, "ok": report.written, "errors": report.errors},
        max_error_rate=1.0,
        stage="shard",
    )
    if problem is not None:
        raise click.ClickException(problem)
