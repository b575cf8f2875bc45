import json

import polars as pl
import pytest
from click.testing import CliRunner

from cuekit.cli import cli
from cuekit.cli.extract import extract_command


def _invoke(args):
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def test_help_explains_every_option():
    result = _invoke(["extract", "--help"])
    assert result.exit_code == 0
    for param in extract_command.params:
        if param.name == "help":
            continue
        assert param.help and param.help.strip(), f"{param.name} has no help"
        assert param.opts[0] in result.output
    assert "Parse each question into phrases" in result.output


def test_top_level_help_lists_commands():
    result = _invoke(["-h"])
    assert result.exit_code == 0
    for command in ("extract", "merge", "schema"):
        assert command in result.output


def test_schema_prints_json_schema():
    result = _invoke(["schema"])
    assert result.exit_code == 0
    assert set(json.loads(result.output)["records"]) >= {"Sample", "CueRecord", "Detection"}


@pytest.mark.parametrize(("args", "message"), [
    (["--cue-style", "fancy"], "Invalid value for '--cue-style'"),
    (["--rank", "3", "--world-size", "2"], "--rank must be in [0, 2)"),
    (["--ocr-keep", "labels,everything"], "unknown value(s) ['everything']"),
    (["--detector", "nope"], "Invalid value for '--detector'"),
])
def test_usage_errors_exit_2_with_one_line(tmp_path, args, message):
    result = CliRunner().invoke(cli, ["extract", "--dataset", "sample", "--output",
                                      str(tmp_path / "o"), *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_missing_model_path_gives_a_one_line_fix(tmp_path):
    result = CliRunner().invoke(cli, ["extract", "--dataset", "sample", "--limit", "1",
                                      "--output", str(tmp_path / "o"),
                                      "--detector-model", str(tmp_path / "no-such-model")])
    assert result.exit_code == 1
    assert "does not exist" in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_all_offline_backends_end_to_end(tmp_path):
    out = tmp_path / "o"
    result = _invoke(["extract", "--dataset", "sample", "--output", str(out), "--limit", "4",
                      "--detector", "grounding-dino", "--detector-model", "tiny-random",
                      "--detector", "ocr", "--detector", "annotations",
                      "--box-threshold", "0.0", "--text-threshold", "0.0", "--batch-size", "2"])
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1].startswith("extract: 4 samples in -> 4 cues")
    cues = pl.read_parquet(out / "cues.parquet")
    assert cues.height == 4
    backends = set()
    for row in cues.iter_rows(named=True):
        cue = json.loads(row["cue"])
        assert cue["settings"]["backends"] == ["grounding-dino", "ocr", "annotations"]
        assert cue["settings"]["models"]["grounding-dino"] == "tiny-random"
        backends.update(d["backend"] for d in cue["detections"])
    assert backends == {"grounding-dino", "ocr", "annotations"}
    run = json.loads((out / "run.json").read_text())
    assert run["counts"] == {"input": 4, "ok": 4, "errors": 0, "leaky": run["counts"]["leaky"]}
