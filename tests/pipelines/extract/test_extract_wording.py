"""Extract records the cue wording it used and what the cues left out (run.json)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from crashing_backend import CrashingAnnotations

from cuekit.cues import render_cue
from cuekit.datasets.sources import SourceSpec
from cuekit.errors import ConfigError
from cuekit.grounding.base import register_backend
from cuekit.pipelines.extract.layout import read_extracted
from cuekit.pipelines.extract.parts import run_counts
from cuekit.pipelines.extract.run import ExtractConfig, run_extract


def _config(tmp_path: Path, dataset: str = "sample", **kw) -> ExtractConfig:
    kw.setdefault("detectors", ("annotations",))
    kw.setdefault("limit", 8)
    return ExtractConfig(
        source=SourceSpec(dataset=dataset, split="val"), output=tmp_path / "out", **kw
    )


def _run_json(out: Path) -> dict:
    return json.loads((out / "run.json").read_text())


@pytest.mark.parametrize(
    ("dataset", "requested", "expected"),
    [
        ("sample", None, "v2"),  # the latest wording by default
        ("cueworld", None, "v1"),  # pinned: the shipped CueWorld models learnt v1
        ("cueworld", "v2", "v2"),  # an explicit choice wins
    ],
)
def test_the_wording_is_resolved_and_recorded(
    tmp_path: Path, dataset: str, requested: str | None, expected: str
) -> None:
    result = run_extract(_config(tmp_path, dataset, cue_wording=requested))
    assert _run_json(result.output)["settings"]["cue_wording"] == expected
    cues = pl.read_parquet(result.output / "cues.parquet")
    assert cues.height == 8 and set(cues["cue_wording"]) == {expected}
    records = list(read_extracted(result.output))
    assert {r.cue.cue_wording for r in records} == {expected}
    for record in records:  # the stored text is the renderer's text in that wording
        sample, cue = record.sample, record.cue
        assert (
            cue.cue_text
            == render_cue(sample, cue.phrases, cue.detections, "hint", wording=expected).text
        )


def test_cueworld_texts_differ_between_wordings_and_resume_refuses_a_switch(tmp_path: Path) -> None:
    v1 = run_extract(_config(tmp_path / "a", "cueworld"))
    v2 = run_extract(_config(tmp_path / "b", "cueworld", cue_wording="v2"))
    texts = [pl.read_parquet(r.output / "cues.parquet")["cue_text"].to_list() for r in (v1, v2)]
    assert texts[0] != texts[1]
    assert any(" the " in t and t not in texts[0] for t in texts[1])
    with pytest.raises(ConfigError, match="different settings \\(cue_wording\\)"):
        run_extract(_config(tmp_path / "a", "cueworld", cue_wording="v2"))


def test_an_unknown_wording_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--cue-wording must be one of v1, v2, got 'v0'"):
        _config(tmp_path, cue_wording="v0")


class _Rejecting(CrashingAnnotations):
    """Annotations, reporting two rejected reads per sample; crashes on one call."""

    name = "rejecting"

    def annotate(self, items) -> None:
        for item in items:
            item.rejected["rejecting/oversized"] = 2


register_backend("rejecting", f"{__name__}:_Rejecting")


def _expected_budget(out: Path, max_cue_tokens: int) -> dict[str, int]:
    """Render every stored cue again, without and with the budget, and count."""
    trimmed = items = relations = 0
    for record in read_extracted(out):
        sample, cue = record.sample, record.cue
        short = render_cue(
            sample, cue.phrases, cue.detections, "hint", max_cue_tokens=max_cue_tokens
        )
        assert short.text == cue.cue_text
        trimmed += bool(short.dropped_items or short.dropped_relations)
        items += short.dropped_items
        relations += short.dropped_relations
    return {"trimmed_cues": trimmed, "dropped_items": items, "dropped_relations": relations}


def test_rejections_and_budget_drops_reach_run_json_and_sum_once_on_resume(tmp_path: Path) -> None:
    kw = {"detectors": ("rejecting",), "limit": None, "max_cue_tokens": 14, "part_size": 4}
    reference = run_extract(_config(tmp_path / "ref", **kw))
    dropped = _run_json(reference.output)["dropped"]
    ok = reference.counts["ok"]
    assert dropped["rejected_reads"] == {"rejecting/oversized": 2 * ok}
    assert dropped["cue_budget"] == _expected_budget(reference.output, 14)
    assert dropped["cue_budget"]["trimmed_cues"] > 0
    # A crash after some parts are written, then a resume: every row counted once.
    _Rejecting.calls, _Rejecting.fail_at = 0, 4
    config = _config(tmp_path / "run", **kw)
    with pytest.raises(KeyboardInterrupt):
        run_extract(config)
    _Rejecting.fail_at = None
    resumed = run_extract(config)
    assert 0 < resumed.processed < reference.processed
    assert _run_json(resumed.output)["dropped"] == dropped


def test_run_counts_sums_rows_and_always_lists_the_budget() -> None:
    rows = [
        '{"ocr/disagree": 1, "budget/dropped_items": 2, "budget/trimmed_cues": 1}',
        '{"ocr/disagree": 2, "ocr/oversized": 1}',
        "{}",
        None,
    ]
    assert run_counts(rows) == {
        "rejected_reads": {"ocr/disagree": 3, "ocr/oversized": 1},
        "cue_budget": {"trimmed_cues": 1, "dropped_items": 2, "dropped_relations": 0},
    }
