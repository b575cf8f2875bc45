"""The settings of `cuekit shard`, each documented once: the command line, ``--config``
YAML and Python callers all use these dataclasses (see :mod:`cuekit.settings`).

`cuekit verify` and `cuekit inspect`, which read shards, have theirs here too."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import click

from cuekit.errors import ConfigError
from cuekit.settings import setting

IMAGE_CHECKS = ("sha256", "decode", "none")
_FOLDER = click.Path(path_type=Path, file_okay=False)


@dataclass(frozen=True)
class ShardFolders:
    """Where `cuekit shard` reads and writes."""

    input: Path = setting(
        description="Output folder of `cuekit extract` (cues.parquet, images/...).",
        short="-i",
        click_type=_FOLDER,
    )
    output: Path = setting(
        description="Shard folder (tars, manifest.parquet, shards.parquet, stats.json).",
        short="-o",
        click_type=_FOLDER,
    )


@dataclass(frozen=True)
class ShardSettings:
    """Settings of one shard run. Everything except ``num_workers`` shapes the bytes."""

    maxcount: int = setting(1000, "Most samples per shard.")
    maxsize: int = setting(
        1_000_000_000, "Most bytes per shard (a single larger sample gets a shard of its own)."
    )
    pattern: str = setting("shard-%06d.tar", "Shard file name, with one %d field.")
    num_workers: int = setting(
        1, "Processes checking images and writing shards; the bytes do not depend on it."
    )
    max_pixels: int | None = setting(
        None, "Downscale (and re-encode) images with more pixels than this."
    )
    jpeg_quality: int = 95  # of a re-encoded JPEG; not a flag
    # sha256: extract decoded and validated exactly those bytes before storing them under
    # that hash, so a match proves they are the bytes that decoded then; decoding again
    # would cost 3-7x the whole shard step. decode: a JPEG at 1/8 scale. none: a missing
    # file is still an error, and a file changed between planning and writing still fails
    # (size and mtime check), but the bytes are read once - a plain ShardWriter loop's speed.
    image_check: Literal["decode", "sha256", "none"] = setting(
        "sha256",
        "sha256: match each image's bytes to the hash extract recorded after "
        "decoding them; decode: also decode every image again (slow; for extract folders "
        "edited by other tools); none: trust the store, read each image once (missing files "
        "are still errors).",
        choices=IMAGE_CHECKS,
    )

    def __post_init__(self) -> None:
        from cuekit.pipelines.shard import manifest as mf

        if self.maxcount < 1:
            raise ConfigError(f"--maxcount must be >= 1, got {self.maxcount}")
        if self.maxsize < 10240:
            raise ConfigError(f"--maxsize must be >= 10240 bytes, got {self.maxsize}")
        if self.num_workers < 1:
            raise ConfigError(f"--num-workers must be >= 1, got {self.num_workers}")
        if self.max_pixels is not None and self.max_pixels < 1:
            raise ConfigError(f"--max-pixels must be >= 1, got {self.max_pixels}")
        if self.image_check not in IMAGE_CHECKS:
            raise ConfigError(
                f"--image-check must be decode, sha256 or none, got {self.image_check!r}"
            )
        if not 1 <= self.jpeg_quality <= 100:
            raise ConfigError(f"jpeg_quality must be in [1, 100], got {self.jpeg_quality}")
        mf.check_pattern(self.pattern)

    def content_settings(self) -> dict[str, Any]:
        names = ("maxcount", "maxsize", "pattern", "max_pixels", "jpeg_quality", "image_check")
        return {name: getattr(self, name) for name in names}


@dataclass(frozen=True)
class VerifySettings:
    """What `cuekit verify` accepts."""

    location: tuple[str, ...] = setting(
        description="Shard folder, shard paths, URLs, brace patterns or globs.",
        argument=True,
        nargs=-1,
    )
    no_image_hashes: bool = setting(
        False, "Skip hashing image bytes against the sha256 in each json."
    )


@dataclass(frozen=True)
class InspectSettings:
    """What `cuekit inspect` accepts."""

    location: str = setting(description="A shard, shard folder or URL.", argument=True)
    key: str | None = setting(None, "Sample key [default: the first sample].", short="-k")
    render: Path | None = setting(
        None,
        "Save the image with its detections drawn to this file (e.g. out.png).",
        click_type=click.Path(path_type=Path, dir_okay=False),
    )
    image_index: int = setting(0, "Which image of the sample to render.")
