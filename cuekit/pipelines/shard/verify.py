"""`cuekit verify`: check shards against their manifest and report every fault found.

Checks, per shard: it exists and is listed; its size and sha256 match shards.parquet; the
tar reads to the end; its sample count and keys match shards.parquet / manifest.parquet.
Per sample: its files are adjacent and not repeated; it has a json that validates as an
ExtractedSample with ``sample.id == key``, a hint.txt equal to the cue text, every image
its json names (bytes matching the json's sha256) and nothing else. Across shards: no key
appears twice, and no listed shard is missing or unlisted shard present.
"""

from __future__ import annotations

import glob
import hashlib
import json
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
from webdataset.shardlists import expand_urls

from cuekit.errors import ConfigError, SampleError
from cuekit.pipelines.shard import manifest as mf
from cuekit.schemas import (
    HINT_MEMBER,
    JSON_MEMBER,
    ExtractedSample,
    is_safe_key,
    member_suffix,
    validate,
)


@dataclass(frozen=True)
class Fault:
    kind: str  # missing-shard, extra-shard, checksum, size, corrupt-tar, count, keys, sample...
    where: str  # shard name, or shard/key
    message: str


@dataclass
class VerifyReport:
    location: str
    shards_checked: int = 0
    samples_checked: int = 0
    faults: list[Fault] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.faults

    def add(self, kind: str, where: str, message: str) -> None:
        self.faults.append(Fault(kind, where, message))

    def counts(self) -> dict[str, int]:
        """Faults per kind, most frequent first."""
        counts: dict[str, int] = {}
        for fault in self.faults:
            counts[fault.kind] = counts.get(fault.kind, 0) + 1
        return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))

    def format(self, per_kind: int = 10) -> str:
        """The summary: fault counts by kind, then up to ``per_kind`` faults of each kind,
        so that one rare fault is never hidden behind hundreds of a common one."""
        lines = [
            f"verify {self.location}: {self.shards_checked} shards, "
            f"{self.samples_checked} samples checked"
        ]
        lines += [f"  note: {note}" for note in self.notes]
        counts = self.counts()
        if counts:
            lines.append(
                "  faults by kind: " + ", ".join(f"{kind} {n}" for kind, n in counts.items())
            )
        for kind, total in counts.items():
            shown = [f for f in self.faults if f.kind == kind][:per_kind]
            lines += [f"  FAULT [{kind}] {f.where}: {f.message}" for f in shown]
            if total > len(shown):
                lines.append(f"  ... and {total - len(shown)} more [{kind}] faults")
        verdict = "OK" if self.ok else f"FAILED with {len(self.faults)} faults"
        lines.append(f"verify: {verdict}")
        return "\n".join(lines)


class _HashingReader:
    """Read-only stream wrapper that hashes and counts the bytes read."""

    def __init__(self, raw: Any) -> None:
        self._raw = raw
        self.sha256 = hashlib.sha256()
        self.size = 0
        self.tail = b""  # the last 1024 bytes read: a whole archive ends in two zero blocks

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        self.sha256.update(data)
        self.size += len(data)
        self.tail = (self.tail + data)[-1024:]
        return data

    def ends_cleanly(self) -> bool:
        return self.size % 512 == 0 and self.tail == bytes(1024)

    def drain(self) -> None:
        while self.read(1 << 20):
            pass


def _globbed(url: str) -> list[str]:
    """A local shard pattern (``shards/shard-*.tar``, quoted so no shell expanded it) as
    the files it matches; anything else as itself. A pattern matching nothing is kept, so
    it is reported as a missing shard rather than silently checking nothing."""
    if mf.is_remote(url) or not any(c in url for c in "*?[") or Path(url).exists():
        return [url]
    return sorted(glob.glob(url)) or [url]


def _resolve(location: str | Sequence[str]) -> tuple[str, list[str], str | None, bool]:
    """(label, shard URLs to check, folder holding the index files, whole set?).

    A folder means the whole set: every listed shard must be there. Paths, URLs, brace
    patterns or globs name a subset: only those shards are checked."""
    if isinstance(location, str) and not mf.is_remote(location) and Path(location).is_dir():
        folder = Path(location)
        urls = sorted(str(p) for p in folder.glob("*.tar") if not p.name.startswith("."))
        return location, urls, str(folder), True
    specs = [location] if isinstance(location, str) else list(location)
    urls = [u for spec in specs for url in expand_urls(spec) for u in _globbed(url)]
    if not urls:
        raise ConfigError(f"no shards in {location!r}")
    return ", ".join(specs), urls, mf.url_folder(urls[0]), False


def _check_sample(
    key: str, files: dict[str, bytes], report: VerifyReport, where: str, check_images: bool
) -> None:
    if not is_safe_key(key):
        report.add("sample", where, "key is not a safe WebDataset key (dots or slashes?)")
    if JSON_MEMBER not in files:
        report.add("sample", where, "no .json file")
        return
    try:
        record = validate(ExtractedSample, json.loads(files[JSON_MEMBER]), sample_id=key)
    except (ValueError, SampleError) as exc:
        report.add("sample", where, f"json does not validate: {exc}")
        return
    if record.sample.id != key:
        report.add("sample", where, f"json holds sample {record.sample.id!r}")
    expected = {JSON_MEMBER, HINT_MEMBER}
    if HINT_MEMBER not in files:
        report.add("sample", where, "no .hint.txt file")
    elif files[HINT_MEMBER].decode("utf-8", "replace") != record.cue.cue_text:
        report.add("sample", where, "hint.txt differs from the json's cue_text")
    images: list[tuple[str, str | None]] = [(ref.path, ref.sha256) for ref in record.sample.images]
    if record.cue.marked_image is not None:
        images.append((record.cue.marked_image, None))
    for path, sha in images:
        suffix = member_suffix(path) if path.startswith(f"{key}.") else path
        expected.add(suffix)
        if suffix not in files:
            report.add("sample", where, f"image {path} missing")
        elif check_images and sha is not None and hashlib.sha256(files[suffix]).hexdigest() != sha:
            report.add("sample", where, f"image {path} does not match its sha256")
    for extra in sorted(set(files) - expected):
        report.add("sample", where, f"unexpected file {key}.{extra}")


