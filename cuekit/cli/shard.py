"""`cuekit shard`: write WebDataset shards from an extract folder."""

from __future__ import annotations

import logging

import click

from cuekit.pipelines.shard.settings import ShardFolders, ShardSettings
from cuekit.settings import settings_command


@settings_command("shard", ShardFolders, ShardSettings)
def shard_command(folders: ShardFolders, settings: ShardSettings) -> None:
    """Write deterministic WebDataset shards, a manifest and stats from an extract folder."""
    from cuekit.pipelines.health import failure_report
    from cuekit.pipelines.shard.run import shard
    from cuekit.schemas.runs import StageCounts

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    report = shard(folders.input, folders.output, settings)
    click.echo(report.summary())
    # Shards with no sample in them are no success: a pipeline must see a failure.
    problem = failure_report(
        folders.output,
        StageCounts(input=report.inputs, ok=report.written, errors=report.errors),
        max_error_rate=1.0,
        stage="shard",
    )
    if problem is not None:
        raise click.ClickException(problem)
