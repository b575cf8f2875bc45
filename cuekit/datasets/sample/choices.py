"""Multiple-choice options and numeric distractors for the sample's answers."""

from __future__ import annotations

import random


def as_choices(rng: random.Random, answer: str, distractors: list[str]) -> tuple[list[str], str]:
    """Four options (fewer if the pool is small) holding the answer; returns (choices, letter)."""
    pool = sorted({d for d in distractors if d != answer})
    options = [answer, *rng.sample(pool, min(3, len(pool)))]
    rng.shuffle(options)
    return options, "ABCD"[options.index(answer)]


def number_distractors(value: float) -> list[str]:
    step = max(1, round(abs(value) * 0.2))
    return [f"{value + k * step:g}" for k in (-3, -2, -1, 1, 2, 3) if value + k * step > 0]
