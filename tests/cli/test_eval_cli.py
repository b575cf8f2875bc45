"""`cuekit eval`, `audit`, `export` and `export-student` through Click."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from cuekit.cli import cli
from cuekit.distill.cue_module import CueModuleConfig, attach_cue_module, save_student
from cuekit.distill.models import load_model


@pytest.fixture(scope="module")
def extract_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cli-eval") / "extract"
    result = CliRunner().invoke(
        cli,
        [
            "extract",
            "--dataset",
            "sample",
            "--detector",
            "annotations",
            "--limit",
            "6",
            "-o",
            str(folder),
        ],
    )
    assert result.exit_code == 0, result.output
    return folder


def test_eval_end_to_end_on_the_sample_with_tiny_random(tmp_path: Path) -> None:
    out = tmp_path / "eval"
    result = CliRunner().invoke(
        cli,
        [
            "eval",
            "--model",
            "tiny-random",
            "--dataset",
            "sample",
            "--output",
            str(out),
            "--max-new-tokens",
            "8",
        ],
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["source", "samples", "correct", "wrong", "no_answer", "accuracy"]
    frame = pl.read_parquet(out / "predictions.parquet")
    summary = json.loads((out / "summary.json").read_text())
    assert frame.height == summary["samples"] == 36
    assert set(frame.columns) >= {
        "id",
        "prompt",
        "response",
        "extracted",
        "correct",
        "outcome",
        "reason",
    }
    overall = next(line for line in lines if line.startswith("overall")).split()
    assert overall == [
        "overall",
        "36",
        str(summary["correct"]),
        str(summary["wrong"]),
        str(summary["no_answer"]),
        f"{summary['accuracy']:.1%}",
    ]
    assert summary["correct"] + summary["wrong"] + summary["no_answer"] == 36
    assert f"predictions and summary written to {out}" in result.output
    # --compare of a run with itself: zero difference, zero-width interval
    compared = CliRunner().invoke(
        cli,
        [
            "eval",
            "--compare",
            str(out),
            str(out),
            "--output",
            str(tmp_path / "cmp"),
            "--resamples",
            "100",
        ],
    )
    assert compared.exit_code == 0, compared.output
    assert "overall" in compared.output and "+0.0%  [+0.0%, +0.0%]" in compared.output
    assert (
        json.loads((tmp_path / "cmp" / "compare.json").read_text())["overall"]["difference"] == 0.0
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["eval", "--output", "x", "--shards", "s"], "--model is required"),
        (
            ["eval", "--model", "tiny-random", "--output", "x"],
            "pass exactly one of --shards and --dataset",
        ),
        (["eval", "--model", "tiny-random", "--shards", "s"], "--output is required"),
    ],
)
def test_eval_usage_errors_are_one_line(args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output


def test_audit_cli_prints_the_summary_and_writes_plots(extract_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "audit"
    result = CliRunner().invoke(
        cli, ["audit", "-i", str(extract_dir), "-o", str(out), "--teacher", "tiny-random"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert "audit: 6 samples" in result.output
    assert "leakage: 0/6 cues give the answer away (0.0%; none)" in result.output
    assert "cue advantage (tiny-random, target answer)" in result.output
    assert summary["plots"] == ["scores.png", "advantage.png"]
    assert all((out / name).stat().st_size > 1000 for name in summary["plots"])
    assert pl.read_parquet(out / "audit.parquet").height == 6
    bad = CliRunner().invoke(cli, ["audit", "-i", str(tmp_path), "-o", str(out)])
    assert bad.exit_code == 2 and "holds neither cues.parquet" in bad.output
    lonely = CliRunner().invoke(
        cli,
        [
            "audit",
            "-i",
            str(extract_dir),
            "-o",
            str(out),
            "--responses",
            str(out / "audit.parquet"),
        ],
    )
    assert lonely.exit_code == 2 and "--responses needs --teacher" in lonely.output


def test_export_cli_formats(extract_dir: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["export", "-i", str(extract_dir), "-o", str(tmp_path / "verl"), "--format", "verl"]
    )
    assert result.exit_code == 0, result.output
    assert pl.read_parquet(tmp_path / "verl" / "train.parquet").height == 6
    result = CliRunner().invoke(
        cli, ["export", "-i", str(extract_dir), "-o", str(tmp_path / "hf"), "--format", "hf"]
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "hf" / "data" / "train.parquet").is_file()
    bad = CliRunner().invoke(
        cli, ["export", "-i", str(extract_dir), "-o", str(tmp_path), "--format", "csv"]
    )
    assert bad.exit_code == 2 and "'csv' is not one of 'verl', 'hf'" in bad.output


def test_export_student_cli(tmp_path: Path) -> None:
    model, processor = load_model("tiny-random")
    attach_cue_module(
        model, CueModuleConfig(interval=1), im_start_token_id=processor.im_start_token_id
    )
    save_student(model, processor, tmp_path / "student")
    result = CliRunner().invoke(
        cli, ["export-student", str(tmp_path / "student"), "--output", str(tmp_path / "out")]
    )
    assert result.exit_code == 0, result.output
    assert {"README.md", "model.safetensors", "cue_module.safetensors"} <= {
        p.name for p in (tmp_path / "out").iterdir()
    }
    again = CliRunner().invoke(
        cli, ["export-student", str(tmp_path / "student"), "--output", str(tmp_path / "out")]
    )
    assert again.exit_code == 2 and "is not empty; pass --overwrite" in again.output
