"""Deterministic tar shards: the writer, the planned shard records, and resumable writing.

Every header carries the same mtime, owner (uid/gid 0, empty names) and mode, and the
archive is written in PAX format, so two runs with the same members in the same order
produce byte-identical files. :func:`member_size` predicts the on-disk size of a member
exactly, which lets the shard planner honour ``--maxsize`` before writing anything.

:func:`write_shard` writes one :class:`ShardPlan` under a hidden temporary name, fsyncs,
renames it into place and then stores a resume record ``.cuekit-shard/NAME.json``
(content digest + sha256); :func:`write_shards` does the same for a run of shards, with
each fsync overlapping the writing of the next shard. :func:`reusable` accepts an existing
shard only when its record matches the plan's content digest and the file still hashes to
the recorded sha256.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import queue
import tarfile
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, Final

from cuekit.errors import CuekitError
from cuekit.io import write_json_atomic
from cuekit.outputs import writing
from cuekit.pipelines.progress import Progress
from cuekit.pipelines.shard import manifest as mf
from cuekit.processes import die_with_parent
from cuekit.schemas.runs import SampleStats, ShardResult

FIXED_MTIME = 0
FILE_MODE = 0o644
TAR_FORMAT: Final = tarfile.PAX_FORMAT
BLOCK = tarfile.BLOCKSIZE  # 512
RECORD = tarfile.RECORDSIZE  # 10240: tarfile pads the archive to whole records
_ENCODING = "utf-8"
_WRITE_BUFFER = 1 << 20  # bytes buffered per shard file before a write() system call
_JOIN_BELOW = 64 << 10  # members up to this size are written with their header at once


def tar_info(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = FIXED_MTIME
    info.mode = FILE_MODE
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.type = tarfile.REGTYPE
    return info


def _is_plain(name: str, size: int) -> bool:
    """A member whose PAX-format header is one plain ustar block (no extended records)."""
    return len(name) <= 100 and name.isascii() and size < 8**11


# A plain header of this writer with an empty name and size 0; headers are this block
# with the name, size and checksum fields filled in (offsets from the ustar layout).
_TEMPLATE = bytes(tar_info("", 0).tobuf(TAR_FORMAT, _ENCODING, "surrogateescape"))
_NAME, _SIZE, _CHKSUM = slice(0, 100), slice(124, 136), slice(148, 156)


def tar_header(name: str, size: int) -> bytes:
    """The header block(s) ``tar_info(name, size).tobuf(PAX)`` returns, built without
    tarfile's per-field encoding for plain members (byte-identical; tested)."""
    if not _is_plain(name, size):
        return tar_info(name, size).tobuf(TAR_FORMAT, _ENCODING, "surrogateescape")
    header = bytearray(_TEMPLATE)
    header[_NAME] = name.encode("ascii").ljust(100, b"\0")
    header[_SIZE] = b"%011o\0" % size
    header[_CHKSUM] = b"        "  # the checksum counts its own field as spaces
    header[_CHKSUM] = b"%06o\0 " % sum(header)
    return bytes(header)


