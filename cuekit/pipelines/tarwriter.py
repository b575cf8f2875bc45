"""Deterministic tar shards: the writer, the planned shard records, and resumable writing.

Every header carries the same mtime, owner (uid/gid 0, empty names) and mode, and the
archive is written in PAX format, so two runs with the same members in the same order
produce byte-identical files. :func:`member_size` predicts the on-disk size of a member
exactly, which lets the shard planner honour ``--maxsize`` before writing anything.

:func:`write_shard` writes one :class:`ShardPlan` under a hidden temporary name, fsyncs,
renames it into place and then stores a resume record ``.cuekit-shard/NAME.json``
(content digest + sha256). :func:`reusable` accepts an existing shard only when its
record matches the plan's content digest and the file still hashes to the recorded sha256.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import queue
import tarfile
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

from cuekit.errors import CuekitError
from cuekit.pipelines import manifest as mf
from cuekit.pipelines.progress import Progress

FIXED_MTIME = 0
FILE_MODE = 0o644
TAR_FORMAT = tarfile.PAX_FORMAT
BLOCK = tarfile.BLOCKSIZE  # 512
RECORD = tarfile.RECORDSIZE  # 10240: tarfile pads the archive to whole records
_ENCODING = "utf-8"


def tar_info(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = FIXED_MTIME
    info.mode = FILE_MODE
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.type = tarfile.REGTYPE
    return info


def member_size(name: str, size: int) -> int:
    """Bytes a member takes in the archive: header block(s) plus data padded to 512."""
    if len(name) <= 100 and name.isascii() and size < 8**11:
        header = BLOCK  # a plain ustar header: PAX adds records only for long names or sizes
    else:
        header = len(tar_info(name, size).tobuf(TAR_FORMAT, _ENCODING, "surrogateescape"))
    return header + -(-size // BLOCK) * BLOCK


def archive_size(members_bytes: int) -> int:
    """Size of a finished archive whose members take ``members_bytes``.

    Two zero blocks end the archive, then tarfile pads to a whole 10240-byte record.
    """
    raw = members_bytes + 2 * BLOCK
    return -(-raw // RECORD) * RECORD


class DeterministicTarWriter:
    """Write regular files into ``path`` with fixed metadata; hash the bytes on the way.

    Headers come from ``tarfile.TarInfo.tobuf`` (so the format is the stdlib's PAX); the
    data is written directly, without tarfile's 16 KiB copy loop. ``close()`` ends the
    archive like tarfile does (two zero blocks, padding to a 10240-byte record), fsyncs and
    returns ``(sha256_hex, size)``.
    """

    def __init__(self, path: str | Path) -> None:
        self._file: BinaryIO = open(path, "wb")  # noqa: SIM115 - closed in close()/abort()
        self._sha256 = hashlib.sha256()
        self._size = 0
        self.result: tuple[str, int] | None = None

    def _write(self, data: bytes) -> None:
        self._sha256.update(data)
        self._size += len(data)
        self._file.write(data)

    def add(self, name: str, data: bytes) -> None:
        self._write(tar_info(name, len(data)).tobuf(TAR_FORMAT, _ENCODING, "surrogateescape"))
        self._write(data)
        if len(data) % BLOCK:
            self._write(bytes(BLOCK - len(data) % BLOCK))

    def close(self) -> tuple[str, int]:
        if self.result is None:
            self._write(bytes(archive_size(self._size) - self._size))
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self.result = (self._sha256.hexdigest(), self._size)
        return self.result

    def abort(self) -> None:
        """Close the file without finishing the archive (the caller deletes it)."""
        if not self._file.closed:
            self._file.close()

    def __enter__(self) -> DeterministicTarWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


# ---------------------------------------------------------------- planned shards


@dataclass(frozen=True)
class Member:
    """One file of a sample: its tar name, size and sha256, and where its bytes are."""

    name: str
    size: int
    sha256: str
    path: str | None = None  # read the bytes from here...
    data: bytes | None = None  # ...or they are inline (json, hint)
    mtime_ns: int | None = None  # of ``path`` when its sha256 was taken

    def read(self) -> bytes:
        """The member's bytes; a file changed since it was hashed is an error (cheap check:
        size and mtime, so the bytes are not hashed a second time)."""
        if self.data is not None:
            return self.data
        path = Path(str(self.path))
        stat = path.stat()
        if stat.st_size != self.size or (self.mtime_ns is not None
                                         and stat.st_mtime_ns != self.mtime_ns):
            raise CuekitError(f"{path} changed while sharding; rerun `cuekit shard`")
        return path.read_bytes()


@dataclass(frozen=True)
class PreparedSample:
    key: str
    members: tuple[Member, ...]
    info: dict[str, Any]  # manifest columns known before planning

    @cached_property
    def tar_bytes(self) -> int:
        """Bytes the sample takes in a tar: headers plus padded data."""
        return sum(member_size(m.name, m.size) for m in self.members)


@dataclass(frozen=True)
class ShardPlan:
    index: int
    name: str
    samples: tuple[PreparedSample, ...]
    size: int  # exact size of the finished tar
    content_digest: str


# ---------------------------------------------------------------- writing, resumable

_progress_queue: Any = None


def _init_worker(progress_queue: Any) -> None:
    global _progress_queue
    _progress_queue = progress_queue


def record_path(out_dir: Path, name: str) -> Path:
    return out_dir / mf.STATE_DIR / f"{name}.json"


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def reusable(plan: ShardPlan, out_dir: Path) -> dict[str, Any] | None:
    """The resume record of a finished shard that matches ``plan``, else None."""
    record_file, shard_path = record_path(out_dir, plan.name), out_dir / plan.name
    if not (record_file.is_file() and shard_path.is_file()):
        return None
    try:
        record = json.loads(record_file.read_text())
    except (OSError, ValueError):
        return None
    if record.get("content_digest") != plan.content_digest or record.get("size") != plan.size:
        return None
    if shard_path.stat().st_size != plan.size or _file_sha256(shard_path) != record.get("sha256"):
        return None
    return record


def write_shard(plan: ShardPlan, out_dir: Path) -> dict[str, Any]:
    """Write one planned shard (temp name, fsync, rename, then its resume record)."""
    record = reusable(plan, out_dir)
    if record is not None:
        return {**record, "reused": True}
    tmp = out_dir / f".{plan.name}.tmp-{os.getpid()}"
    try:
        with DeterministicTarWriter(tmp) as writer:
            for sample in plan.samples:
                for m in sample.members:
                    writer.add(m.name, m.read())
        sha256, size = writer.close()
        if size != plan.size:
            raise CuekitError(f"{plan.name}: wrote {size} bytes, planned {plan.size}")
        tmp.replace(out_dir / plan.name)
    finally:
        tmp.unlink(missing_ok=True)
    record = {"shard": plan.name, "shard_index": plan.index, "samples": len(plan.samples),
              "size": size, "sha256": sha256, "content_digest": plan.content_digest}
    mf.write_json_atomic(record_path(out_dir, plan.name), record)
    return {**record, "reused": False}


def write_shard_range(plans: list[ShardPlan], out_dir: Path) -> list[dict[str, Any]]:
    """One worker's job: its contiguous range of shards, in order."""
    results = []
    for plan in plans:
        results.append(write_shard(plan, out_dir))
        if _progress_queue is not None:
            _progress_queue.put(len(plan.samples))
    return results


