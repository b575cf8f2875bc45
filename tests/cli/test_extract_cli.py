import json

import polars as pl
import pytest
from click.testing import CliRunner

from cuekit.cli import cli
from cuekit.cli.extract import extract_command


def _invoke(args):
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def _extract(dataset, output, *extra, catch_exceptions=True):
    """``cuekit extract --dataset DATASET --output OUTPUT EXTRA...``."""
    return CliRunner().invoke(
        cli,
        ["extract", "--dataset", str(dataset), "--output", str(output), *extra],
        catch_exceptions=catch_exceptions,
    )


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


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cue-style", "fancy"], "Invalid value for '--cue-style'"),
        (["--rank", "3", "--world-size", "2"], "--rank must be in [0, 2)"),
        (["--ocr-keep", "labels,everything"], "unknown value(s) ['everything']"),
        (["--detector", "nope"], "Invalid value for '--detector'"),
    ],
)
def test_usage_errors_exit_2_with_one_line(tmp_path, args, message):
    result = _extract("sample", tmp_path / "o", *args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_missing_model_path_gives_a_one_line_fix(tmp_path):
    result = _extract(
        "sample",
        tmp_path / "o",
        "--limit",
        "1",
        "--detector-model",
        str(tmp_path / "no-such-model"),
    )
    assert result.exit_code == 1
    assert "does not exist" in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_all_offline_backends_end_to_end(tmp_path):
    out = tmp_path / "o"
    result = _extract(
        "sample",
        out,
        *["--limit", "4", "--detector", "grounding-dino", "--detector-model", "tiny-random"],
        *["--detector", "ocr", "--detector", "annotations", "--box-threshold", "0.0"],
        *["--text-threshold", "0.0", "--batch-size", "2"],
        catch_exceptions=False,
    )
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


def _rows_file(tmp_path, good: int, missing: int, blank: int = 0):
    """A jsonl with ``good`` usable rows, ``missing`` rows whose image file is absent and
    ``blank`` rows with an empty question."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (16, 12), (9, 90, 200)).save(buffer, format="PNG")
    (tmp_path / "ok.png").write_bytes(buffer.getvalue())
    rows = [{"id": f"g{i}", "question": "What colour?", "image": "ok.png"} for i in range(good)]
    rows += [
        {"id": f"m{i}", "question": "What colour?", "image": f"gone/{i}.png"}
        for i in range(missing)
    ]
    rows += [{"id": f"b{i}", "question": " ", "image": "ok.png"} for i in range(blank)]
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _extract_rows(tmp_path, rows, *extra):
    return _extract(rows, tmp_path / "out", "--detector", "annotations", *extra)


def test_a_run_where_every_sample_failed_exits_non_zero(tmp_path):
    result = _extract_rows(
        tmp_path, _rows_file(tmp_path, good=0, missing=3, blank=1), "--tolerate-errors"
    )
    assert result.exit_code == 1
    assert "extract: no sample succeeded (4 errors out of 4 rows" in result.output
    lines = result.output.splitlines()
    top = lines[lines.index("top error reasons:") + 1 :]
    assert [line.split(None, 1) for line in top] == [
        ["3", "decode/images[N]: image file not found: <path>"],
        ["1", "validate/question: question is empty"],
    ]


def test_error_rate_above_the_limit_fails_with_reasons(tmp_path):
    rows = _rows_file(tmp_path, good=3, missing=1)
    result = _extract_rows(tmp_path, rows)
    assert result.exit_code == 1
    assert "25.0% of samples failed, above --max-error-rate 10.0%" in result.output
    assert "1  decode/images[N]: image file not found: <path>" in result.output
    tolerated = _extract_rows(tmp_path, rows, "--tolerate-errors")
    assert tolerated.exit_code == 0 and "warning: extract: 25.0% of samples" in tolerated.output
    relaxed = _extract_rows(tmp_path, rows, "--max-error-rate", "0.3")
    assert relaxed.exit_code == 0 and "3 cues" in relaxed.output
    assert "top error reasons" not in relaxed.output


def test_max_cue_tokens_caps_every_cue_and_rejects_a_negative_budget(tmp_path):
    import polars as pl

    from cuekit.cues.render import cue_tokens

    bad = _extract("sample", tmp_path / "bad", "--max-cue-tokens", "-3")
    assert bad.exit_code != 0
    assert "--max-cue-tokens must be at least 1 (0 for no budget), got -3" in bad.output
    lengths = {}
    for budget in ("0", "24"):
        out = tmp_path / budget
        result = _extract(
            "sample",
            out,
            *["--limit", "12", "--detector", "annotations", "--max-cue-tokens", budget],
            catch_exceptions=False,
        )
        assert result.exit_code == 0, result.output
        texts = pl.read_parquet(out / "cues.parquet")["cue_text"].to_list()
        lengths[budget] = [cue_tokens(t) for t in texts]
    assert max(lengths["24"]) <= 24 < max(lengths["0"])


def test_config_file_sets_options_and_flags_override_it(tmp_path):
    config = tmp_path / "extract.yaml"
    config.write_text(
        f"dataset: sample\noutput: {tmp_path / 'out'}\ndetector: [annotations]\n"
        "limit: 2\nmax-cue-tokens: 24\n"
    )
    result = _invoke(["extract", "--config", str(config), "--limit", "3"])
    assert result.exit_code == 0, result.output
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    assert run["counts"]["input"] == 3
    assert run["settings"]["detectors"] == ["annotations"]
    assert run["settings"]["max_cue_tokens"] == 24
    config.write_text("dataset: sample\nbox_threshold: high\n")
    bad = CliRunner().invoke(cli, ["extract", "--config", str(config)])
    assert bad.exit_code == 2
    assert f"config file {config}: box_threshold must be a finite number, got 'high'" in bad.output
    config.write_text("dataset: sample\ncue_style: fancy\n")
    bad = CliRunner().invoke(cli, ["extract", "--config", str(config)])
    assert bad.exit_code == 2
    assert "cue_style must be one of hint, boxes, marks, got 'fancy'" in bad.output
    missing = CliRunner().invoke(cli, ["extract", "--dataset", "sample"])
    assert missing.exit_code == 2 and "Error: --output is required" in missing.output
