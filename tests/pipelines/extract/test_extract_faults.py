"""Extract under faults: a full output disk, bad bytes in the input, a second run on the
same folder, an edited input, a resume that must batch like the first run, the umask."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import polars as pl
import pytest

from cuekit import io as io_module
from cuekit.datasets.sources import RawSample, RowError, SourceSpec, iter_source
from cuekit.errors import ConfigError, CuekitError, OutputError
from cuekit.grounding.base import DetectorOptions
from cuekit.outputs import exclusive_lock
from cuekit.pipelines.extract.parts import PARTS_DIR
from cuekit.pipelines.extract.run import ExtractConfig, run_extract

LIMIT = 12


def _config(out: Path, dataset: str = "sample", **kw) -> ExtractConfig:
    kw.setdefault("detectors", ("annotations",))
    kw.setdefault("limit", LIMIT)
    return ExtractConfig(source=SourceSpec(dataset=dataset), output=out, **kw)


def _cues(out: Path) -> pl.DataFrame:
    return pl.read_parquet(out / "cues.parquet")


def _part_rows(out: Path) -> pl.DataFrame:
    files = sorted((out / PARTS_DIR).glob("rank-*/*.parquet"))
    if not files:
        return pl.DataFrame({"_row": [], "message": []})
    return pl.concat(
        [
            pl.read_parquet(f).select(
                "_row", *(["message"] if "message" in pl.read_parquet_schema(f) else [])
            )
            for f in files
        ],
        how="diagonal",
    )


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("reference") / "out"
    run_extract(_config(out))
    return out


# ------------------------------------------------------------- 1: the output disk fails


def _full_disk_after(count: int, monkeypatch) -> None:
    """Image writes after the first ``count`` go to /dev/full: a real ENOSPC from the kernel."""
    real = io_module.new_temp_file
    calls = {"n": 0}

    def temp_file(folder: Path, prefix: str = ".tmp-", suffix: str = ""):
        if not {"images", "marks"} & set(folder.parts):  # not an image write
            return real(folder, prefix, suffix)
        calls["n"] += 1
        if calls["n"] <= count:
            return real(folder, prefix, suffix)
        return os.open("/dev/full", os.O_WRONLY), folder / ".tmp-never-made"

    monkeypatch.setattr(io_module, "new_temp_file", temp_file)


@pytest.mark.parametrize("num_workers", [0, 1])
def test_a_full_output_disk_stops_the_run_and_loses_no_row(
    tmp_path, monkeypatch, reference, num_workers
):
    config = _config(tmp_path / "out", num_workers=num_workers, part_size=2)
    _full_disk_after(5, monkeypatch)
    with pytest.raises(OutputError) as info:
        run_extract(config)
    message = str(info.value)
    assert "No space left on device" in message
    assert str(config.output / "images") in message and "rerun to resume" in message
    recorded = _part_rows(config.output)
    assert 0 < recorded.height < LIMIT  # the rows before the failure are kept...
    if "message" in recorded.columns:  # ...and none was recorded as an input error
        assert not any("No space" in (m or "") for m in recorded["message"].to_list())
    monkeypatch.undo()
    resumed = run_extract(config)
    assert resumed.counts == json.loads((reference / "run.json").read_text())["counts"]
    assert resumed.processed == LIMIT - recorded.height
    assert _cues(config.output).equals(_cues(reference))


def test_a_failed_part_write_is_an_output_error(tmp_path, monkeypatch):
    import cuekit.pipelines.extract.parts as parts

    def full(frame, path):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(pl.DataFrame, "write_parquet", full)
    config = _config(tmp_path / "out", part_size=2)
    with pytest.raises(
        OutputError,
        match="cannot write the output .*cues-000000.parquet.tmp|cannot write the output .*parquet",
    ):
        run_extract(config)
    assert not list((config.output / PARTS_DIR).glob("rank-*/*.parquet"))
    assert parts.done_rows(config.output) == set()


def _mount_tmpfs(folder: Path, size_kib: int) -> bool:
    folder.mkdir(parents=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_kib}k", "tmpfs", str(folder)],
        capture_output=True,
    )
    return done.returncode == 0


@pytest.mark.faults
@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
def test_images_on_a_small_tmpfs_stop_the_run_and_a_rerun_resumes(tmp_path, reference):
    stored = sorted((reference / "images").rglob("*.*"))
    config = _config(tmp_path / "out", part_size=2)
    images = config.output / "images"
    # tmpfs counts whole pages: room for about half the images (and their folders)
    if not _mount_tmpfs(images, 4 * len(stored)):
        pytest.skip("tmpfs mount refused in this container")
    try:
        with pytest.raises(OutputError, match="No space left on device"):
            run_extract(config)
        done = _part_rows(config.output).height
        assert done < LIMIT
    finally:
        subprocess.run(["umount", str(images)], check=True)
    resumed = run_extract(config)  # the folder is a plain one again, with room
    assert resumed.processed == LIMIT - done
    assert _cues(config.output).equals(_cues(reference))


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_a_read_only_output_folder_is_an_output_error(tmp_path):
    config = _config(tmp_path / "out")
    (config.output / "images").mkdir(parents=True)
    (config.output / "images").chmod(0o500)
    try:
        with pytest.raises(OutputError, match="Permission denied"):
            run_extract(config)
    finally:
        (config.output / "images").chmod(0o700)


# ------------------------------------------------------------- 3: bytes in a jsonl


def test_invalid_utf8_costs_one_row_and_a_bom_costs_none(tmp_path):
    (tmp_path / "a.png").write_bytes(b"not needed by the source stage")
    good = [
        json.dumps({"id": f"q{i}", "question": "Q?", "image": "a.png"}).encode() for i in range(3)
    ]
    path = tmp_path / "data.jsonl"
    path.write_bytes(
        b"\xef\xbb\xbf"
        + good[0]
        + b"\n"
        + b'{"id": "q\xff", "question": "x"}\n'
        + good[1]
        + b"\r\n"
        + good[2]
        + b"\n"
    )
    items = list(iter_source(SourceSpec(dataset=str(path))))
    assert [type(i) for i in items] == [RawSample, RowError, RawSample, RawSample]
    assert [i.original_id for i in items] == ["q0", "train-000001", "q1", "q2"]
    assert str(items[1].error) == (
        "sample 'train-000001': line 2 is not valid UTF-8: byte 0xff at column 10 (in data.jsonl)"
    )
    assert items[1].error.stage == "source"


def test_a_json_list_with_a_bom_reads(tmp_path):
    path = tmp_path / "data.json"
    path.write_bytes(
        b"\xef\xbb\xbf" + json.dumps([{"id": "a", "question": "Q?", "image": "a.png"}]).encode()
    )
    (item,) = iter_source(SourceSpec(dataset=str(path)))
    assert isinstance(item, RawSample) and item.original_id == "a"


# ------------------------------------------------------------- 10: one run per folder


def test_a_second_run_on_the_same_output_is_refused(tmp_path):
    config = _config(tmp_path / "out")
    with exclusive_lock(config.output, ".cuekit-extract-rank-00000-of-00001.lock", "extract"):
        with pytest.raises(
            CuekitError,
            match=f"{config.output} is in use by another `cuekit "
            f"extract` run \\(pid {os.getpid()}\\)",
        ):
            run_extract(config)
    assert not (config.output / "cues.parquet").exists()
    assert run_extract(config).counts["input"] == LIMIT  # free again once released


def test_ranks_of_one_world_share_a_folder(tmp_path):
    first = _config(tmp_path / "out", rank=0, world_size=2)
    # rank 0 busy: rank 1 still runs
    with exclusive_lock(first.output, ".cuekit-extract-rank-00000-of-00002.lock", "extract"):
        assert run_extract(_config(tmp_path / "out", rank=1, world_size=2)).counts is None


# ------------------------------------------------------------- 12: an edited input


def _jsonl_dataset(folder: Path, n: int) -> Path:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (16, 12), (200, 30, 30)).save(folder / "red.png")
    lines = [
        json.dumps(
            {
                "id": f"q{i}",
                "question": f"Where is the red square {i}?",
                "image": "red.png",
                "objects": [],
            }
        )
        for i in range(n)
    ]
    path = folder / "questions.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_an_edited_input_refuses_a_stale_resume(tmp_path):
    path = _jsonl_dataset(tmp_path / "data", 6)
    config = _config(tmp_path / "out", dataset=str(path), limit=None)
    assert run_extract(config).counts["input"] == 6
    path.write_text("".join(path.read_text().splitlines(keepends=True)[:5]))  # drop a line
    with pytest.raises(
        ConfigError, match="the input of .* changed since the run started .*--overwrite"
    ):
        run_extract(config)
    redone = run_extract(_config(tmp_path / "out", dataset=str(path), limit=None, overwrite=True))
    assert redone.counts["input"] == 5


def test_an_unchanged_input_resumes(tmp_path):
    path = _jsonl_dataset(tmp_path / "data", 4)
    config = _config(tmp_path / "out", dataset=str(path), limit=None)
    run_extract(config)
    os.utime(path)  # touched, same bytes
    again = run_extract(config)
    assert again.processed == 0 and again.counts["input"] == 4


def test_a_replaced_image_in_an_image_folder_refuses_a_stale_resume(tmp_path):
    """The rows of an image folder name its images: replacing one (same name, same size)
    would keep its old cue; a touch or a copy still resumes."""
    from PIL import Image

    folder = tmp_path / "data"
    _jsonl_dataset(folder, 3)
    config = _config(tmp_path / "out", dataset=str(folder), limit=None)
    assert run_extract(config).counts["input"] == 3
    os.utime(folder / "red.png")
    assert run_extract(config).processed == 0
    Image.new("RGB", (16, 12), (30, 30, 200)).save(folder / "red.png")  # same name and size
    with pytest.raises(ConfigError, match="the input of .* changed since the run started"):
        run_extract(config)


def test_an_edited_parquet_or_a_new_file_in_a_parquet_folder_refuses_a_stale_resume(tmp_path):
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (16, 12), (200, 30, 30)).save(buffer, format="PNG")
    image = {"bytes": buffer.getvalue(), "path": None}

    def frame(start: int, n: int) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "id": [f"q{i}" for i in range(start, start + n)],
                "question": [f"Where is the red square {i}?" for i in range(start, start + n)],
                "image": [image] * n,
                "objects": [[]] * n,
            },
            schema_overrides={"objects": pl.List(pl.String)},
        )

    folder = tmp_path / "snap" / "data"
    folder.mkdir(parents=True)
    frame(0, 4).write_parquet(folder / "train-00000-of-00002.parquet")
    single = _config(
        tmp_path / "one", dataset=str(folder / "train-00000-of-00002.parquet"), limit=None
    )
    whole = _config(tmp_path / "all", dataset=str(tmp_path / "snap"), limit=None)
    assert run_extract(single).counts["input"] == run_extract(whole).counts["input"] == 4
    frame(4, 2).write_parquet(folder / "train-00001-of-00002.parquet")  # a second shard
    assert run_extract(single).processed == 0  # its own file is unchanged
    with pytest.raises(ConfigError, match="the input of .* changed since the run started"):
        run_extract(whole)
    frame(0, 3).write_parquet(folder / "train-00000-of-00002.parquet")  # a row deleted
    with pytest.raises(ConfigError, match="the input of .* changed since the run started"):
        run_extract(single)


# ------------------------------------------------------------- 13: resume equivalence


def _killed_after_writes(count: int, monkeypatch) -> None:
    """Part writes after the first ``count`` fail like a ``kill -9`` would stop them: this
    one and every later one (the finally-flush of a dead process never happens)."""
    import cuekit.pipelines.extract.parts as parts

    real = parts.write_parquet_atomic
    calls = {"n": 0}

    def write(path, frame):
        calls["n"] += 1
        if calls["n"] > count:
            raise KeyboardInterrupt
        real(path, frame)

    monkeypatch.setattr(parts, "write_parquet_atomic", write)


def _gdino_config(output, batch_size: int) -> ExtractConfig:
    """10 rows through tiny-random Grounding DINO keeping every box, 2 records a part."""
    return _config(
        output,
        detectors=("grounding-dino",),
        limit=10,
        part_size=2,
        detector=DetectorOptions(
            model="tiny-random", batch_size=batch_size, box_threshold=0.0, text_threshold=0.0
        ),
    )


def test_a_resumed_grounding_dino_run_equals_an_uninterrupted_one(tmp_path, monkeypatch):
    """Boxes and scores depend on which images share a detector batch (padding, float
    sums). Batches are fixed by row position and parts hold whole batches, so a run killed
    between two part writes resumes to exactly the uninterrupted result."""

    def config(name: str) -> ExtractConfig:
        return _gdino_config(tmp_path / name, batch_size=4)

    reference = run_extract(config("ref"))
    assert _cues(reference.output)["n_detections"].sum() > 0
    resumable = config("run")
    _killed_after_writes(1, monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        run_extract(resumable)
    monkeypatch.undo()
    done = sorted(_part_rows(resumable.output)["_row"].to_list())
    assert done and len(done) % 4 == 0, done  # whole batches only
    resumed = run_extract(resumable)
    assert resumed.processed == 10 - len(done)
    assert _cues(resumed.output).equals(_cues(reference.output))


def test_a_resume_with_another_batch_size_warns_and_stays_within_the_tolerance(
    tmp_path, monkeypatch, caplog
):
    """A resume after running out of memory takes a smaller --batch-size: allowed, but the
    remaining rows are batched differently, so it says so, and the result stays within
    the documented tolerance of an uninterrupted run."""

    def config(name: str, batch_size: int) -> ExtractConfig:
        return _gdino_config(tmp_path / name, batch_size=batch_size)

    reference = _cues(run_extract(config("ref", 4)).output)
    _killed_after_writes(1, monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        run_extract(config("run", 4))
    monkeypatch.undo()
    with caplog.at_level("WARNING", logger="cuekit.extract"):
        resumed = _cues(run_extract(config("run", 3)).output)
    assert any(
        "resuming with --batch-size 3, the run started with 4" in m for m in caplog.messages
    ), caplog.messages
    assert resumed["id"].to_list() == reference["id"].to_list()
    for got, want in zip(resumed["cue"].to_list(), reference["cue"].to_list(), strict=True):
        got, want = json.loads(got)["detections"], json.loads(want)["detections"]
        assert [d["label"] for d in got] == [d["label"] for d in want]
        for a, b in zip(got, want, strict=True):
            assert a["score"] == pytest.approx(b["score"], abs=1e-5)
            assert a["xyxy"] == pytest.approx(b["xyxy"], abs=1e-3)


# ------------------------------------------------------------- 14: the umask


def test_outputs_respect_the_umask(tmp_path):
    previous = os.umask(0o022)
    try:
        out = run_extract(_config(tmp_path / "out", limit=3, cue_style="marks")).output
    finally:
        os.umask(previous)
    paths = [out, *out.rglob("*")]
    assert any(p.suffix == ".png" for p in paths) and any(p.suffix == ".parquet" for p in paths)
    for path in paths:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o755 if path.is_dir() else 0o644), (path, oct(mode))


def test_detector_batches_are_cut_by_row_position():
    from cuekit.pipelines.extract.cue_stage import batched
    from cuekit.pipelines.extract.prepare import Failed, Prepared

    def item(row: int) -> Prepared:
        return Prepared(row_index=row, sample=None, images=[])  # type: ignore[arg-type]

    failed = Failed(6, error=None)  # type: ignore[arg-type]
    stream = [item(2), item(3), item(4), item(5), failed, item(7), item(8), item(9)]
    groups = [
        ([p.row_index for p in batch], [f.row_index for f in fails])
        for batch, fails in batched(stream, 4, bucket=lambda row: row // 4)
    ]
    assert groups == [([2, 3], []), ([], [6]), ([4, 5, 7], []), ([8, 9], [])]


# ------------------------------------------------------------- 11: workers die with the parent

_RUN_EXTRACT = """
from cuekit.pipelines.extract.run import ExtractConfig, run_extract
from cuekit.datasets.sources import SourceSpec
run_extract(ExtractConfig(source=SourceSpec(dataset="sample"), output=Path(sys.argv[1]),
                          detectors=("annotations",), num_workers=2))"""


@pytest.mark.faults
def test_workers_die_with_a_killed_extract(tmp_path, helpers):
    import sys

    alive = helpers.kill_parent_and_watch_workers(
        [
            sys.executable,
            "-c",
            helpers.slowed_run("cuekit.pipelines.extract.prepare", "prepare_sample", _RUN_EXTRACT),
            str(tmp_path / "out"),
        ],
        workers=2,
        timeout=4.0,
    )
    assert alive == []
    # and the folder is free for the rerun at once (no worker kept the lock)
    assert run_extract(_config(tmp_path / "out", limit=None)).counts is not None


def test_a_merge_marker_left_by_a_killed_run_does_not_block_the_merge(tmp_path):
    config = _config(tmp_path / "out", limit=4)
    (config.output / PARTS_DIR).mkdir(parents=True)
    (config.output / PARTS_DIR / "merge.lock").write_text("4242\n")  # its owner is gone
    assert run_extract(config).counts["input"] == 4
    assert (config.output / "cues.parquet").is_file()


def test_the_cli_exits_non_zero_with_one_line_naming_the_path(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from cuekit.cli import cli

    _full_disk_after(0, monkeypatch)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli,
        [
            "extract",
            "--dataset",
            "sample",
            "--output",
            str(out),
            "--detector",
            "annotations",
            "--limit",
            "4",
        ],
    )
    assert result.exit_code == 1
    assert f"Error: cannot write the output {out / 'images'}" in result.output
    assert "No space left on device" in result.output and "Traceback" not in result.output