def member_size(name: str, size: int) -> int:
    """Bytes a member takes in the archive: header block(s) plus data padded to 512."""
    if _is_plain(name, size):
        header = BLOCK  # a plain ustar header: PAX adds records only for long names or sizes
    else:
        header = len(tar_header(name, size))
    return header + -(-size // BLOCK) * BLOCK


def archive_size(members_bytes: int) -> int:
    """Size of a finished archive whose members take ``members_bytes``.

    Two zero blocks end the archive, then tarfile pads to a whole 10240-byte record.
    """
    raw = members_bytes + 2 * BLOCK
    return -(-raw // RECORD) * RECORD


class DeterministicTarWriter:
    """Write regular files into ``path`` with fixed metadata; hash the bytes on the way.

    Headers are tarfile's PAX headers (:func:`tar_header`); the data is written directly,
    without tarfile's 16 KiB copy loop. :meth:`finish` ends the archive like tarfile does
    (two zero blocks, padding to a 10240-byte record) and returns ``(sha256_hex, size)``;
    :meth:`close` also fsyncs and closes the file. The two are apart so that a shard's
    fsync can wait on the disk in another thread while the next shard is written.
    """

    def __init__(self, path: str | Path) -> None:
        self._file: BinaryIO = open(path, "wb", buffering=_WRITE_BUFFER)  # noqa: SIM115
        self._sha256 = hashlib.sha256()
        self._size = 0
        self.result: tuple[str, int] | None = None

    def _write(self, data: bytes) -> None:
        self._sha256.update(data)
        self._size += len(data)
        self._file.write(data)

    def add(self, name: str, data: bytes) -> None:
        header, padding = tar_header(name, len(data)), -len(data) % BLOCK
        if len(data) <= _JOIN_BELOW:  # json, hint: one write and one hash update
            self._write(b"".join((header, data, bytes(padding))))
            return
        self._write(header)
        self._write(data)
        if padding:
            self._write(bytes(padding))

    def finish(self) -> tuple[str, int]:
        """End the archive and flush it to the OS (not to the disk); idempotent."""
        if self.result is None:
            self._write(bytes(archive_size(self._size) - self._size))
            self._file.flush()
            self.result = (self._sha256.hexdigest(), self._size)
        return self.result

    def close(self) -> tuple[str, int]:
        """Finish, fsync and close the file."""
        result = self.finish()
        if not self._file.closed:
            os.fsync(self._file.fileno())
            self._file.close()
        return result

    def abort(self) -> None:
        """Close the file without finishing the archive (the caller deletes it)."""
        if not self._file.closed:
            try:
                self._file.close()
            except OSError:  # flushing the buffer failed too (a full disk): the file goes
                pass

    def __enter__(self) -> DeterministicTarWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
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
        if stat.st_size != self.size or (
            self.mtime_ns is not None and stat.st_mtime_ns != self.mtime_ns
        ):
            raise CuekitError(f"{path} changed while sharding; rerun `cuekit shard`")
        return path.read_bytes()


@dataclass(frozen=True)
class PreparedSample:
    key: str
    members: tuple[Member, ...]
    stats: SampleStats  # its manifest columns known before planning

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


def _init_worker(parent_pid: int, progress_queue: Any) -> None:
    die_with_parent(parent_pid)
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


def reusable(plan: ShardPlan, out_dir: Path) -> ShardResult | None:
    """The finished shard of an earlier run that matches ``plan`` (its resume record),
    else None."""
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
    try:
        return ShardResult.from_record(record, reused=True)
    except (KeyError, TypeError, ValueError):  # a record of another layout: rewrite
        return None


def _write_temp(plan: ShardPlan, out_dir: Path) -> tuple[Path, DeterministicTarWriter]:
    """Write a planned shard's bytes under a hidden temporary name (not yet fsynced).

    Reading a member may fail as the input's fault; writing fails as an OutputError."""
    tmp = out_dir / f".{plan.name}.tmp-{os.getpid()}"
    with writing(tmp):
        writer = DeterministicTarWriter(tmp)
    try:
        for sample in plan.samples:
            for m in sample.members:
                data = m.read()
                with writing(tmp):
                    writer.add(m.name, data)
        with writing(tmp):
            writer.finish()
    except BaseException:
        writer.abort()
        tmp.unlink(missing_ok=True)
        raise
    return tmp, writer


def _commit(
    plan: ShardPlan, out_dir: Path, tmp: Path, writer: DeterministicTarWriter
) -> ShardResult:
    """fsync the temporary file, rename it into place, then store its resume record."""
    try:
        with writing(tmp):
            sha256, size = writer.close()
        if size != plan.size:
            raise CuekitError(f"{plan.name}: wrote {size} bytes, planned {plan.size}")
        with writing(out_dir / plan.name):
            tmp.replace(out_dir / plan.name)
    finally:
        writer.abort()
        tmp.unlink(missing_ok=True)
    result = ShardResult(
        shard=plan.name,
        shard_index=plan.index,
        samples=len(plan.samples),
        size=size,
        sha256=sha256,
        content_digest=plan.content_digest,
    )
    write_json_atomic(record_path(out_dir, plan.name), result.record())
    return result


def write_shard(plan: ShardPlan, out_dir: Path) -> ShardResult:
    """Write one planned shard (temp name, fsync, rename, then its resume record)."""
    reused = reusable(plan, out_dir)
    if reused is not None:
        return reused
    return _commit(plan, out_dir, *_write_temp(plan, out_dir))


_MAX_PENDING_COMMITS = 2  # shards written but not yet fsynced and closed


def write_shards(
    plans: list[ShardPlan], out_dir: Path, on_written: Callable[[ShardPlan], None] | None = None
) -> list[ShardResult]:
    """Write ``plans`` in order, like :func:`write_shard` on each.

    A shard's fsync, rename and record run in a helper thread while the next shard is
    written: the fsync mostly waits on the disk. Each waiting shard keeps its file open,
    so at most ``_MAX_PENDING_COMMITS`` may wait: with thousands of small shards (e.g.
    ``--maxcount 1``) an unbounded queue ran out of file descriptors. If writing fails,
    the shards already written are still committed before the error propagates.
    """
    committed: list[Future[ShardResult]] = []
    settled = 0  # commits run in order in one thread: committed[:settled] are finished
    with ThreadPoolExecutor(1, thread_name_prefix="cuekit-commit") as committer:
        for plan in plans:
            while settled < len(committed) and (
                committed[settled].done() or len(committed) - settled >= _MAX_PENDING_COMMITS
            ):
                committed[settled].result()  # a failed commit stops the run now
                settled += 1
            reused = reusable(plan, out_dir)
            if reused is not None:
                committed.append(_done(reused))
            else:
                committed.append(
                    committer.submit(_commit, plan, out_dir, *_write_temp(plan, out_dir))
                )
            if on_written is not None:
                on_written(plan)
    return [future.result() for future in committed]


def _done(result: ShardResult) -> Future[ShardResult]:
    future: Future[ShardResult] = Future()
    future.set_result(result)
    return future


def write_shard_range(plans: list[ShardPlan], out_dir: Path) -> list[ShardResult]:
    """One worker's job: its contiguous range of shards, in order."""

    def report(plan: ShardPlan) -> None:
        if _progress_queue is not None:
            _progress_queue.put(len(plan.samples))

    return write_shards(plans, out_dir, report)


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
    with ProcessPoolExecutor(
        num_workers,
        mp_context=context,
        initializer=_init_worker,
        initargs=(os.getpid(), progress_queue),
    ) as pool:
        yield pool, progress_queue


def write_all(
    plans: list[ShardPlan],
    out_dir: Path,
    pool: ProcessPoolExecutor | None,
    progress_queue: Any,
    num_workers: int,
    total_samples: int,
) -> list[ShardResult]:
    """Write every planned shard; task ``w`` owns the ``w``-th contiguous range of shards."""
    with Progress(total_samples, desc="shard: write", unit="sample") as bar:
        if pool is None or len(plans) <= 1:
            return write_shards(plans, out_dir, lambda plan: bar.update(len(plan.samples)))
        ranges = split_ranges(len(plans), num_workers)
        futures = [pool.submit(write_shard_range, [plans[i] for i in r], out_dir) for r in ranges]
        while not all(f.done() for f in futures):
            try:
                bar.update(progress_queue.get(timeout=0.1))
            except queue.Empty:
                pass
        while not progress_queue.empty():  # drop reports still queued when the last ended
            progress_queue.get()
        bar.update(total_samples - bar.count)
        return [result for f in futures for result in f.result()]
