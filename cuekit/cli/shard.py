"""`cuekit shard`: write WebDataset shards from an extract folder."""

from __future__ import annotations

import logging
from pathlib import Path

import click


@click.command("shard")
@click.option("--input", "-i", "input_dir", required=True,
              type=click.Path(path_type=Path, file_okay=False),
              help="Output folder of `cuekit extract` (cues.parquet, images/...).")
@click.option("--output", "-o", required=True, type=click.Path(path_type=Path, file_okay=False),
              help="Shard folder (tars, manifest.parquet, shards.parquet, stats.json).")
@click.option("--maxcount", default=1000, show_default=True, type=int,
              help="Most samples per shard.")
@click.option("--maxsize", default=1_000_000_000, show_default=True, type=int,
              help="Most bytes per shard (a single larger sample gets a shard of its own).")
@click.option("--pattern", default="shard-%06d.tar", show_default=True,
              help="Shard file name, with one %d field.")
@click.option("--num-workers", default=1, show_default=True, type=int,
              help="Processes checking images and writing shards; the bytes do not depend on it.")
@click.option("--max-pixels", default=None, type=int,
              help="Downscale (and re-encode) images with more pixels than this.")
@click.option("--image-check", type=click.Choice(["sha256", "decode", "none"]),
              default="sha256", show_default=True,
              help="sha256: match each image's bytes to the hash extract recorded after "
                   "decoding them; decode: also decode every image again (slow; for "
                   "extract folders edited by other tools); none: trust the store, read "
                   "each image once (missing files are still errors).")
def shard_command(input_dir: Path, output: Path, maxcount: int, maxsize: int, pattern: str,
                  num_workers: int, max_pixels: int | None, image_check: str) -> None:
    """Write deterministic WebDataset shards, a manifest and stats from an extract folder."""
    from cuekit.pipelines.shard.run import ShardSettings, shard

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    settings = ShardSettings(maxcount=maxcount, maxsize=maxsize, pattern=pattern,
                             num_workers=num_workers, max_pixels=max_pixels,
                             image_check=image_check)  # type: ignore[arg-type]
    report = shard(input_dir, output, settings)
    click.echo(report.summary())
    from cuekit.pipelines.health import failure_report

    # Shards with no sample in them are no success: a pipeline must see a failure.
    problem = failure_report(output, {"input": report.inputs, "ok": report.written,
                                      "errors": report.errors}, max_error_rate=1.0,
                             stage="shard")
    if problem is not None:
        raise click.ClickException(problem)
