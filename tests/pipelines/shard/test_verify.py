"""`cuekit verify`: a clean folder passes; each kind of damage is reported by kind and place."""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path

import polars as pl
import pytest

from cuekit.errors import ConfigError
from cuekit.pipelines.shard import manifest as mf
from cuekit.pipelines.shard.tarwriter import DeterministicTarWriter
from cuekit.pipelines.shard.verify import verify


@pytest.fixture
def damaged(sharded, tmp_path: Path) -> Path:
    """A copy of the shard folder, for tests to break."""
    out, _ = sharded
    copy = tmp_path / "damaged"
    shutil.copytree(out, copy)
    return copy


def _kinds(report) -> list[tuple[str, str]]:
    return [(f.kind, f.where) for f in report.faults]


def test_clean_folder_and_patterns_pass(sharded) -> None:
    out, _ = sharded
    report = verify(str(out))
    assert report.ok and report.faults == []
    assert (report.shards_checked, report.samples_checked) == (3, 8)
    assert report.format().splitlines()[-1] == "verify: OK"
    assert verify(str(out / "shard-{000000..000002}.tar")).ok
    assert verify([str(out / "shard-000000.tar"), str(out / "shard-{000001..000002}.tar")]).ok


def test_truncated_shard(damaged: Path) -> None:
    path = damaged / "shard-000001.tar"
    path.write_bytes(path.read_bytes()[:3000])
    report = verify(str(damaged))
    kinds = _kinds(report)
    assert ("corrupt-tar", "shard-000001.tar") in kinds
    assert ("size", "shard-000001.tar") in kinds and ("checksum", "shard-000001.tar") in kinds
    assert not report.ok
    assert report.format().splitlines()[-1].startswith("verify: FAILED with ")


def test_flipped_byte_in_image_data(damaged: Path) -> None:
    path = damaged / "shard-000000.tar"
    data = bytearray(path.read_bytes())
    start = data.find(b"\x89PNG")  # inside s000.img0.png
    data[start + 100] ^= 0x01
    path.write_bytes(bytes(data))
    kinds = _kinds(verify(str(damaged)))
    assert ("checksum", "shard-000000.tar") in kinds
    assert ("sample", "shard-000000.tar/s000") in kinds  # image no longer matches its sha256
    faults = {f.where: f.message for f in verify(str(damaged)).faults if f.kind == "sample"}
    assert faults["shard-000000.tar/s000"] == "image s000.img0.png does not match its sha256"


def test_missing_and_extra_shards(damaged: Path) -> None:
    (damaged / "shard-000002.tar").unlink()
    shutil.copy(damaged / "shard-000001.tar", damaged / "stray.tar")
    report = verify(str(damaged))
    kinds = _kinds(report)
    assert ("missing-shard", "shard-000002.tar") in kinds
    assert ("extra-shard", "stray.tar") in kinds
    assert ("duplicate-key", "stray.tar/s003") in kinds  # its keys live in shard-000001 too


def test_duplicate_keys_across_listed_shards(damaged: Path) -> None:
    shutil.copy(damaged / "shard-000000.tar", damaged / "shard-000003.tar")
    shards = pl.read_parquet(damaged / mf.SHARDS_FILE)
    row = shards[0].with_columns(
        pl.lit("shard-000003.tar").alias("shard"), pl.lit(3, dtype=pl.Int32).alias("shard_index")
    )
    pl.concat([shards, row]).write_parquet(damaged / mf.SHARDS_FILE)
    kinds = _kinds(verify(str(damaged)))
    assert [k for k in kinds if k[0] == "duplicate-key"] == [
        ("duplicate-key", "shard-000003.tar/s000"),
        ("duplicate-key", "shard-000003.tar/s001"),
        ("duplicate-key", "shard-000003.tar/s002"),
    ]


def _members(path: Path) -> list[tuple[str, bytes]]:
    with tarfile.open(path) as tar:
        return [(m.name, tar.extractfile(m).read()) for m in tar.getmembers()]


def _write_members(path: Path, members: list[tuple[str, bytes]]) -> None:
    with DeterministicTarWriter(path) as writer:
        for name, data in members:
            writer.add(name, data)


