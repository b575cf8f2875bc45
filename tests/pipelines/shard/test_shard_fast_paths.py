"""The shard step's fast paths: default sha256 check, header builder, path guard, commits."""

from __future__ import annotations

import hashlib
import os
import random
import string
import tarfile
from pathlib import Path

import polars as pl
import pytest

from cuekit.errors import CuekitError, SampleError
from cuekit.pipelines.shard import manifest as mf
from cuekit.pipelines.shard import run as shard_module
from cuekit.pipelines.shard import tarwriter
from cuekit.pipelines.shard.run import ShardSettings, shard


def test_default_check_is_sha256_and_both_checks_write_the_same_bytes(
    helpers, make_extract_dir, tmp_path: Path
) -> None:
    extract_dir, _ = make_extract_dir(9)
    default = shard(extract_dir, tmp_path / "default", ShardSettings(maxcount=3))
    decoded = shard(
        extract_dir, tmp_path / "decode", ShardSettings(maxcount=3, image_check="decode")
    )
    assert ShardSettings().image_check == "sha256"
    assert (default.written, default.errors) == (decoded.written, decoded.errors) == (9, 0)
    first = helpers.folder_digests(tmp_path / "default")
    assert len(first) == 3 and first == helpers.folder_digests(tmp_path / "decode")
    for name in (mf.MANIFEST_FILE, mf.SHARDS_FILE):
        assert pl.read_parquet(tmp_path / "default" / name).equals(
            pl.read_parquet(tmp_path / "decode" / name)
        )


def test_sha256_check_with_a_pixel_budget_resizes_like_decode(
    helpers, make_extract_dir, tmp_path: Path
) -> None:
    # sha256 mode takes the size from the record instead of the header: same decisions
    extract_dir, _ = make_extract_dir(4, size=(40, 30))
    for check in ("sha256", "decode"):
        shard(extract_dir, tmp_path / check, ShardSettings(max_pixels=300, image_check=check))
    assert helpers.folder_digests(tmp_path / "sha256") == helpers.folder_digests(
        tmp_path / "decode"
    )
    assert pl.read_parquet(tmp_path / "sha256" / mf.MANIFEST_FILE)["resized"].all()


def test_tar_header_matches_tarfile_for_every_kind_of_name() -> None:
    rng = random.Random(0)
    alphabet = string.ascii_letters + string.digits + "._-/"
    cases = [
        ("", 0),
        ("a" * 100, 1),
        ("a" * 101, 1),
        ("ünïcode.json", 5),
        ("k.img0.jpg", 8**11 - 1),
        ("k.img0.jpg", 8**11),
    ]
    cases += [
        (
            "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 100))),
            rng.choice([0, 1, 511, 512, 513, rng.randint(0, 10**10)]),
        )
        for _ in range(2000)
    ]
    for name, size in cases:
        expected = tarwriter.tar_info(name, size).tobuf(
            tarwriter.TAR_FORMAT, "utf-8", "surrogateescape"
        )
        assert tarwriter.tar_header(name, size) == expected, (name, size)
        assert tarwriter.member_size(name, size) == len(expected) + -(-size // 512) * 512


def test_tar_writer_joins_small_members_without_changing_bytes(tmp_path: Path) -> None:
    members = [("a.json", b"{}" * 40_000), ("a.img0.png", b"p" * 70_000), ("a.hint.txt", b"h")]
    with tarwriter.DeterministicTarWriter(tmp_path / "x.tar") as writer:
        for name, data in members:
            writer.add(name, data)
    written = (tmp_path / "x.tar").read_bytes()
    assert writer.result == (hashlib.sha256(written).hexdigest(), len(written))
    with tarfile.open(tmp_path / "x.tar") as tar:
        assert [(m.name, tar.extractfile(m).read()) for m in tar.getmembers()] == members


def test_path_guard_refuses_escapes_and_follows_links(tmp_path: Path) -> None:
    root = tmp_path / "extract"
    (root / "images" / "ab").mkdir(parents=True)
    (root / "images" / "ab" / "x.png").write_bytes(b"x")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "y.png").write_bytes(b"y")
    os.symlink(outside, root / "images" / "cd")  # a linked folder pointing out
    os.symlink(outside / "y.png", root / "images" / "ab" / "link.png")  # a linked file
    os.symlink(root / "images" / "ab" / "x.png", root / "images" / "ab" / "inner.png")
    real_root = os.path.realpath(root)
    shard_module._real_dir.cache_clear()

    def guard(relpath: str) -> str:
        return shard_module._inside(real_root, relpath, sample_id="s", field_name="f")

    assert guard("images/ab/x.png") == os.path.join(real_root, "images/ab/x.png")
    assert guard("images/ab/inner.png") == os.path.join(real_root, "images/ab/x.png")
    for bad in (
        "images/cd/y.png",
        "images/ab/link.png",
        "../elsewhere/y.png",
        str(outside / "y.png"),
        "images/../..",
    ):
        with pytest.raises(SampleError, match="points outside the extract folder"):
            guard(bad)