def _check_shard(
    url: str, report: VerifyReport, check_images: bool
) -> tuple[list[str], str, int] | None:
    """Walk one tar; returns (keys in order, sha256, size) or None if it cannot be opened."""
    name = url.rsplit("/", 1)[-1]
    try:
        raw = mf.open_url(url)
    except OSError as exc:
        report.add("missing-shard", name, f"cannot open ({exc.strerror or exc})")
        return None
    keys: list[str] = []
    seen: set[str] = set()
    current: tuple[str, dict[str, bytes]] | None = None

    def finish() -> None:
        if current is not None:
            _check_sample(current[0], current[1], report, f"{name}/{current[0]}", check_images)
            report.samples_checked += 1

    with raw:
        stream = _HashingReader(raw)
        try:
            with tarfile.open(fileobj=stream, mode="r|") as tar:  # type: ignore[call-overload]
                for info in tar:
                    key, _, suffix = info.name.partition(".")
                    if not info.isreg() or not suffix or "/" in info.name:
                        report.add("sample", f"{name}/{info.name}", "not a KEY.suffix file")
                        continue
                    data = tar.extractfile(info).read()  # type: ignore[union-attr]
                    if len(data) != info.size:
                        raise EOFError(f"{info.name} has {len(data)} of {info.size} bytes")
                    if current is None or current[0] != key:
                        finish()
                        if key in seen:
                            report.add("keys", f"{name}/{key}", "files of this key not adjacent")
                        seen.add(key)
                        keys.append(key)
                        current = (key, {})
                    if suffix in current[1]:
                        report.add("sample", f"{name}/{key}", f"duplicate file {info.name}")
                    current[1][suffix] = data
            finish()
            stream.drain()
            if not stream.ends_cleanly():
                raise EOFError("no end-of-archive marker (truncated?)")
        except (tarfile.TarError, EOFError, OSError) as exc:
            report.add(
                "corrupt-tar",
                name,
                f"unreadable after {stream.size} bytes ({type(exc).__name__}: {exc})",
            )
            stream.drain()
    return keys, stream.sha256.hexdigest(), stream.size


def verify(location: str | Sequence[str], *, check_images: bool = True) -> VerifyReport:
    """Check a shard folder, or shard URLs / brace patterns, against their index files."""
    label, urls, folder, whole_set = _resolve(location)
    report = VerifyReport(label)
    shards = mf.read_shards_table(folder) if folder else None
    manifest = mf.read_manifest_table(folder) if folder else None
    if shards is None:
        report.add("index", folder or label, f"no {mf.SHARDS_FILE} next to the shards")
        shards = pl.DataFrame(schema=mf.SHARDS_SCHEMA)
    if manifest is None:
        report.add("index", folder or label, f"no {mf.MANIFEST_FILE} next to the shards")
        manifest = pl.DataFrame(schema=mf.MANIFEST_SCHEMA)
    listed = {row["shard"]: row for row in shards.iter_rows(named=True)}
    given = {u.rsplit("/", 1)[-1]: u for u in urls}
    if whole_set:
        for name in sorted(set(listed) - set(given)):
            report.add("missing-shard", name, f"listed in {mf.SHARDS_FILE} but not found")
    else:
        report.notes.append(
            f"checked {len(given)} of the {len(listed)} shards listed in {mf.SHARDS_FILE}"
        )
    owner: dict[str, str] = {}
    for name, url in sorted(given.items()):
        if name not in listed:
            report.add("extra-shard", name, f"not listed in {mf.SHARDS_FILE}")
        result = _check_shard(url, report, check_images)
        if result is None:
            continue
        report.shards_checked += 1
        keys, sha256, size = result
        for key in keys:
            if key in owner and owner[key] != name:
                report.add("duplicate-key", f"{name}/{key}", f"also in {owner[key]}")
            owner.setdefault(key, name)
        row = listed.get(name)
        if row is None:
            continue
        if size != row["bytes"]:
            report.add("size", name, f"{size} bytes, {mf.SHARDS_FILE} says {row['bytes']}")
        if sha256 != row["sha256"]:
            report.add(
                "checksum",
                name,
                f"sha256 {sha256[:12]}... differs from {mf.SHARDS_FILE} ({row['sha256'][:12]}...)",
            )
        if len(keys) != row["samples"]:
            report.add(
                "count", name, f"{len(keys)} samples, {mf.SHARDS_FILE} says {row['samples']}"
            )
        expected_keys = manifest.filter(pl.col("shard") == name)["key"].to_list()
        if keys != expected_keys:
            missing = sorted(set(expected_keys) - set(keys))[:3]
            unknown = sorted(set(keys) - set(expected_keys))[:3]
            report.add(
                "keys",
                name,
                f"keys differ from {mf.MANIFEST_FILE} "
                f"(missing {missing}, unknown {unknown}, or out of order)",
            )
    if not urls and not listed:
        report.add("index", label, "no shards found")
    return report