def test_sample_level_faults(damaged: Path) -> None:
    good = damaged / "shard-000002.tar"
    members = _members(good)
    changed = b'"question":"CHANGED '
    edited = [
        (name, data.replace(b'"question":"', changed) if name == "s007.json" else data)
        for name, data in members
        if name != "s006.hint.txt"  # s006 loses its hint
    ]
    edited.append(("s007.extra.pyd", b"x"))
    edited.append(("s006.json", members[0][1]))  # s006 files no longer adjacent
    _write_members(good, edited)
    faults = {(f.kind, f.where, f.message) for f in verify(str(damaged)).faults}
    assert ("sample", "shard-000002.tar/s006", "no .hint.txt file") in faults
    assert ("sample", "shard-000002.tar/s007", "unexpected file s007.extra.pyd") in faults
    assert ("keys", "shard-000002.tar/s006", "files of this key not adjacent") in faults


def test_invalid_json_and_missing_index(damaged: Path) -> None:
    path = damaged / "shard-000001.tar"
    _write_members(
        path, [(n, b'{"sample": 1}' if n == "s003.json" else d) for n, d in _members(path)]
    )
    (damaged / mf.MANIFEST_FILE).unlink()
    report = verify(str(damaged))
    messages = {(f.kind, f.where): f.message for f in report.faults}
    assert messages[("sample", "shard-000001.tar/s003")].startswith("json does not validate")
    assert messages[("index", str(damaged))] == "no manifest.parquet next to the shards"


def test_bad_location() -> None:
    with pytest.raises(ConfigError, match="no shards in"):
        verify([])


def test_a_subset_checks_that_subset(sharded) -> None:
    out, _ = sharded
    for subset, shards in (
        (str(out / "shard-000001.tar"), 1),
        (str(out / "shard-{000000..000001}.tar"), 2),
    ):
        report = verify(subset)
        assert report.ok, report.format()
        assert report.shards_checked == shards
        assert report.notes == [f"checked {shards} of the 3 shards listed in shards.parquet"]


def test_a_subset_still_reports_its_own_faults(damaged: Path) -> None:
    path = damaged / "shard-000001.tar"
    path.write_bytes(path.read_bytes()[:3000])
    kinds = {kind for kind, _ in _kinds(verify(str(damaged / "shard-000001.tar")))}
    assert {"corrupt-tar", "size", "checksum"} <= kinds and "missing-shard" not in kinds
    assert verify(str(damaged / "shard-000002.tar")).ok


def test_the_summary_groups_faults_by_kind() -> None:
    from cuekit.pipelines.shard.verify import VerifyReport

    report = VerifyReport("x")
    for i in range(60):
        report.add("sample", f"a.tar/k{i:02d}", "no .hint.txt file")
    report.add("checksum", "b.tar", "sha256 differs")
    lines = report.format(per_kind=3).splitlines()
    assert lines[1] == "  faults by kind: sample 60, checksum 1"
    assert "  FAULT [checksum] b.tar: sha256 differs" in lines
    assert [line for line in lines if line.startswith("  FAULT [sample]")] == [
        f"  FAULT [sample] a.tar/k{i:02d}: no .hint.txt file" for i in range(3)
    ]
    assert "  ... and 57 more [sample] faults" in lines
    assert lines[-1] == "verify: FAILED with 61 faults"


def test_a_glob_names_a_subset_like_a_brace_range(damaged: Path) -> None:
    """``verify 'shards/shard-00000[01].tar'`` (quoted: no shell expanded it) checks the
    shards it matches, not one file literally named so; a glob matching nothing is a
    missing shard."""
    report = verify(str(damaged / "shard-00000[01].tar"))
    assert report.ok, report.format()
    assert (report.shards_checked, report.samples_checked) == (2, 6)
    assert report.notes == ["checked 2 of the 3 shards listed in shards.parquet"]
    path = damaged / "shard-000002.tar"
    path.write_bytes(path.read_bytes()[:3000])
    kinds = {kind for kind, _ in _kinds(verify(str(damaged / "shard-*.tar")))}
    assert {"corrupt-tar", "size", "checksum"} <= kinds and "missing-shard" not in kinds
    assert ("missing-shard", "shard-9*.tar") in _kinds(verify(str(damaged / "shard-9*.tar")))
