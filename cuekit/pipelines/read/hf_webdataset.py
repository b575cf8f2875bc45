"""Load cuekit shards with Hugging Face ``datasets``' webdataset builder, losing nothing.

``load_dataset("webdataset", ...)`` infers its columns from the first five samples of
the first shard. cuekit's samples differ in their members (``img0.jpg`` or
``img0.png``, one image or two, ``marked.png`` only for cue style ``marks``), so that
inference either fails ("files in the archive don't share the same prefix or the same
types") or, when the first samples happen to agree, silently sets later images to None
and drops metadata keys (``json`` becomes a struct of the first samples' keys).

The fix is one argument: :func:`hf_features` lists every member any shard holds, with
``json`` as a :class:`datasets.Json` column (the record, whatever its keys) and each
image member as an :class:`datasets.Image`. A sample's absent members are None::

    from datasets import load_dataset
    from cuekit.pipelines.read.hf_webdataset import hf_data_files, hf_features

    ds = load_dataset("webdataset", data_files={"train": hf_data_files("shards/")},
                      features=hf_features("shards/"), split="train")
"""

from __future__ import annotations

import tarfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cuekit.errors import ConfigError
from cuekit.pipelines.read.reader import resolve_shards
from cuekit.pipelines.shard import manifest as mf
from cuekit.schemas import JSON_MEMBER, KEY_FIELD, URL_FIELD

# Extensions cuekit writes image members with (images are kept as png, jpeg or webp).
IMAGE_SUFFIXES = ("png", "jpg", "jpeg", "webp")
TEXT_SUFFIXES = ("txt",)


def hf_data_files(shards: str | Sequence[str]) -> list[str]:
    """The local tar files of a shard folder, brace pattern or list, in shard order."""
    urls = [url for url, _ in resolve_shards(shards)]
    remote = [url for url in urls if mf.is_remote(url)]
    if remote:
        raise ConfigError(
            f"hf_features needs local shards to list their members; "
            f"{remote[0]} is remote (download the shards first)"
        )
    return urls


def member_fields(shards: str | Sequence[str]) -> list[str]:
    """Every member suffix (``json``, ``hint.txt``, ``img0.png``...) that any sample holds.

    Only the tar headers are read; the members' bytes are skipped.
    """
    fields: set[str] = set()
    for path in hf_data_files(shards):
        with tarfile.open(path) as tar:
            for member in tar:
                name = Path(member.name).name
                if member.isfile() and "." in name:
                    fields.add(name.split(".", 1)[1])
    return sorted(fields)


def _feature(field: str) -> Any:
    import datasets

    suffix = field.rsplit(".", 1)[-1].lower()
    if field == JSON_MEMBER or suffix == "json":
        return datasets.Json()
    if suffix in IMAGE_SUFFIXES:
        return datasets.Image()
    if suffix in TEXT_SUFFIXES:
        return datasets.Value("string")
    return datasets.Value("binary")


def hf_features(shards: str | Sequence[str]) -> Any:
    """The ``features=`` for ``load_dataset("webdataset", ...)`` that keep every member."""
    import datasets

    text = datasets.Value("string")
    return datasets.Features(
        {
            KEY_FIELD: text,
            URL_FIELD: text,
            **{field: _feature(field) for field in member_fields(shards)},
        }
    )
