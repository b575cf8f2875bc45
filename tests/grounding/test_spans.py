"""Prompt building, token spans and per-phrase scoring (cuekit.grounding.spans)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from cuekit.grounding.spans import (
    build_prompt,
    chunk_phrases,
    is_groundable,
    phrase_detections,
    phrase_token_spans,
    score_phrases,
)
from cuekit.grounding.tiny import build_tiny_gdino_processor


@pytest.fixture(scope="module")
def processor():
    return build_tiny_gdino_processor()


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


# -- prompts --------------------------------------------------------------------


def test_build_prompt_lowercases_joins_and_spans_each_phrase():
    prompt, spans = build_prompt(["A Red  Triangle", "the chord AB", "x"])
    assert prompt == "a red triangle. the chord ab. x."
    assert spans == [(0, 14), (16, 28), (30, 31)]
    assert [prompt[s:e] for s, e in spans] == ["a red triangle", "the chord ab", "x"]


def test_build_prompt_replaces_inner_delimiters():
    # "." and "?" would split a phrase into two blocks for the model.
    prompt, spans = build_prompt(["angle 3.5?", "point c"])
    assert prompt == "angle 3 5. point c."
    assert [prompt[s:e] for s, e in spans] == ["angle 3 5", "point c"]


def test_build_prompt_rejects_empty_input():
    with pytest.raises(ValueError, match="at least one phrase"):
        build_prompt([])
    with pytest.raises(ValueError, match=r"phrase '\. \?' is empty"):
        build_prompt(["ok", ". ?"])
    assert not is_groundable(" .? ")
    assert is_groundable("a.")


# -- token spans from a real BertTokenizer's offsets ---------------------------


def test_phrase_token_spans_on_bert_offsets(processor):
    tokenizer = processor.tokenizer
    prompt, char_spans = build_prompt(["a red triangle", "the chord ab", "point c"])
    encoded = tokenizer(prompt, return_offsets_mapping=True)
    spans = phrase_token_spans(encoded["offset_mapping"], char_spans)
    tokens = tokenizer.convert_ids_to_tokens(encoded["input_ids"])
    assert [[tokens[i] for i in span] for span in spans] == [
        ["a", "red", "triangle"],
        ["the", "chord", "a", "##b"],  # a multi-piece word stays in its phrase
        ["point", "c"],
    ]
    # [CLS], the "." separators and [SEP] belong to no phrase.
    claimed = {i for span in spans for i in span}
    assert {tokens[i] for i in range(len(tokens)) if i not in claimed} == {"[CLS]", ".", "[SEP]"}


def test_phrase_token_spans_drop_tokens_past_the_limit(processor):
    prompt, char_spans = build_prompt(["a red triangle", "the chord ab"])
    offsets = processor.tokenizer(prompt, return_offsets_mapping=True)["offset_mapping"]
    # [CLS] a red triangle . the | chord a ##b . [SEP]  -> keep positions 0..5
    assert phrase_token_spans(offsets, char_spans, max_tokens=6) == [[1, 2, 3], [5]]
    assert phrase_token_spans(offsets, char_spans, max_tokens=5) == [[1, 2, 3], []]


# -- scoring ------------------------------------------------------------------


def test_score_phrases_max_and_mean_over_own_tokens():
    logits = np.array(
        [
            [9.0, 2.0, -1.0, 9.0, 0.5, 0.0, 9.0, -np.inf],
            [-9.0, -3.0, 4.0, -9.0, -2.0, -6.0, -9.0, -np.inf],
        ]
    )
    spans = [[1, 2], [4, 5], [], [7]]
    scores = score_phrases(logits, spans)
    expected = np.array(
        [
            [_sigmoid(2.0), _sigmoid(0.5), 0.0, 0.0],
            [_sigmoid(4.0), _sigmoid(-2.0), 0.0, 0.0],
        ]
    )
    np.testing.assert_allclose(scores, expected, rtol=1e-12)
    mean = score_phrases(logits, spans, reduce="mean")
    np.testing.assert_allclose(mean[0, 0], (_sigmoid(2.0) + _sigmoid(-1.0)) / 2, rtol=1e-12)
    np.testing.assert_allclose(mean[1, 1], (_sigmoid(-2.0) + _sigmoid(-6.0)) / 2, rtol=1e-12)


def test_score_phrases_matches_torch_sigmoid_on_extreme_logits():
    logits = np.array([[-800.0, -30.0, 0.0, 30.0, 800.0]])
    scores = score_phrases(logits, [[i] for i in range(5)])
    reference = torch.sigmoid(torch.tensor(logits, dtype=torch.float64)).numpy()
    np.testing.assert_allclose(scores, reference, rtol=1e-12, atol=0)


def test_score_phrases_rejects_bad_input():
    with pytest.raises(ValueError, match=r"must be \(queries, tokens\), got shape \(3,\)"):
        score_phrases(np.zeros(3), [[0]])
    with pytest.raises(ValueError, match="phrase 0 uses token 4, but logits have 4 token"):
        score_phrases(np.zeros((2, 4)), [[1, 4]])
    with pytest.raises(ValueError, match="reduce must be 'max' or 'mean', got 'sum'"):
        score_phrases(np.zeros((2, 4)), [[1]], reduce="sum")


def _car_taxi_outputs(processor, taxi_logit: float, car_logit: float):
    """One box over the prompt "car. taxi."; logits given per phrase token."""
    prompt, char_spans = build_prompt(["car", "taxi"])
    encoded = processor.tokenizer(prompt, return_offsets_mapping=True)
    spans = phrase_token_spans(encoded["offset_mapping"], char_spans)
    logits = np.full((1, 256), -np.inf)
    logits[0, : len(encoded["input_ids"])] = -8.0
    logits[0, spans[0]] = car_logit
    logits[0, spans[1]] = taxi_logit
    return encoded["input_ids"], spans, logits


def _detect(boxes, logits, spans, phrases, size=(100, 100), **settings):
    """phrase_detections with the thresholds most tests use; ``settings`` override."""
    defaults = {"image_index": 0, "box_threshold": 0.3, "text_threshold": 0.25, "backend": "t"}
    return phrase_detections(boxes, logits, spans, phrases, size, **{**defaults, **settings})


def test_adjacent_phrases_never_merge(processor):
    input_ids, spans, logits = _car_taxi_outputs(processor, taxi_logit=3.0, car_logit=-4.0)
    boxes = np.array([[0.5, 0.5, 0.2, 0.2]])
    found = _detect(boxes, logits, spans, ["Car", "Taxi"])
    assert [(d.label, d.phrase_index, d.score) for d in found] == [("Taxi", 1, _sigmoid(3.0))]

    # Both phrases light up: transformers' post-processing reads one merged label,
    # here each phrase is its own detection with its own score.
    input_ids, spans, logits = _car_taxi_outputs(processor, taxi_logit=3.0, car_logit=1.0)
    outputs = SimpleNamespace(
        logits=torch.tensor(logits, dtype=torch.float32)[None],
        pred_boxes=torch.tensor(boxes, dtype=torch.float32)[None],
    )
    merged = processor.post_process_grounded_object_detection(
        outputs, input_ids=torch.tensor([input_ids]), threshold=0.3, text_threshold=0.25
    )
    assert merged[0]["text_labels"] == ["car taxi"]
    found = _detect(boxes, logits, spans, ["Car", "Taxi"])
    assert [(d.label, d.phrase_index) for d in found] == [("Car", 0), ("Taxi", 1)]
    assert [d.score for d in found] == pytest.approx([_sigmoid(1.0), _sigmoid(3.0)], rel=1e-12)


# -- detections from boxes and logits -------------------------------------------


def test_phrase_detections_rule_and_boxes():
    # Box 0: best phrase 0.35 >= box 0.3, other 0.27 >= text 0.25 -> two detections.
    # Box 1: best phrase 0.28 < box 0.3 -> dropped although >= text threshold.
    # Box 2: spills past the image -> clipped. Box 3: outside the image -> dropped.
    logit = lambda p: math.log(p / (1 - p))  # noqa: E731
    logits = np.array(
        [
            [-9.0, logit(0.35), logit(0.27), -9.0],
            [-9.0, logit(0.28), -9.0, -9.0],
            [-9.0, -9.0, logit(0.9), -9.0],
            [-9.0, logit(0.9), -9.0, -9.0],
        ]
    )
    boxes = np.array(
        [[0.5, 0.5, 0.2, 0.4], [0.5, 0.5, 0.1, 0.1], [0.95, 0.1, 0.2, 0.4], [1.2, 0.5, 0.2, 0.2]]
    )
    found = _detect(
        boxes,
        logits,
        [[1], [2]],
        ["p one", "p two"],
        (200, 100),
        image_index=3,
        backend="b",
        phrase_indices=[4, 7],
    )
    got = [(d.label, d.phrase_index, d.image_index, d.xyxy, d.box_1000, d.backend) for d in found]
    assert got == [
        ("p one", 4, 3, pytest.approx((80.0, 30.0, 120.0, 70.0)), (400, 300, 600, 700), "b"),
        ("p two", 7, 3, pytest.approx((80.0, 30.0, 120.0, 70.0)), (400, 300, 600, 700), "b"),
        ("p two", 7, 3, pytest.approx((170.0, 0.0, 200.0, 30.0)), (850, 0, 1000, 300), "b"),
    ]
    assert [d.score for d in found] == pytest.approx([0.35, 0.27, 0.9], rel=1e-9)


@pytest.mark.parametrize(
    ("boxes", "logits", "phrases", "message"),
    [
        ((2, 3), (2, 4), ["a"], r"must be \(queries, 4\), got shape \(2, 3\)"),
        ((2, 4), (2, 4), ["a", "b"], "got 2 phrases but 1 token spans"),
        ((3, 4), (2, 4), ["a"], "got 3 boxes but 2 rows of logits"),
    ],
)
def test_phrase_detections_checks_shapes(boxes, logits, phrases, message):
    with pytest.raises(ValueError, match=message):
        _detect(np.zeros(boxes), np.zeros(logits), [[1]], phrases, (10, 10))


# -- chunking long phrase lists --------------------------------------------------


def test_chunk_phrases_greedy_and_order_preserving():
    # Prompt cost: 2 ([CLS], [SEP]) + per phrase (pieces + ".").
    assert chunk_phrases([3, 3, 3], max_tokens=10) == [[0, 1], [2]]
    assert chunk_phrases([3, 3, 3], max_tokens=14) == [[0, 1, 2]]
    assert chunk_phrases([20, 1, 1], max_tokens=10) == [[0], [1, 2]]  # too long: alone
    assert chunk_phrases([], max_tokens=10) == []
    with pytest.raises(ValueError, match="max_tokens must leave room for one phrase, got 3"):
        chunk_phrases([1], max_tokens=3)


def test_chunked_prompts_fit_the_real_tokenizer(processor):
    tokenizer = processor.tokenizer
    phrases = [f"the chord ab{i}" for i in range(40)] + ["a red triangle", "x"]
    counts = [len(tokenizer(p, add_special_tokens=False)["input_ids"]) for p in phrases]
    # The cost formula is exact for BERT: check it on the whole, unchunked prompt.
    whole = tokenizer(build_prompt(phrases)[0])["input_ids"]
    assert len(whole) == 2 + sum(c + 1 for c in counts)
    chunks = chunk_phrases(counts, max_tokens=64)
    assert [i for chunk in chunks for i in chunk] == list(range(len(phrases)))
    prompts = [build_prompt([phrases[i] for i in chunk])[0] for chunk in chunks]
    lengths = [len(tokenizer(prompt)["input_ids"]) for prompt in prompts]
    assert max(lengths) <= 64
    # Greedy: adding the next phrase to any chunk would have overflowed it.
    for chunk, following in zip(chunks, chunks[1:], strict=False):
        grown = build_prompt([phrases[i] for i in [*chunk, following[0]]])[0]
        assert len(tokenizer(grown)["input_ids"]) > 64
