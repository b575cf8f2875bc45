"""`cuekit shard`, `verify` and `inspect` through Click: output, exit codes, one-line errors."""

from __future__ import annotations

import io
import json
from pathlib import Path

from click.testing import CliRunner
from PIL import Image

from cuekit.cli import cli
from cuekit.pipelines.extract import layout
from cuekit.pipelines.extract.images import store_image_bytes
from cuekit.pipelines.extract.layout import write_extract_dir
from cuekit.schemas import (
    CueRecord,
    Detection,
    ExtractedSample,
    ExtractorSettings,
    Phrase,
    Sample,
)


def _extract_dir(root: Path, n: int = 5) -> Path:
    """A minimal extract folder: one 24x16 PNG and one detection per sample."""
    records = []
    for i in range(n):
        buffer = io.BytesIO()
        Image.new("RGB", (24, 16), (10 * i, 80, 160)).save(buffer, format="PNG")
        image = store_image_bytes(root, buffer.getvalue(), sample_id=f"s{i:03d}")
        sample = Sample(
            id=f"s{i:03d}",
            original_id=str(i),
            source="cli",
            split="test",
            question="Which circle is larger?",
            answer="A",
            images=[image],
        )
        detection = Detection(
            label="circle",
            phrase_index=0,
            xyxy=(2.0, 2.0, 12.0, 10.0),
            box_1000=(83, 125, 500, 625),
            score=0.9,
            backend="test",
        )
        cue = CueRecord(
            sample_id=sample.id,
            phrases=[Phrase(text="circle", start=6, end=12)],
            detections=[detection],
            cue_text="[Hint]: circle A is left.",
            cue_style="hint",
            leak=False,
            settings=ExtractorSettings(backends=["test"]),
        )
        records.append(ExtractedSample(sample=sample, cue=cue))
    return write_extract_dir(root, records)


def test_shard_verify_inspect(tmp_path: Path) -> None:
    extract_dir = _extract_dir(tmp_path / "extract")
    out = tmp_path / "shards"
    runner = CliRunner()
    result = runner.invoke(
        cli,
        ["shard", "-i", str(extract_dir), "-o", str(out), "--maxcount", "2", "--num-workers", "2"],
    )
    assert result.exit_code == 0, result.output
    summary = result.output.strip().splitlines()[-1]
    assert summary.startswith("shard: 5 samples -> 5 written in 3 shards")
    assert summary.endswith(f"urls: {out}/shard-{{000000..000002}}.tar")

    result = runner.invoke(cli, ["verify", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1] == "verify: OK"

    result = runner.invoke(
        cli, ["inspect", str(out), "--key", "s003", "--render", str(tmp_path / "s003.png")]
    )
    assert result.exit_code == 0, result.output
    assert "key:       s003" in result.output and (tmp_path / "s003.png").is_file()

    (out / "shard-000001.tar").write_bytes(b"\0" * 10)
    result = runner.invoke(cli, ["verify", str(out)])
    assert result.exit_code == 1
    assert "FAULT [size] shard-000001.tar" in result.output


def test_errors_are_one_line(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["shard", "-i", str(tmp_path / "none"), "-o", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"Error: {tmp_path / 'none'}/cues.parquet not found: point "
        "--input at the output folder of `cuekit extract`"
    )
    extract_dir = _extract_dir(tmp_path / "extract", 2)
    result = runner.invoke(
        cli, ["shard", "-i", str(extract_dir), "-o", str(tmp_path / "o"), "--maxcount", "0"]
    )
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == "Error: --maxcount must be >= 1, got 0"
    result = runner.invoke(cli, ["inspect", str(tmp_path / "missing.tar")])
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: {tmp_path / 'missing.tar'}: no such shard"


def test_a_shard_run_where_every_sample_failed_exits_non_zero(tmp_path: Path) -> None:
    """Like extract: a run that wrote no sample is a failure a pipeline must see."""
    import shutil

    extract_dir = _extract_dir(tmp_path / "extract", n=3)
    shutil.rmtree(extract_dir / layout.IMAGES_DIR)  # every image file is gone
    out = tmp_path / "shards"
    result = CliRunner().invoke(cli, ["shard", "-i", str(extract_dir), "-o", str(out)])
    assert result.exit_code == 1, result.output
    assert (
        f"shard: no sample succeeded (3 errors out of 3 rows; see {out / 'errors.parquet'})"
    ) in result.output
    lines = result.output.splitlines()
    assert [line.split(None, 1)[0] for line in lines[lines.index("top error reasons:") + 1 :]] == [
        "3"
    ]


def test_shard_reads_a_config_file_and_flags_override_it(tmp_path: Path) -> None:
    extract_dir = _extract_dir(tmp_path / "extract")
    config = tmp_path / "shard.yaml"
    config.write_text(
        f"input: {extract_dir}\noutput: {tmp_path / 'shards'}\nmaxcount: 2\nimage-check: decode\n"
    )
    result = CliRunner().invoke(cli, ["shard", "--config", str(config), "--maxcount", "4"])
    assert result.exit_code == 0, result.output
    stats = json.loads((tmp_path / "shards" / "stats.json").read_text())
    assert stats["settings"]["maxcount"] == 4 and stats["settings"]["image_check"] == "decode"
    assert sorted(p.name for p in (tmp_path / "shards").glob("*.tar")) == [
        "shard-000000.tar",
        "shard-000001.tar",
    ]
    config.write_text(f"input: {extract_dir}\noutput: {tmp_path / 'o'}\nmaxcount: many\n")
    bad = CliRunner().invoke(cli, ["shard", "--config", str(config)])
    assert bad.exit_code == 2
    assert bad.output.strip().splitlines()[-1] == (
        f"Error: config file {config}: maxcount must be an integer, got 'many'"
    )
    missing = CliRunner().invoke(cli, ["shard", "-i", str(extract_dir)])
    assert missing.exit_code == 2 and "Error: --output is required" in missing.output
