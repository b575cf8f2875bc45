"""eval: prompts, model resolution, scoring of determined responses, the whole run."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
import torch
from PIL import Image

from cuekit.answers import judge
from cuekit.distill import rollout
from cuekit.distill.cue_module import get_cue_module
from cuekit.distill.models import load_model
from cuekit.distill.prompts import format_question
from cuekit.errors import ConfigError
from cuekit.evaluate.compare import compare_runs
from cuekit.evaluate.eval import (
    PREDICTIONS_SCHEMA,
    EvalConfig,
    EvalItem,
    format_table,
    generate_answers,
    load_eval_model,
    run_eval,
    summarize,
)
from cuekit.evaluate.inputs import iter_cue_items


def test_format_question_appends_missing_choices() -> None:
    assert format_question("How long is AB?", None) == "How long is AB?"
    assert format_question("Pick one.", ["3", "5 cm"]) == "Pick one.\nChoices:\n(A) 3\n(B) 5 cm"
    listed = "Which? (A) red (B) blue"
    assert format_question(listed, ["red", "blue"]) == listed


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "exactly one of --shards and --dataset"),
        ({"shards": "s", "dataset": "d"}, "exactly one of --shards and --dataset"),
        ({"shards": "s", "batch_size": 0}, "batch_size must be >= 1, got 0"),
        ({"shards": "s", "top_p": 0.0}, "0 < top_p <= 1"),
        ({"shards": "s", "limit": 0}, "limit must be >= 1, got 0"),
        (
            {"shards": "s", "privilege": "hint"},
            "privilege must be one of cue, answer, none, got 'hint'",
        ),
        (
            {"dataset": "sample", "privilege": "cue"},
            "--privilege cue needs the cues: pass --shards",
        ),
    ],
)
def test_eval_config_validation(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        EvalConfig(model="tiny-random", output=Path("out"), **kwargs)


def test_load_eval_model_resolves_runs_students_and_aliases(
    distill_run: Path, tmp_path: Path
) -> None:
    model, _, loaded = load_eval_model(str(distill_run), device="cpu")
    assert loaded == str(distill_run / "student")
    assert get_cue_module(model) is not None  # the student comes with its module
    _, _, loaded = load_eval_model(str(distill_run / "student"), device="cpu")
    assert loaded == str(distill_run / "student")
    model, _, loaded = load_eval_model("tiny-random", device="cpu")
    assert loaded == "tiny-random" and get_cue_module(model) is None
    with pytest.raises(ConfigError, match="is neither a model folder"):
        load_eval_model(str(tmp_path), device="cpu")


def _items() -> list[EvalItem]:
    image = [Image.new("RGB", (56, 56), (10, 200, 90))]
    return [
        EvalItem("g1", "geo", "test", "How long is AB?", "12", None, image),
        EvalItem("g2", "geo", "test", "What is the angle?", "35", None, image),
        EvalItem("c1", "chart", "test", "Which is larger?", "B", ["3", "5"], image),
        EvalItem("c2", "chart", "test", "Unanswered?", None, None, image),
        EvalItem(
            "m1",
            "chart",
            "test",
            "How long?",
            "3.46",
            None,
            image,
            question_type="free_form",
            answer_type="float",
            precision=2,
            unit="cm",
        ),
        EvalItem("m2", "chart", "test", "How many?", "4", None, image),
    ]


def test_generate_answers_scores_given_responses(monkeypatch: pytest.MonkeyPatch) -> None:
    """Generation replaced by fixed responses: extraction and scoring are then determined."""
    model, processor = load_model("tiny-random")
    responses = [
        "AB is 12 cm, so \\boxed{12}",
        "The angle is 40 degrees.",
        "The larger is 5.",
        "Dog",
        "It is $\\boxed{2\\sqrt{3}\\text{ cm}}$",
        "Counting: 1, 2, 3, 4, and",
    ]
    seen = {}

    def fixed_rollouts(model_arg, processor_arg, inputs, settings):
        seen["settings"], seen["rows"] = settings, inputs["input_ids"].shape[0]
        ids = [
            processor.tokenizer(r, add_special_tokens=False)["input_ids"]
            + [processor.im_end_token_id]
            for r in responses
        ]
        ids[3] = ids[3][:-1]  # the last one never stops
        width = max(map(len, ids))
        pad = processor.tokenizer.pad_token_id
        response_ids = torch.tensor([row + [pad] * (width - len(row)) for row in ids])
        mask = torch.tensor([[1] * len(row) + [0] * (width - len(row)) for row in ids])
        return rollout.Rollouts(response_ids, mask)

    monkeypatch.setattr(rollout, "generate_rollouts", fixed_rollouts)
    config = EvalConfig(
        model="tiny-random", output=Path("-"), shards="-", temperature=0.0, max_new_tokens=5
    )
    rows = generate_answers(model, processor, _items(), config)
    assert seen["rows"] == 6 and seen["settings"].greedy and seen["settings"].max_new_tokens == 5
    assert [r["response"] for r in rows] == responses
    # the item's precision and unit reach the judge (m1); a cut-off response (m2) that
    # never committed is "no answer", not its stray last number
    assert [(r["extracted"], r["method"], r["correct"], r["outcome"]) for r in rows] == [
        ("12", "boxed", True, "correct"),
        ("40", "conclusion", False, "wrong"),
        ("5", "whole", True, "correct"),
        ("", "none", False, "unscored"),  # cut off
        ("2\\sqrt{3}\\text{ cm}", "boxed", True, "correct"),
        ("", "none", False, "no_answer"),
    ]
    assert rows[4]["match"] == "equal at 2 decimal places (dataset precision)"
    assert rows[5]["reason"] == "no answer: stops mid-sentence before committing to an answer"
    assert [r["finished"] for r in rows] == [True, True, True, False, True, True]
    assert rows[2]["prompt"] == "Which is larger?\nChoices:\n(A) 3\n(B) 5"
    expected_tokens = [
        len(processor.tokenizer(r, add_special_tokens=False)["input_ids"]) + 1
        for r in responses[:3]
    ]
    assert [r["response_tokens"] for r in rows[:3]] == expected_tokens
    summary = summarize(pl.DataFrame(rows, schema=PREDICTIONS_SCHEMA))
    assert (summary["samples"], summary["correct"], summary["unscored"]) == (5, 3, 1)
    assert (summary["wrong"], summary["no_answer"]) == (1, 1)
    assert summary["accuracy"] == pytest.approx(3 / 5)
    assert summary["per_source"] == {
        "chart": {
            "samples": 3,
            "correct": 2,
            "wrong": 0,
            "no_answer": 1,
            "accuracy": pytest.approx(2 / 3),
        },
        "geo": {"samples": 2, "correct": 1, "wrong": 1, "no_answer": 0, "accuracy": 0.5},
    }
    assert summary["methods"] == {"boxed": 2, "conclusion": 1, "none": 2, "whole": 1}
    assert summary["unfinished"] == 1
    table = format_table({**summary})
    assert table.splitlines()[0].split() == [
        "source",
        "samples",
        "correct",
        "wrong",
        "no_answer",
        "accuracy",
    ]
    assert table.splitlines()[-1].split() == ["overall", "5", "3", "1", "1", "60.0%"]


def test_run_eval_on_shards_with_the_distilled_student(
    distill_run: Path, sample_shards: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = EvalConfig(
        model=str(distill_run),
        output=tmp_path / "a",
        shards=str(sample_shards),
        max_new_tokens=6,
        temperature=0.0,
        batch_size=4,
        limit=8,
    )
    summary = run_eval(config)
    frame = pl.read_parquet(tmp_path / "a" / "predictions.parquet")
    assert frame.schema == pl.Schema(PREDICTIONS_SCHEMA)
    assert frame.height == 8 and frame["id"].n_unique() == 8
    assert (frame["response_tokens"] <= 6).all()
    choices = {item.id: item.record.sample.choices for item in iter_cue_items(sample_shards)}
    for row in frame.iter_rows(named=True):  # stored verdicts are the judge's
        verdict = judge(
            row["response"], row["answer"], choices=choices[row["id"]], finished=row["finished"]
        )
        assert (row["extracted"], row["method"], row["correct"], row["outcome"], row["reason"]) == (
            verdict.extracted,
            verdict.rule,
            verdict.correct,
            verdict.outcome,
            verdict.reason,
        )
    saved = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert saved["samples"] == 8 and saved["correct"] == int(frame["correct"].sum())
    assert saved["loaded"] == str(distill_run / "student")
    assert saved["config"]["temperature"] == 0.0 and summary["per_source"].keys() == {"sample"}
    # greedy decoding: a second run, with its decode step compiled, gives the same
    # predictions and compares as equal (the eager backend keeps the test fast)
    compiled, real_compile = [], torch.compile

    def eager_compile(fn, **options):
        compiled.append(options)
        return real_compile(fn, **{**options, "backend": "eager"})

    monkeypatch.setattr(torch, "compile", eager_compile)
    run_eval(EvalConfig(**{**config.__dict__, "output": tmp_path / "b", "rollout_compile": True}))
    assert compiled and compiled[0]["dynamic"] is False
    again = pl.read_parquet(tmp_path / "b" / "predictions.parquet")
    assert again.equals(frame)
    result = compare_runs(tmp_path / "a", tmp_path / "b", resamples=200)
    assert result["overall"]["difference"] == 0.0 and result["overall"]["samples"] == 8


def test_run_eval_reports_unusable_datasets(tmp_path: Path) -> None:
    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps({"question": "q", "image": "missing.png", "answer": "1"}) + "\n")
    with pytest.raises(ConfigError, match=r"no samples to evaluate \(1 unusable rows\)"):
        run_eval(
            EvalConfig(
                model="tiny-random", output=tmp_path / "out", dataset=str(rows), max_new_tokens=2
            )
        )


@pytest.mark.parametrize(
    ("privilege", "expected"),
    [
        ("none", "How long is AB?"),
        ("cue", "How long is AB?\n\n[Hint]: The image shows segment AB (top)."),
        ("answer", "How long is AB?\n\n[Hint]: The answer is 12."),
    ],
)
def test_privilege_puts_the_teachers_hint_into_the_eval_prompt(
    monkeypatch: pytest.MonkeyPatch, privilege: str, expected: str
) -> None:
    from cuekit.distill import prompts

    model, processor = load_model("tiny-random")
    seen: dict[str, object] = {}
    real = prompts.render_prompt_batch

    def recording(processor_arg, chats, images, **kwargs):  # what the model is prompted with
        seen["questions"] = [chat[-1]["content"][-1]["text"] for chat in chats]
        return real(processor_arg, chats, images, **kwargs)

    monkeypatch.setattr(prompts, "render_prompt_batch", recording)
    image = [Image.new("RGB", (56, 56), (10, 200, 90))]
    item = EvalItem(
        "g1",
        "geo",
        "test",
        "How long is AB?",
        "12",
        None,
        image,
        "[Hint]: The image shows segment AB (top).",
    )
    config = EvalConfig(
        model="tiny-random",
        output=Path("-"),
        shards="-",
        temperature=0.0,
        max_new_tokens=2,
        privilege=privilege,
    )
    rows = generate_answers(model, processor, [item], config)
    assert seen["questions"] == [expected]
    assert rows[0]["prompt"] == expected
