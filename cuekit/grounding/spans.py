"""Grounding DINO prompts and per-phrase scores from token spans (pure functions).

Grounding DINO scores every box against every *token* of the prompt
``"a cat. a dog."``; phrases are a reading of those tokens. transformers'
``post_process_grounded_object_detection`` thresholds all tokens of the prompt
together and decodes whatever tokens pass, so two adjacent phrases can come
back as one merged label ("car taxi"). Here each phrase is scored only on its
own tokens, located through the tokenizer's offset mapping, so a label is
always exactly one phrase.

Shapes: Q = queries (boxes) per image, T = text positions (the model pads its
logits to ``max_text_len``), P = phrases in the prompt.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from cuekit.schemas import Detection, clip_xyxy, xyxy_to_1000

# Grounding DINO's text limit (config.max_text_len); longer prompts are truncated.
MAX_TEXT_TOKENS = 256
# Every prompt carries [CLS] and [SEP]; each phrase is followed by a "." token.
_SPECIAL_TOKENS_PER_PROMPT = 2
_SEPARATOR_TOKENS_PER_PHRASE = 1

_WHITESPACE = re.compile(r"\s+")
# "." and "?" are phrase delimiters for the model (token ids 1012 and 1029):
# left inside a phrase they would split it into two blocks of text attention.
_DELIMITERS = re.compile(r"[.?]")


def normalize_phrase(phrase: str) -> str:
    """Lowercase, delimiters replaced by spaces, whitespace collapsed."""
    text = _WHITESPACE.sub(" ", _DELIMITERS.sub(" ", phrase.lower())).strip()
    if not text:
        raise ValueError(f"phrase {phrase!r} is empty once '.', '?' and spaces are removed")
    return text


def is_groundable(phrase: str) -> bool:
    """True when the phrase keeps some text after :func:`normalize_phrase`."""
    return bool(_WHITESPACE.sub("", _DELIMITERS.sub("", phrase)))


def build_prompt(phrases: Sequence[str]) -> tuple[str, list[tuple[int, int]]]:
    """``["A cat", "a dog"]`` -> ``("a cat. a dog.", [(0, 5), (7, 12)])``.

    Returns the prompt and each phrase's ``(start, end)`` character span in it.
    Phrases are normalized with :func:`normalize_phrase`.
    """
    if not phrases:
        raise ValueError("build_prompt needs at least one phrase, got none")
    parts: list[str] = []
    spans: list[tuple[int, int]] = []
    cursor = 0
    for phrase in phrases:
        text = normalize_phrase(phrase)
        spans.append((cursor, cursor + len(text)))
        parts.append(text + ".")
        cursor += len(text) + 2  # the "." and the joining space
    return " ".join(parts), spans


def phrase_token_spans(
    offsets: Sequence[tuple[int, int]],
    char_spans: Sequence[tuple[int, int]],
    max_tokens: int | None = None,
) -> list[list[int]]:
    """Token positions of each phrase, from a tokenizer's ``offset_mapping``.

    ``offsets[i]`` is the ``(start, end)`` characters of token ``i``; special
    tokens have an empty ``(0, 0)`` span and belong to no phrase. A token belongs
    to a phrase when their character ranges overlap. Tokens at or past
    ``max_tokens`` (dropped by the model's truncation) are left out, so a
    truncated phrase may come back with fewer tokens or none.
    """
    limit = len(offsets) if max_tokens is None else min(len(offsets), max_tokens)
    token_spans: list[list[int]] = []
    for start, end in char_spans:
        token_spans.append(
            [
                index
                for index in range(limit)
                if offsets[index][1] > offsets[index][0]  # skip special tokens
                and offsets[index][0] < end
                and offsets[index][1] > start
            ]
        )
    return token_spans


def _sigmoid(values: np.ndarray) -> np.ndarray:
    # Written as exp of a non-positive number so that large |x| never overflows;
    # -inf (the model's padded positions) maps to exactly 0.
    positive = values >= 0
    exp_neg_abs = np.exp(-np.abs(values))
    return np.where(positive, 1.0 / (1.0 + exp_neg_abs), exp_neg_abs / (1.0 + exp_neg_abs))


def as_float_array(values: Any) -> np.ndarray:
    """A torch tensor (any device or dtype) or array-like -> float64 numpy array, so
    both backends pass their model's outputs as they come."""
    if hasattr(values, "detach"):
        values = values.detach().float().cpu().numpy()
    return np.asarray(values, dtype=np.float64)


def score_phrases(
    token_logits: np.ndarray,
    token_spans: Sequence[Sequence[int]],
    reduce: Literal["max", "mean"] = "max",
) -> np.ndarray:
    """Per-phrase probabilities: ``(Q, T)`` token logits -> ``(Q, P)`` scores.

    A phrase's score for a box is the sigmoid of the box's logits over that
    phrase's tokens only, reduced with ``max`` by default. Max is the reduction
    Grounding DINO's released inference uses for its box score (and
    transformers' post-processing), so ``box_threshold`` keeps its usual
    meaning; a multi-token phrase is as strong as its best token, so function
    words ("the", "of") cannot dilute a strong head noun. ``mean`` is the
    GLIP/GDINO COCO-evaluation reading, offered for comparison. Because a phrase
    is scored on its own tokens only, a box that lights up phrase 2's tokens
    scores nothing for phrase 1, however close in the prompt. A phrase with no
    tokens (truncated away) scores 0.
    """
    logits = as_float_array(token_logits)
    if logits.ndim != 2:
        raise ValueError(f"token_logits must be (queries, tokens), got shape {logits.shape}")
    if reduce not in ("max", "mean"):
        raise ValueError(f"reduce must be 'max' or 'mean', got {reduce!r}")
    probs = _sigmoid(logits)  # (Q, T)
    scores = np.zeros((logits.shape[0], len(token_spans)), dtype=np.float64)
    for phrase, tokens in enumerate(token_spans):
        if not tokens:
            continue
        if max(tokens) >= logits.shape[1]:
            raise ValueError(
                f"phrase {phrase} uses token {max(tokens)}, but logits have "
                f"{logits.shape[1]} token positions"
            )
        picked = probs[:, list(tokens)]  # (Q, len(tokens))
        scores[:, phrase] = picked.max(axis=1) if reduce == "max" else picked.mean(axis=1)
    return scores


def chunk_phrases(
    phrase_token_counts: Sequence[int], max_tokens: int = MAX_TEXT_TOKENS
) -> list[list[int]]:
    """Split phrases into groups whose prompts fit in ``max_tokens`` tokens.

    ``phrase_token_counts[i]`` is the number of word pieces of phrase ``i``
    alone (no special tokens). With BERT's pre-tokenizer, which splits at
    spaces and punctuation, a prompt's length is exactly [CLS] + [SEP] plus, per
    phrase, its pieces and its ".". Greedy and order-preserving; returns phrase
    indices per chunk. A single phrase too long for any prompt gets a chunk of
    its own and is truncated by the model.
    """
    if max_tokens <= _SPECIAL_TOKENS_PER_PROMPT + _SEPARATOR_TOKENS_PER_PHRASE:
        raise ValueError(f"max_tokens must leave room for one phrase, got {max_tokens}")
    chunks: list[list[int]] = []
    current: list[int] = []
    used = _SPECIAL_TOKENS_PER_PROMPT
    for index, count in enumerate(phrase_token_counts):
        cost = count + _SEPARATOR_TOKENS_PER_PHRASE
        if current and used + cost > max_tokens:
            chunks.append(current)
            current, used = [], _SPECIAL_TOKENS_PER_PROMPT
        current.append(index)
        used += cost
    if current:
        chunks.append(current)
    return chunks


def cxcywh_to_xyxy(box: Sequence[float], width: int, height: int) -> tuple[float, ...]:
    """A normalized ``(cx, cy, w, h)`` box -> absolute ``(x1, y1, x2, y2)`` pixels."""
    cx, cy, w, h = (float(v) for v in box)
    half_w, half_h = w / 2, h / 2
    return (
        (cx - half_w) * width,
        (cy - half_h) * height,
        (cx + half_w) * width,
        (cy + half_h) * height,
    )


def phrase_detections(
    boxes_cxcywh: np.ndarray,
    token_logits: np.ndarray,
    token_spans: Sequence[Sequence[int]],
    phrases: Sequence[str],
    image_size: tuple[int, int],
    *,
    image_index: int,
    box_threshold: float,
    text_threshold: float,
    backend: str,
    phrase_indices: Sequence[int] | None = None,
) -> list[Detection]:
    """Boxes and token logits of one image -> one Detection per (box, phrase) kept.

    The rule, per box ``q`` with phrase scores ``s[q, p]`` (:func:`score_phrases`):
    the box is kept when its best phrase scores ``>= box_threshold`` (Grounding
    DINO's box filter, restricted to phrase tokens), and it is reported once for
    every phrase with ``s[q, p] >= text_threshold`` (its label filter), with that
    phrase's own score. Boxes are normalized ``cxcywh`` relative to the image
    (``image_size`` is ``(width, height)`` of the original); they are clipped,
    and boxes of zero area after clipping are dropped. No NMS here.
    ``phrase_indices`` maps prompt phrases to indices in the sample's phrase
    list (defaults to ``0..P-1``). Boxes and logits may be numpy arrays or torch
    tensors (:func:`as_float_array`).
    """
    boxes = as_float_array(boxes_cxcywh)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"boxes_cxcywh must be (queries, 4), got shape {boxes.shape}")
    if len(phrases) != len(token_spans):
        raise ValueError(f"got {len(phrases)} phrases but {len(token_spans)} token spans")
    indices = list(range(len(phrases))) if phrase_indices is None else list(phrase_indices)
    if len(indices) != len(phrases):
        raise ValueError(f"got {len(phrases)} phrases but {len(indices)} phrase indices")
    scores = score_phrases(token_logits, token_spans)  # (Q, P)
    if scores.shape[0] != boxes.shape[0]:
        raise ValueError(f"got {boxes.shape[0]} boxes but {scores.shape[0]} rows of logits")
    width, height = image_size
    detections: list[Detection] = []
    for query in np.flatnonzero(scores.max(axis=1, initial=0.0) >= box_threshold):
        xyxy = clip_xyxy(cxcywh_to_xyxy(boxes[query], width, height), width, height)
        if xyxy[2] <= xyxy[0] or xyxy[3] <= xyxy[1]:
            continue
        for phrase in np.flatnonzero(scores[query] >= text_threshold).tolist():
            detections.append(
                Detection(
                    label=phrases[phrase],
                    phrase_index=indices[phrase],
                    image_index=image_index,
                    xyxy=xyxy,
                    box_1000=xyxy_to_1000(xyxy, width, height),
                    score=float(scores[query, phrase]),
                    backend=backend,
                )
            )
    return detections