def split_ranges(count: int, parts: int) -> list[range]:
    """``count`` items in ``parts`` contiguous, nearly equal ranges (empty ones dropped)."""
    bounds = [count * i // parts for i in range(parts + 1)]
    return [range(a, b) for a, b in zip(bounds, bounds[1:], strict=False) if b > a]


@contextmanager
def worker_pool(num_workers: int) -> Iterator[tuple[ProcessPoolExecutor | None, Any]]:
    """One process pool (and progress queue) for every parallel step; None when serial."""
    if num_workers <= 1:
        yield None, None
        return
    context = multiprocessing.get_context()
    progress_queue = context.Queue()
    with ProcessPoolExecutor(num_workers, mp_context=context, initializer=_init_worker,
                             initargs=(progress_queue,)) as pool:
        yield pool, progress_queue


def write_all(plans: list[ShardPlan], out_dir: Path, pool: ProcessPoolExecutor | None,
              progress_queue: Any, num_workers: int, total_samples: int
              ) -> list[dict[str, Any]]:
    """Write every planned shard; task ``w`` owns the ``w``-th contiguous range of shards."""
    with Progress(total_samples, desc="shard: write", unit="sample") as bar:
        if pool is None or len(plans) <= 1:
            results = []
            for plan in plans:
                results.append(write_shard(plan, out_dir))
                bar.update(len(plan.samples))
            return results
        ranges = split_ranges(len(plans), num_workers)
        futures = [pool.submit(write_shard_range, [plans[i] for i in r], out_dir)
                   for r in ranges]
        while not all(f.done() for f in futures):
            try:
                bar.update(progress_queue.get(timeout=0.1))
            except queue.Empty:
                pass
        while not progress_queue.empty():  # drop reports still queued when the last ended
            progress_queue.get()
        bar.update(total_samples - bar.count)
        return [result for f in futures for result in f.result()]
