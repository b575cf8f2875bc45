"""Audit: leakage table, coverage counts, cue advantage on the tiny model, files."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
import torch
from PIL import Image

from cuekit.distill.models import load_model
from cuekit.distill.prompts import build_messages, build_prompt_batch, build_scoring_batch
from cuekit.distill.scoring import score_responses
from cuekit.errors import ConfigError
from cuekit.evaluate.audit import (
    AuditConfig,
    audit_table,
    classify_leak,
    coverage_row,
    cue_advantage,
    read_responses,
    run_audit,
    summarize_audit,
)
from cuekit.evaluate.inputs import CueItem, iter_cue_items
from cuekit.schemas import CueRecord, Detection, ExtractorSettings, Phrase


@pytest.mark.parametrize(
    ("cue", "answer", "choices", "kind", "match"),
    [
        ("Segment AB is 5 cm long.", "5", None, "verbatim", "5"),
        ("There are five circles.", "5", None, "number", "five"),
        ("The side measures 5.0.", "5 cm", None, "number", "5.0"),
        ("The tallest bar is Dog.", "Dog", None, "verbatim", "Dog"),
        ("Option (B) is marked.", "B", ["3", "7"], "choice_letter", "B"),
        ("The value is 7 here.", "B", ["3", "7"], "choice_text", "7"),
        ("The value is 3 here.", "B", ["3", "7"], None, None),  # the wrong choice's text
        ("Segment AB is 15 cm long.", "5", None, None, None),  # numbers are read whole
        ("A bar shows a dog.", "B", ["x", "y"], None, None),
        ("Point A is on the circle.", "A", None, "verbatim", "A"),  # a point label answer
        ("a triangle", "A", None, None, None),  # the article is not the letter
        ("The red bar", "reddish", None, None, None),
        ("Anything", None, None, None, None),
    ],
)
def test_classify_leak(
    cue: str, answer: str | None, choices: list[str] | None, kind: str | None, match: str | None
) -> None:
    finding = classify_leak(cue, answer, choices)
    assert (finding.kind, finding.match) == (kind, match)


def _detection(label: str, phrase_index: int | None, score: float, backend: str) -> Detection:
    return Detection(
        label=label,
        phrase_index=phrase_index,
        xyxy=(0, 0, 5, 5),
        box_1000=(0, 0, 100, 100),
        score=score,
        backend=backend,
    )


def _with_cue(
    item: CueItem,
    hint: str,
    detections: list[Detection] | None = None,
    phrases: list[Phrase] | None = None,
) -> CueItem:
    cue = item.record.cue
    new_cue = CueRecord(
        sample_id=cue.sample_id,
        phrases=cue.phrases if phrases is None else phrases,
        detections=cue.detections if detections is None else detections,
        cue_text=hint,
        cue_style="hint",
        leak=False,
        settings=ExtractorSettings(backends=["test"]),
    )
    record = item.record.model_copy(update={"cue": new_cue})
    return CueItem(record=record, hint=hint, image_bytes=item.image_bytes)


def test_coverage_row_counts_grounded_phrases(sample_extract: Path) -> None:
    item = next(iter_cue_items(sample_extract))
    phrases = [
        Phrase(text="pet", start=0, end=3),
        Phrase(text="bar", start=4, end=7),
        Phrase(text="dog", start=8, end=11),
    ]
    detections = [
        _detection("pet", 0, 0.9, "gdino"),
        _detection("pet", 0, 0.5, "gdino"),
        _detection("dog", 2, 0.4, "gdino"),
        _detection("12", None, 0.8, "ocr"),
    ]
    row = coverage_row(_with_cue(item, "hint", detections, phrases))
    assert row == {
        "n_phrases": 3,
        "grounded_phrases": 2,
        "phrase_coverage": 2 / 3,
        "n_detections": 4,
        "mean_score": pytest.approx(0.65),
        "scores": [0.9, 0.5, 0.4, 0.8],
        "backends": ["gdino", "ocr"],
    }
    empty = coverage_row(_with_cue(item, "hint", [], []))
    assert (empty["phrase_coverage"], empty["mean_score"], empty["n_detections"]) == (None, None, 0)


def test_leak_rate_and_examples(sample_extract: Path) -> None:
    items = list(iter_cue_items(sample_extract, limit=4))
    answers = [item.record.sample.answer for item in items]
    leaky = [_with_cue(items[0], f"The tallest bar is {answers[0]}."), *items[1:]]
    frame = audit_table(leaky, AuditConfig(input="-", output=Path("-")))
    assert frame["leak"].to_list() == [True, False, False, False]
    assert frame["leak_kind"].to_list()[0] == "verbatim"
    leakage = summarize_audit(frame)["leakage"]
    assert (leakage["checked"], leakage["leaky"], leakage["rate"]) == (4, 1, 0.25)
    assert leakage["by_kind"] == {"verbatim": 1}
    example = leakage["examples"][0]
    assert (example["id"], example["answer"], example["match"]) == (
        items[0].id,
        answers[0],
        answers[0],
    )
    assert answers[0] in example["cue"]


# ---------------------------------------------------------------- cue advantage


@pytest.fixture(scope="module")
def tiny_teacher():
    return load_model("tiny-random", seed=0)


def _direct_logprobs(
    model, processor, question: str, image: Image.Image, target: str
) -> torch.Tensor:
    """Reference: tokenize one full conversation (prompt + target), one plain forward."""
    prompt_text = processor.apply_chat_template(build_messages(question, 1))
    target_ids = processor.tokenizer(target, add_special_tokens=False)["input_ids"]
    inputs = processor([prompt_text + target], [image])
    prompt_len = processor([prompt_text], [image])["input_ids"].shape[1]
    full = inputs["input_ids"][0]
    assert full[prompt_len:].tolist() == target_ids  # no merge across the boundary
    with torch.no_grad():
        logits = model(**inputs).logits[0].float()  # (T, V)
    logprobs = logits.log_softmax(-1)[prompt_len - 1 : -1]  # predicts tokens 1..T-1
    return logprobs.gather(1, full[prompt_len:, None])[:, 0]


def test_cue_advantage_matches_direct_forwards(tiny_teacher) -> None:
    model, processor = tiny_teacher
    images = [
        [Image.new("RGB", (56, 56), (200, 30, 30))],
        [Image.new("RGB", (84, 56), (30, 30, 200))],
    ]
    questions = ["How long is AB?", "Which bar is tallest in the chart?"]
    hints = ["[Hint]: AB is labelled 7 cm", "bars: Dog, Cat"]
    targets = ["7 cm", "Dog bar"]
    result = cue_advantage(model, processor, questions, images, hints, targets, chunk_size=5)
    for i, adv in enumerate(result):
        plain = _direct_logprobs(model, processor, questions[i], images[i][0], targets[i])
        block = hints[i] if hints[i].startswith("[Hint]:") else f"[Hint]: {hints[i]}"
        cued_question = f"{questions[i]}\n\n{block}"
        cued = _direct_logprobs(model, processor, cued_question, images[i][0], targets[i])
        n = len(processor.tokenizer(targets[i], add_special_tokens=False)["input_ids"])
        assert len(adv.token_advantage) == n == plain.shape[0]
        torch.testing.assert_close(
            torch.tensor(adv.token_advantage), cued - plain, atol=2e-5, rtol=0
        )
        assert adv.logprob_with_cue == pytest.approx(float(cued.sum()), abs=1e-4)
        assert adv.logprob_without_cue == pytest.approx(float(plain.sum()), abs=1e-4)
        assert adv.total == pytest.approx(float((cued - plain).sum()), abs=1e-4)
        assert adv.per_token == pytest.approx(adv.total / n)
    assert len(result[0].token_advantage) != len(result[1].token_advantage)  # padding used


def test_cue_advantage_rejects_empty_targets(tiny_teacher) -> None:
    model, processor = tiny_teacher
    image = [Image.new("RGB", (56, 56))]
    with pytest.raises(ValueError, match="target 1 is empty"):
        cue_advantage(model, processor, ["q", "q"], [image, image], ["h", "h"], ["1", ""])
    with pytest.raises(ValueError, match="one image list, hint and target per question"):
        cue_advantage(model, processor, ["q"], [image], ["h", "h"], ["1"])


def test_cue_advantage_sign_when_the_cue_holds_the_answer() -> None:
    """Teach the tiny model "answer 7 when the hint says 7, else 3". The cue then raises
    the log-prob of 7 and lowers that of 3: the sign of the advantage must show it."""
    torch.manual_seed(0)
    model, processor = load_model("tiny-random", seed=1)
    image = [Image.new("RGB", (28, 28), (90, 160, 40))]
    question, hint = "Which number is written on the card?", "The card shows the number 7"
    with_cue = build_prompt_batch(processor, [question], [image], hints=[hint])
    plain = build_prompt_batch(processor, [question], [image])
    seven = torch.tensor([processor.tokenizer("7", add_special_tokens=False)["input_ids"]])
    three = torch.tensor([processor.tokenizer("3", add_special_tokens=False)["input_ids"]])
    batches = [
        build_scoring_batch(with_cue, seven, torch.ones_like(seven)),
        build_scoring_batch(plain, three, torch.ones_like(three)),
    ]
    model.train()
    model.model.visual.requires_grad_(False)  # the image is the same on both sides
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=3e-3)
    for _ in range(25):
        optimizer.zero_grad()
        loss = -sum(score_responses(model, b, chunk_size=64)[0].logprobs.sum() for b in batches)
        loss.backward()
        optimizer.step()
    model.eval()
    result = cue_advantage(
        model, processor, [question, question], [image, image], [hint, hint], ["7", "3"]
    )
    assert [len(r.token_advantage) for r in result] == [seven.shape[1], three.shape[1]]
    assert result[0].total > 1.0  # the cue names 7: much more likely with it
    assert result[1].total < -1.0  # and the cue-free answer 3 much less likely


# ---------------------------------------------------------------- the whole audit


def test_run_audit_on_extract_and_shards_agree(
    sample_extract: Path, sample_shards: Path, tmp_path: Path
) -> None:
    from_extract = run_audit(
        AuditConfig(
            input=str(sample_extract), output=tmp_path / "x", teacher="tiny-random", limit=6
        )
    )
    from_shards = run_audit(AuditConfig(input=str(sample_shards), output=tmp_path / "s"))
    extract_frame = pl.read_parquet(tmp_path / "x" / "audit.parquet")
    shard_frame = pl.read_parquet(tmp_path / "s" / "audit.parquet").sort("id")
    assert extract_frame.height == 6 and shard_frame.height == 36
    # Same cues either way: the extract's first 6 (id order) are rows of the shard audit.
    same_ids = shard_frame.filter(pl.col("id").is_in(extract_frame["id"].implode()))
    assert extract_frame.select(shard_frame.columns).equals(same_ids)
    # The sample's annotations never leak; every cue has detections.
    assert from_shards["leakage"]["leaky"] == 0
    assert from_shards["coverage"]["samples_without_detections"] == 0
    assert from_shards["coverage"]["detections_per_sample"]["mean"] == pytest.approx(
        shard_frame["n_detections"].mean()
    )
    assert from_shards["advantage"] is None and from_shards["plots"] == ["scores.png"]
    # With a teacher: one advantage per sample with an answer, per-token lists match.
    advantage = from_extract["advantage"]
    assert advantage["samples"] == 6
    assert extract_frame["target"].to_list() == extract_frame["answer"].to_list()
    for row in extract_frame.iter_rows(named=True):
        assert len(row["token_advantage"]) == row["target_tokens"]
        assert row["advantage"] == pytest.approx(
            row["logprob_with_cue"] - row["logprob_without_cue"]
        )
        assert row["advantage"] == pytest.approx(sum(row["token_advantage"]), abs=1e-4)
    assert advantage["per_sample"]["mean"] == pytest.approx(extract_frame["advantage"].mean())
    assert from_extract["plots"] == ["scores.png", "advantage.png"]
    for name in from_extract["plots"]:
        with Image.open(tmp_path / "x" / name) as png:
            assert png.format == "PNG" and png.width > 300
    saved = json.loads((tmp_path / "x" / "summary.json").read_text())
    assert saved["advantage"]["samples"] == 6 and saved["target"] == "answer"


def test_audit_scores_given_responses(sample_extract: Path, tmp_path: Path) -> None:
    ids = [item.id for item in iter_cue_items(sample_extract, limit=3)]
    responses = tmp_path / "responses.jsonl"
    responses.write_text(
        "".join(
            json.dumps({"id": i, "response": f"It is {n}."}) + "\n" for n, i in enumerate(ids[:2])
        )
    )
    assert read_responses(responses) == {ids[0]: "It is 0.", ids[1]: "It is 1."}
    summary = run_audit(
        AuditConfig(
            input=str(sample_extract),
            output=tmp_path / "out",
            teacher="tiny-random",
            responses=responses,
            limit=3,
            plots=False,
        )
    )
    frame = pl.read_parquet(tmp_path / "out" / "audit.parquet")
    assert frame["target"].to_list() == ["It is 0.", "It is 1.", None]
    assert frame["advantage"].null_count() == 1
    assert summary["target"] == "responses" and summary["advantage"]["samples"] == 2
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "x"}) + "\n")
    with pytest.raises(ConfigError, match=r"lacks the column\(s\) \['response'\]"):
        read_responses(bad)


def test_audit_input_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="holds neither cues.parquet"):
        run_audit(AuditConfig(input=str(tmp_path), output=tmp_path / "out"))