def test_write_shards_commits_finished_shards_when_a_later_one_fails(
    make_extract_dir, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    extract_dir, _ = make_extract_dir(6)
    reference = shard(extract_dir, tmp_path / "ref", ShardSettings(maxcount=2))
    assert reference.shards == 3

    real_read = tarwriter.Member.read

    def failing_read(self: tarwriter.Member) -> bytes:
        if self.name.startswith("s004"):  # the third shard
            raise OSError("disk gone")
        return real_read(self)

    monkeypatch.setattr(tarwriter.Member, "read", failing_read)
    out = tmp_path / "out"
    with pytest.raises(OSError, match="disk gone"):
        shard(extract_dir, out, ShardSettings(maxcount=2))
    # the two shards written before the failure were fsynced, renamed and recorded
    assert sorted(p.name for p in out.glob("*.tar")) == ["shard-000000.tar", "shard-000001.tar"]
    for name in ("shard-000000.tar", "shard-000001.tar"):
        assert (out / name).read_bytes() == (tmp_path / "ref" / name).read_bytes()
        assert tarwriter.record_path(out, name).is_file()
    assert not list(out.glob(".*.tmp-*"))


def test_trusted_check_writes_the_same_bytes_and_still_reports_missing_files(
    helpers, make_extract_dir, tmp_path: Path
) -> None:
    extract_dir, records = make_extract_dir(6)
    checked = shard(extract_dir, tmp_path / "sha256", ShardSettings(maxcount=2))
    trusted = shard(extract_dir, tmp_path / "none", ShardSettings(maxcount=2, image_check="none"))
    assert (checked.written, trusted.written) == (6, 6)
    assert helpers.folder_digests(tmp_path / "sha256") == helpers.folder_digests(tmp_path / "none")
    (extract_dir / records[3].sample.images[0].path).unlink()
    report = shard(extract_dir, tmp_path / "missing", ShardSettings(image_check="none"))
    assert (report.written, report.errors) == (5, 1)
    errors = pl.read_parquet(tmp_path / "missing" / mf.ERRORS_FILE)
    assert errors["sample_id"].to_list() == [records[3].sample.id]
    assert errors["message"][0].startswith("missing image file")


def test_trusted_check_refuses_a_file_changed_after_planning(
    make_extract_dir, tmp_path: Path
) -> None:
    extract_dir, records = make_extract_dir(2)
    path = extract_dir / records[0].sample.images[0].path
    original_plan = shard_module.plan_shards

    def plan_then_change(samples, settings):  # the file changes between plan and write
        plans = original_plan(samples, settings)
        path.write_bytes(path.read_bytes() + b"extra")
        return plans

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(shard_module, "plan_shards", plan_then_change)
        with pytest.raises(CuekitError, match="changed while sharding; rerun `cuekit shard`"):
            shard(extract_dir, tmp_path / "out", ShardSettings(image_check="none"))
