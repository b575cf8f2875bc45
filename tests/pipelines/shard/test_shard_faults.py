"""Shard under faults: open files with many small shards, a full disk, a second run on the
same folder, and workers whose parent is killed."""

from __future__ import annotations

import builtins
import os
import sys
import time
from pathlib import Path

import pytest

from cuekit.errors import CuekitError, OutputError
from cuekit.outputs import exclusive_lock
from cuekit.pipelines.shard import manifest as mf
from cuekit.pipelines.shard import tarwriter
from cuekit.pipelines.shard.run import ShardSettings, shard


def test_many_small_shards_keep_few_files_open(make_extract_dir, tmp_path, monkeypatch):
    """With --maxcount 1 every sample is a shard; commits that lag behind (a slow fsync)
    must not keep one open file per shard."""
    extract_dir, records = make_extract_dir(24)
    open_now, most = [0], [0]
    base = tarwriter.DeterministicTarWriter

    class Counting(base):
        def __init__(self, path):
            super().__init__(path)
            open_now[0] += 1
            most[0] = max(most[0], open_now[0])

        def _closed(self) -> None:
            if not getattr(self, "_counted_closed", False):
                self._counted_closed = True
                open_now[0] -= 1

        def close(self):
            result = super().close()
            self._closed()
            return result

        def abort(self):
            super().abort()
            self._closed()

    real_commit = tarwriter._commit

    def slow_commit(*args):
        time.sleep(0.02)  # the disk is slower than the writer
        return real_commit(*args)

    monkeypatch.setattr(tarwriter, "DeterministicTarWriter", Counting)
    monkeypatch.setattr(tarwriter, "_commit", slow_commit)
    report = shard(extract_dir, tmp_path / "shards", ShardSettings(maxcount=1))
    assert report.shards == len(records) == 24
    assert open_now[0] == 0
    assert most[0] <= tarwriter._MAX_PENDING_COMMITS + 1, most[0]


def test_a_full_output_disk_names_the_shard(make_extract_dir, tmp_path, monkeypatch):
    extract_dir, _ = make_extract_dir(6)

    def to_dev_full(path, mode="r", buffering=-1):
        return builtins.open("/dev/full", mode, buffering=buffering)

    monkeypatch.setattr(tarwriter, "open", to_dev_full, raising=False)
    out = tmp_path / "shards"
    with pytest.raises(
        OutputError,
        match=r"cannot write the output .*\.shard-000000\.tar\.tmp-"
        r"\d+: No space left on device",
    ):
        shard(extract_dir, out, ShardSettings(maxcount=3))
    assert not list(out.glob("*.tar")) and not list(out.glob(".*.tmp-*"))
    monkeypatch.undo()
    assert shard(extract_dir, out, ShardSettings(maxcount=3)).shards == 2


def test_a_second_run_on_the_same_output_is_refused(make_extract_dir, tmp_path):
    extract_dir, _ = make_extract_dir(4)
    out = tmp_path / "shards"
    with exclusive_lock(out, f"{mf.STATE_DIR}/run.lock", "shard"):
        with pytest.raises(CuekitError, match=f"{out} is in use by another `cuekit shard` run"):
            shard(extract_dir, out)
    assert shard(extract_dir, out).shards == 1


_RUN_SHARD = (
    "target.shard(sys.argv[1], sys.argv[2], target.ShardSettings(num_workers=2, maxcount=1))"
)


@pytest.mark.faults
def test_workers_die_with_a_killed_shard(make_extract_dir, tmp_path, helpers):
    extract_dir, _ = make_extract_dir(40)
    alive = helpers.kill_parent_and_watch_workers(
        [
            sys.executable,
            "-c",
            helpers.slowed_run("cuekit.pipelines.shard.run", "tar_sample", _RUN_SHARD),
            str(extract_dir),
            str(tmp_path / "shards"),
        ],
        workers=2,
        timeout=4.0,
    )
    assert alive == []
    assert Path(tmp_path / "shards").is_dir()


def test_a_full_disk_under_the_resize_cache_stops_the_run(make_extract_dir, tmp_path, monkeypatch):
    """Resized images are written to the output's cache: a failed write there is the
    output's fault (an OutputError naming the file), never a sample error or a crash."""
    from cuekit import io as io_module

    extract_dir, records = make_extract_dir(4, size=(80, 60))

    real = io_module.new_temp_file

    def to_dev_full(folder, prefix=".tmp-", suffix=""):
        if "resized" not in folder.parts:  # only the resize cache's writes
            return real(folder, prefix, suffix)
        return os.open("/dev/full", os.O_WRONLY), folder / ".tmp-never-made"

    monkeypatch.setattr(io_module, "new_temp_file", to_dev_full)
    out = tmp_path / "shards"
    settings = ShardSettings(maxcount=2, max_pixels=40 * 30)
    with pytest.raises(
        OutputError,
        match=r"cannot write the output .*/\.cuekit-shard/resized/"
        r"[0-9a-f]{64}\.\w+: No space left on device",
    ):
        shard(extract_dir, out, settings)
    assert not list(out.glob("*.tar")) and not (out / "errors.parquet").exists()
    monkeypatch.undo()
    report = shard(extract_dir, out, settings)
    assert (report.shards, report.errors, report.written) == (2, 0, len(records))
