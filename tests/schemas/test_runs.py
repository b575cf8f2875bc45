"""The typed run outputs: manifest rows, shard results, step metrics, evaluations."""

from __future__ import annotations

import dataclasses
import json

import pytest

from cuekit.pipelines.shard import manifest as mf
from cuekit.schemas import EvalMetrics, ManifestRow, SampleStats, ShardResult, StepMetrics
from cuekit.schemas.runs import StageCounts

STATS = SampleStats(
    key="s1",
    image_bytes=100,
    json_bytes=20,
    hint_bytes=5,
    n_images=1,
    resized=False,
    cue_style="hint",
    leak=False,
    source="sample",
    split="train",
)


def test_manifest_row_is_the_parquet_schema_in_order():
    row = ManifestRow(STATS, shard="shard-000000.tar", shard_index=0, offset=1536, bytes=2048)
    assert list(row.as_dict()) == list(mf.MANIFEST_SCHEMA)
    frame = mf.manifest_frame([row])
    assert frame.to_dicts() == [row.as_dict()]
    with pytest.raises(ValueError, match="manifest row 's1': .* got 0, -1, 2048"):
        ManifestRow(STATS, shard="x.tar", shard_index=0, offset=-1, bytes=2048)


def test_shard_result_round_trips_its_resume_record():
    result = ShardResult(
        shard="shard-000003.tar",
        shard_index=3,
        samples=2,
        size=10240,
        sha256="a" * 64,
        content_digest="b" * 64,
    )
    record = json.loads(json.dumps(result.record()))
    assert "reused" not in record
    assert ShardResult.from_record(record, reused=True) == dataclasses.replace(result, reused=True)
    assert mf.shards_frame([result]).to_dicts() == [
        {
            "shard": "shard-000003.tar",
            "shard_index": 3,
            "samples": 2,
            "bytes": 10240,
            "sha256": "a" * 64,
        }
    ]


def _metrics(**kw) -> StepMetrics:
    names = [f.name for f in dataclasses.fields(StepMetrics) if f.name != "evaluation"]
    return StepMetrics(**{**dict.fromkeys(names, 0), **kw})


def test_step_metrics_is_a_flat_read_only_record():
    record = _metrics(step=3, loss=0.5)
    assert record["loss"] == record.loss == 0.5 and "eval_accuracy" not in record
    evaluated = record.with_evaluation({"eval_accuracy": 0.25})
    assert evaluated["eval_accuracy"] == 0.25 and record.evaluation == {}
    assert dict(evaluated) == {**dict(record), "eval_accuracy": 0.25}
    assert json.loads(json.dumps(dict(evaluated)))["step"] == 3
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.loss = 1.0  # type: ignore[misc]


def test_eval_metrics_join_the_step_line_under_the_logged_names():
    """metrics.jsonl keeps its eval_* keys; one process averages nothing."""
    from cuekit.distill.distributed import SINGLE
    from cuekit.distill.parallel import Parallel

    evaluation = EvalMetrics(eval_reverse_kl=0.5, eval_accuracy=0.25, eval_samples=8.0)
    assert evaluation.as_dict() == {
        "eval_reverse_kl": 0.5,
        "eval_accuracy": 0.25,
        "eval_samples": 8.0,
    }
    assert Parallel(SINGLE).mean_metrics(evaluation) is evaluation
    line = dict(_metrics(step=2).with_evaluation(evaluation.as_dict()))
    assert (line["step"], line["eval_accuracy"], line["eval_samples"]) == (2, 0.25, 8.0)


def test_stage_counts_read_as_run_json_and_must_reconcile():
    counts = StageCounts(input=5, ok=4, errors=1, leaky=2)
    assert counts == {"input": 5, "ok": 4, "errors": 1, "leaky": 2}  # run.json's "counts"
    assert (counts.ok, counts["errors"]) == (4, 1)
    with pytest.raises(ValueError, match="do not reconcile: 5 input rows, 3 ok \\+ 1 errors"):
        StageCounts(input=5, ok=3, errors=1)
