"""`cuekit shard`: layout, determinism, limits, resume, resize and bad inputs."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import polars as pl
import pytest
from PIL import Image

from cuekit.errors import ConfigError, CuekitError
from cuekit.pipelines.extract import layout
from cuekit.pipelines.shard import manifest as mf
from cuekit.pipelines.shard import tarwriter
from cuekit.pipelines.shard.run import ShardSettings, plan_shards, shard
from cuekit.schemas import ExtractedSample, is_safe_key
from cuekit.schemas.runs import SampleStats


def test_shard_layout_and_manifest(helpers, sharded: tuple[Path, list[ExtractedSample]]) -> None:
    out, records = sharded
    by_id = {r.sample.id: r for r in records}
    assert sorted(p.name for p in out.glob("*.tar")) == [
        "shard-000000.tar",
        "shard-000001.tar",
        "shard-000002.tar",
    ]
    seen = []
    for tar_path in sorted(out.glob("*.tar")):
        with tarfile.open(tar_path) as tar:
            for info in tar.getmembers():
                assert (info.mtime, info.uid, info.gid, info.uname, info.gname, info.mode) == (
                    0,
                    0,
                    0,
                    "",
                    "",
                    0o644,
                )
        names = [name for name, _ in helpers.tar_members(tar_path)]
        keys = [name.split(".", 1)[0] for name in names]
        # files of a sample are adjacent: each key forms one run
        runs = [k for i, k in enumerate(keys) if i == 0 or keys[i - 1] != k]
        assert len(runs) == len(set(runs))
        seen += runs
    assert seen == sorted(by_id)
    members = dict(m for p in sorted(out.glob("*.tar")) for m in helpers.tar_members(p))
    for key, record in by_id.items():
        # original bytes, unchanged, under their real format
        for i, ref in enumerate(record.sample.images):
            ext = "png" if ref.format == "png" else "jpg"
            stored = members[f"{key}.img{i}.{ext}"]
            assert hashlib.sha256(stored).hexdigest() == ref.sha256
        assert members[f"{key}.hint.txt"].decode() == record.cue.cue_text
    assert "s002.marked.png" in members

    manifest = pl.read_parquet(out / mf.MANIFEST_FILE)
    assert manifest["key"].to_list() == sorted(by_id)
    assert (
        manifest["shard"].to_list()
        == ["shard-000000.tar"] * 3 + ["shard-000001.tar"] * 3 + ["shard-000002.tar"] * 2
    )
    assert manifest["n_images"].to_list() == [len(by_id[k].sample.images) for k in sorted(by_id)]
    assert manifest["cue_style"].to_list() == [by_id[k].cue.cue_style for k in sorted(by_id)]
    assert manifest["leak"].to_list() == [by_id[k].cue.leak for k in sorted(by_id)]
    # offsets point at each sample's first header
    for row in manifest.iter_rows(named=True):
        with open(out / row["shard"], "rb") as handle:
            handle.seek(row["offset"])
            header = tarfile.TarInfo.frombuf(handle.read(512), "utf-8", "surrogateescape")
        assert header.name == f"{row['key']}.json"

    shards = pl.read_parquet(out / mf.SHARDS_FILE)
    assert shards["samples"].to_list() == [3, 3, 2]
    for row in shards.iter_rows(named=True):
        data = (out / row["shard"]).read_bytes()
        assert (len(data), hashlib.sha256(data).hexdigest()) == (row["bytes"], row["sha256"])
    stats = json.loads((out / mf.STATS_FILE).read_text())
    assert stats["url_pattern"] == "shard-{000000..000002}.tar"
    assert stats["totals"] == {
        "inputs": 8,
        "written": 8,
        "errors": 0,
        "shards": 3,
        "bytes": int(shards["bytes"].sum()),
        "reused_shards": 0,
    }
    assert stats["settings"]["maxcount"] == 3 and "webdataset" in stats["versions"]
    assert pl.read_parquet(out / mf.ERRORS_FILE).height == 0


def test_json_member_is_the_record_with_member_paths(
    helpers, sharded: tuple[Path, list[ExtractedSample]]
) -> None:
    out, records = sharded
    members = dict(m for p in sorted(out.glob("*.tar")) for m in helpers.tar_members(p))
    for record in records:
        key = record.sample.id
        stored = ExtractedSample.model_validate_json(members[f"{key}.json"])
        expected_images = [
            ref.model_copy(
                update={"path": f"{key}.img{i}.{'png' if ref.format == 'png' else 'jpg'}"}
            )
            for i, ref in enumerate(record.sample.images)
        ]
        assert stored.sample == record.sample.model_copy(update={"images": expected_images})
        marked = f"{key}.marked.png" if record.cue.marked_image else None
        assert stored.cue == record.cue.model_copy(update={"marked_image": marked})


def test_byte_identical_across_runs_and_worker_counts(
    helpers, make_extract_dir, tmp_path: Path
) -> None:
    extract_dir, _ = make_extract_dir(10)
    shard(extract_dir, tmp_path / "a", ShardSettings(maxcount=2))
    shard(extract_dir, tmp_path / "b", ShardSettings(maxcount=2, num_workers=2))
    shard(extract_dir, tmp_path / "c", ShardSettings(maxcount=2, num_workers=3))
    first = helpers.folder_digests(tmp_path / "a")
    assert len(first) == 5
    assert helpers.folder_digests(tmp_path / "b") == first == helpers.folder_digests(tmp_path / "c")
    for name in (mf.MANIFEST_FILE, mf.SHARDS_FILE):
        assert pl.read_parquet(tmp_path / "a" / name).equals(pl.read_parquet(tmp_path / "b" / name))


def test_maxcount_and_maxsize_limits(make_extract_dir, tmp_path: Path) -> None:
    extract_dir, _ = make_extract_dir(9)
    shard(extract_dir, tmp_path / "count", ShardSettings(maxcount=4))
    assert pl.read_parquet(tmp_path / "count" / mf.SHARDS_FILE)["samples"].to_list() == [4, 4, 1]
    maxsize = 30720
    report = shard(extract_dir, tmp_path / "size", ShardSettings(maxsize=maxsize))
    sizes = [p.stat().st_size for p in sorted((tmp_path / "size").glob("*.tar"))]
    assert report.shards == len(sizes) > 1 and max(sizes) <= maxsize
    # greedy packing: no shard could have taken the next shard's first sample
    manifest = pl.read_parquet(tmp_path / "size" / mf.MANIFEST_FILE)
    for index in range(report.shards - 1):
        rows = manifest.filter(pl.col("shard_index") == index)
        nxt = manifest.filter(pl.col("shard_index") == index + 1)["bytes"][0]
        assert tarwriter.archive_size(int(rows["bytes"].sum()) + nxt) > maxsize


def test_plan_packs_sorted_and_never_opens_an_empty_shard() -> None:
    settings = ShardSettings(maxcount=2)
    assert plan_shards([], settings) == []
    members = (tarwriter.Member("x.json", 10, "0" * 64, data=b"0" * 10),)
    samples = [
        tarwriter.PreparedSample(
            k,
            tuple(tarwriter.Member(f"{k}.json", 10, "0" * 64, data=b"0" * 10) for _ in members),
            SampleStats(k, 0, 10, 0, 0, False, "hint", False, "test", "train"),
        )
        for k in ("c", "a", "b")
    ]
    plans = plan_shards(samples, settings)
    assert [[s.key for s in p.samples] for p in plans] == [["a", "b"], ["c"]]
    assert [p.name for p in plans] == ["shard-000000.tar", "shard-000001.tar"]


def test_keys_are_safe_and_unsafe_ids_are_refused(
    helpers, make_extract_dir, tmp_path: Path
) -> None:
    extract_dir, _ = make_extract_dir(3)
    frame = pl.read_parquet(extract_dir / layout.CUES_FILE)
    bad_sample = json.loads(frame["sample"][0]) | {"id": "bad.id/x"}
    bad_cue = json.loads(frame["cue"][0]) | {"sample_id": "bad.id/x"}
    bad = frame[:1].with_columns(
        pl.lit("bad.id/x").alias("id"),
        pl.lit(json.dumps(bad_sample)).alias("sample"),
        pl.lit(json.dumps(bad_cue)).alias("cue"),
    )
    pl.concat([frame, bad]).write_parquet(extract_dir / layout.CUES_FILE)
    report = shard(extract_dir, tmp_path / "out")
    assert (report.inputs, report.written, report.errors) == (4, 3, 1)
    errors = pl.read_parquet(tmp_path / "out" / mf.ERRORS_FILE)
    assert errors["sample_id"].to_list() == ["bad.id/x"]
    assert errors["field"].to_list() == ["id"] and errors["stage"].to_list() == ["shard"]
    for tar_path in (tmp_path / "out").glob("*.tar"):
        for name, _ in helpers.tar_members(tar_path):
            key = name.split(".", 1)[0]
            assert is_safe_key(key) and "/" not in name


def _record_truncated_image(extract_dir: Path, record: ExtractedSample) -> ExtractedSample:
    """Cut the image's bytes short and record their sha256: only decoding can tell."""
    ref = record.sample.images[0]
    data = (extract_dir / ref.path).read_bytes()
    corrupt = data[: len(data) * 3 // 4]
    sha = hashlib.sha256(corrupt).hexdigest()
    rel = layout.image_relpath(sha, ref.format)
    (extract_dir / rel).parent.mkdir(parents=True, exist_ok=True)
    (extract_dir / rel).write_bytes(corrupt)
    images = [ref.model_copy(update={"path": rel, "sha256": sha})]
    return ExtractedSample(
        sample=record.sample.model_copy(update={"images": images}), cue=record.cue
    )


def test_bad_samples_go_to_errors_and_counts_reconcile(
    helpers, make_extract_dir, tmp_path: Path
) -> None:
    extract_dir, records = make_extract_dir(7)
    # s001: missing file; s003: bytes differ from the recorded sha256;
    # s004 (png) and s005 (jpeg): truncated bytes whose sha256 is recorded
    (extract_dir / records[1].sample.images[0].path).unlink()
    (extract_dir / records[3].sample.images[0].path).write_bytes(b"not the original")
    records[4] = _record_truncated_image(extract_dir, records[4])
    records[5] = _record_truncated_image(extract_dir, records[5])
    records.append(records[0])  # duplicate id
    helpers.write_extract_dir(extract_dir, records)

    report = shard(extract_dir, tmp_path / "out", ShardSettings(maxcount=2, image_check="decode"))
    assert (report.inputs, report.written, report.errors) == (8, 3, 5)
    assert "8 samples -> 3 written" in report.summary() and "5 errors" in report.summary()
    errors = {
        row["sample_id"]: row
        for row in pl.read_parquet(tmp_path / "out" / mf.ERRORS_FILE).iter_rows(named=True)
    }
    assert sorted(errors) == ["s000", "s001", "s003", "s004", "s005"]
    assert errors["s000"]["message"] == "duplicate sample id"
    assert errors["s001"]["message"].startswith("missing image file 'images/")
    assert errors["s001"]["field"] == "sample.images.0.path"
    assert "do not match the recorded sha256" in errors["s003"]["message"]
    for key in ("s004", "s005"):
        assert errors[key]["message"].startswith(
            "image does not decode (OSError: image file is truncated"
        ), errors[key]["message"]
    assert pl.read_parquet(tmp_path / "out" / mf.MANIFEST_FILE)["key"].to_list() == [
        "s000",
        "s002",
        "s006",
    ]

    # sha256-only checking trusts extract's decode: the truncated images pass through
    report = shard(extract_dir, tmp_path / "fast", ShardSettings(image_check="sha256"))
    assert (report.written, report.errors) == (5, 3)


def test_resize_updates_refs_and_scales_boxes(helpers, make_extract_dir, tmp_path: Path) -> None:
    extract_dir, records = make_extract_dir(4, size=(40, 30))
    shard(extract_dir, tmp_path / "out", ShardSettings(max_pixels=300))
    tars = sorted((tmp_path / "out").glob("*.tar"))
    members = dict(m for p in tars for m in helpers.tar_members(p))
    for record in records:
        key = record.sample.id
        stored = ExtractedSample.model_validate_json(members[f"{key}.json"])
        for i, ref in enumerate(stored.sample.images):
            data = members[ref.path]
            image = Image.open(io.BytesIO(data))
            assert (ref.width, ref.height) == image.size == (20, 15)  # sqrt(300/1200) = 0.5
            assert ref.sha256 == hashlib.sha256(data).hexdigest()
            assert ref.format == record.sample.images[i].format
            assert image.format.lower() == ref.format
        for before, after in zip(record.cue.detections, stored.cue.detections, strict=True):
            assert after.xyxy == pytest.approx([v * 0.5 for v in before.xyxy])
            assert after.box_1000 == before.box_1000
    manifest = pl.read_parquet(tmp_path / "out" / mf.MANIFEST_FILE)
    assert manifest["resized"].to_list() == [True] * 4
    # an image already under the budget keeps its original bytes
    shard(extract_dir, tmp_path / "big", ShardSettings(max_pixels=10_000))
    assert not any(pl.read_parquet(tmp_path / "big" / mf.MANIFEST_FILE)["resized"])


def test_resume_after_crash_reaches_the_same_bytes(
    helpers, make_extract_dir, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    extract_dir, _ = make_extract_dir(8)
    settings = ShardSettings(maxcount=2)
    shard(extract_dir, tmp_path / "fresh", settings)
    expected = helpers.folder_digests(tmp_path / "fresh")

    out = tmp_path / "crashed"
    real_add = tarwriter.DeterministicTarWriter.add
    calls = {"n": 0}

    def failing_add(self: tarwriter.DeterministicTarWriter, name: str, data: bytes) -> None:
        calls["n"] += 1
        if name.startswith("s004"):  # dies inside the third shard
            raise KeyboardInterrupt
        real_add(self, name, data)

    monkeypatch.setattr(tarwriter.DeterministicTarWriter, "add", failing_add)
    with pytest.raises(KeyboardInterrupt):
        shard(extract_dir, out, settings)
    monkeypatch.undo()
    # no half-written shard under a final name, no temp file left behind
    assert sorted(p.name for p in out.glob("*.tar")) == ["shard-000000.tar", "shard-000001.tar"]
    assert not list(out.glob(".*.tmp-*"))
    (out / ".shard-000007.tar.tmp-1").write_bytes(b"stale temp of a killed run")

    report = shard(extract_dir, out, settings)
    assert report.reused_shards == 2
    assert helpers.folder_digests(out) == expected
    assert not list(out.glob(".*.tmp-*"))

    # a shard damaged after the run is rewritten, not trusted
    damaged = bytearray((out / "shard-000001.tar").read_bytes())
    damaged[600] ^= 0xFF
    (out / "shard-000001.tar").write_bytes(bytes(damaged))
    report = shard(extract_dir, out, settings)
    assert report.reused_shards == 3 and helpers.folder_digests(out) == expected

    # new settings: old shards from our own earlier plan are replaced
    report = shard(extract_dir, out, ShardSettings(maxcount=5))
    assert report.reused_shards == 0
    shard(extract_dir, tmp_path / "fresh5", ShardSettings(maxcount=5))
    assert helpers.folder_digests(out) == helpers.folder_digests(tmp_path / "fresh5")


def test_empty_input_writes_no_shard(helpers, tmp_path: Path) -> None:
    extract_dir = helpers.write_extract_dir(tmp_path / "empty", [])
    report = shard(extract_dir, tmp_path / "out")
    assert (report.inputs, report.written, report.shards, report.url_pattern) == (0, 0, 0, "")
    assert not list((tmp_path / "out").glob("*.tar"))
    assert pl.read_parquet(tmp_path / "out" / mf.SHARDS_FILE).height == 0


def test_bad_settings_and_inputs(tmp_path: Path, make_extract_dir) -> None:
    with pytest.raises(ConfigError, match="--maxcount must be >= 1, got 0"):
        ShardSettings(maxcount=0)
    with pytest.raises(ConfigError, match="--maxsize must be >= 10240 bytes, got 100"):
        ShardSettings(maxsize=100)
    with pytest.raises(ConfigError, match="--image-check must be decode, sha256 or none, got 'x'"):
        ShardSettings(image_check="x")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="exactly one %d field"):
        ShardSettings(pattern="shard.tar")
    with pytest.raises(ConfigError, match="ending in .tar"):
        ShardSettings(pattern="sub/shard-%04d.tar")
    with pytest.raises(CuekitError, match="cues.parquet not found: point --input"):
        shard(tmp_path / "nowhere", tmp_path / "out")
    extract_dir, _ = make_extract_dir(2)
    out = tmp_path / "taken"
    out.mkdir()
    (out / "shard-000009.tar").write_bytes(b"someone else's")
    with pytest.raises(ConfigError, match="holds shard-000009.tar, which this run would not"):
        shard(extract_dir, out)
    with pytest.raises(ConfigError, match="--output must differ from --input"):
        shard(extract_dir, extract_dir)


def test_brace_pattern() -> None:
    assert mf.brace_pattern("shard-%06d.tar", 13) == "shard-{000000..000012}.tar"
    assert mf.brace_pattern("part%d.tar", 12) == "part{0..11}.tar"
    assert mf.brace_pattern("shard-%06d.tar", 1) == "shard-000000.tar"
    assert mf.pattern_regex("shard-%06d.tar").match("shard-000003.tar")
    assert not mf.pattern_regex("shard-%06d.tar").match("shard-000003.tar.tmp")


def test_make_record_helper_is_valid(helpers, tmp_path: Path) -> None:
    record = helpers.make_record(tmp_path, 5)
    assert record.sample.images[0].format == "jpeg"
    assert (tmp_path / record.sample.images[0].path).is_file()


def test_tar_writer_matches_stdlib_tarfile(tmp_path: Path) -> None:
    """The fast writer produces exactly what tarfile writes for the same headers."""
    members = [("k" * 150 + ".json", b"x" * 700), ("k.img0.jpg", b"y" * 10000), ("k.hint.txt", b"")]
    with tarwriter.DeterministicTarWriter(tmp_path / "fast.tar") as writer:
        for name, data in members:
            writer.add(name, data)
    reference = io.BytesIO()
    with tarfile.open(fileobj=reference, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in members:
            tar.addfile(tarwriter.tar_info(name, len(data)), io.BytesIO(data))
    written = (tmp_path / "fast.tar").read_bytes()
    assert written == reference.getvalue()
    assert writer.result == (hashlib.sha256(written).hexdigest(), len(written))
    expected = tarwriter.archive_size(sum(tarwriter.member_size(n, len(d)) for n, d in members))
    assert len(written) == expected


def test_progress_logs_rate_without_a_tty(caplog: pytest.LogCaptureFixture) -> None:
    from cuekit.pipelines.progress import progress

    with caplog.at_level("INFO", logger="cuekit.progress"):
        items = list(progress(range(5), desc="unit", unit="sample", log_every_s=0.0, use_bar=False))
    assert items == [0, 1, 2, 3, 4]
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0].startswith("unit: 1/5 sample (20%), ")
    assert lines[-1].startswith("unit: 5/5 sample (100%), ") and lines[-1].endswith("sample/s")
