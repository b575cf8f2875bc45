"""The shard folder's index files: what they hold, how to write them, how to find them.

::

    SHARD_DIR/
      shard-000000.tar ...   the shards (WebDataset layout, one sample = adjacent files)
      manifest.parquet       one row per sample (MANIFEST_SCHEMA)
      shards.parquet         one row per shard (SHARDS_SCHEMA)
      stats.json             totals, settings, versions, the URL pattern
      errors.parquet         samples that failed to shard (ErrorRow fields)
      .cuekit-shard/         resume records, one per finished shard

Readers of a remote shard set find the index files next to the shards through fsspec.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import polars as pl

from cuekit.errors import ConfigError, CuekitError

# errors.parquet is the one ErrorRow table both stages write (layout.errors_frame).
from cuekit.pipelines.extract.layout import ERRORS_FILE as ERRORS_FILE
from cuekit.schemas.runs import ManifestRow, ShardResult

MANIFEST_FILE = "manifest.parquet"
SHARDS_FILE = "shards.parquet"
STATS_FILE = "stats.json"
STATE_DIR = ".cuekit-shard"

MANIFEST_SCHEMA: dict[str, pl.DataType] = {
    "key": pl.String(),
    "shard": pl.String(),
    "shard_index": pl.Int32(),
    "offset": pl.Int64(),  # byte offset of the sample's first header in its shard
    "bytes": pl.Int64(),  # bytes the sample takes in the tar (headers + padding)
    "image_bytes": pl.Int64(),
    "json_bytes": pl.Int64(),
    "hint_bytes": pl.Int64(),
    "n_images": pl.Int32(),
    "resized": pl.Boolean(),
    "cue_style": pl.String(),
    "leak": pl.Boolean(),
    "source": pl.String(),
    "split": pl.String(),
}

SHARDS_SCHEMA: dict[str, pl.DataType] = {
    "shard": pl.String(),
    "shard_index": pl.Int32(),
    "samples": pl.Int64(),
    "bytes": pl.Int64(),
    "sha256": pl.String(),
}

_PATTERN_RE = re.compile(r"%(0?)(\d*)d")
_WDS_SCHEMES = ("pipe:", "http://", "https://", "gs://", "hf://", "ais://")


def check_pattern(pattern: str) -> None:
    """A shard name pattern holds exactly one ``%d``-style field, ends in .tar, has no '/'."""
    fields = _PATTERN_RE.findall(pattern)
    if len(fields) != 1 or pattern.count("%") != 1:
        raise ConfigError(
            f"--pattern must contain exactly one %d field (e.g. 'shard-%06d.tar'), got {pattern!r}"
        )
    if not pattern.endswith(".tar") or "/" in pattern or pattern.startswith("."):
        raise ConfigError(f"--pattern must be a file name ending in .tar, got {pattern!r}")


def shard_name(pattern: str, index: int) -> str:
    return pattern % index


def pattern_regex(pattern: str) -> re.Pattern[str]:
    """A regex matching every name the pattern can produce."""
    match = _PATTERN_RE.search(pattern)
    if match is None:
        raise ConfigError(f"pattern {pattern!r} has no %d field")
    head, tail = pattern[: match.start()], pattern[match.end() :]
    return re.compile(re.escape(head) + r"(\d+)" + re.escape(tail) + r"\Z")


def brace_pattern(pattern: str, count: int) -> str:
    """The brace-expanded URL of ``count`` shards, e.g. ``shard-{000000..000012}.tar``."""
    if count <= 0:
        return ""
    first, last = shard_name(pattern, 0), shard_name(pattern, count - 1)
    if count == 1:
        return first
    match = _PATTERN_RE.search(pattern)
    if match is None:
        raise ConfigError(f"pattern {pattern!r} has no %d field")
    head, tail = pattern[: match.start()], pattern[match.end() :]
    lo, hi = first[len(head) : len(first) - len(tail)], last[len(head) : len(last) - len(tail)]
    return f"{head}{{{lo}..{hi}}}{tail}"


def manifest_frame(rows: list[ManifestRow]) -> pl.DataFrame:
    return pl.DataFrame([row.as_dict() for row in rows], schema=MANIFEST_SCHEMA)


def shards_frame(results: list[ShardResult]) -> pl.DataFrame:
    return pl.DataFrame([result.table_row() for result in results], schema=SHARDS_SCHEMA).sort(
        "shard_index"
    )


def is_remote(location: str) -> bool:
    return "://" in location and not location.startswith("file://")


def read_index_bytes(folder: str, name: str) -> bytes | None:
    """Bytes of ``folder/name`` for a local folder or an fsspec URL; None when absent."""
    if not is_remote(folder):
        path = Path(folder.removeprefix("file://")) / name
        return path.read_bytes() if path.is_file() else None
    import fsspec

    url = folder.rstrip("/") + "/" + name
    try:
        with fsspec.open(url, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None
    except Exception as exc:  # network or protocol errors: say which file
        raise CuekitError(f"cannot read {url}: {exc}") from None


def read_shards_table(folder: str) -> pl.DataFrame | None:
    data = read_index_bytes(folder, SHARDS_FILE)
    return None if data is None else pl.read_parquet(io.BytesIO(data))


def read_manifest_table(folder: str) -> pl.DataFrame | None:
    data = read_index_bytes(folder, MANIFEST_FILE)
    return None if data is None else pl.read_parquet(io.BytesIO(data))


def url_folder(url: str) -> str:
    """The folder part of a shard path or URL."""
    return url.rsplit("/", 1)[0] if "/" in url else "."


def open_url(url: str) -> Any:
    """A binary stream for a local path, a webdataset URL (pipe:, http...) or an fsspec URL."""
    if url.startswith(_WDS_SCHEMES):
        from webdataset.gopen import gopen

        return gopen(url, "rb")
    if is_remote(url):
        import fsspec

        return fsspec.open(url, "rb").open()
    return open(url.removeprefix("file://"), "rb")  # noqa: SIM115 - the caller closes it
