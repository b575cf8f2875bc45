"""Plausibility checks for OCR reads: each reason on hand-made reads, and re-read agreement."""

from __future__ import annotations

import pytest

from cuekit.grounding.ocr_checks import (
    REASONS,
    SECOND_VIEW,
    SURE_SHORT_SCORE,
    THIRD_VIEW,
    VIEW,
    confirmed,
    implausible,
    reads_agree,
    reread_box,
)

SMALL = (40.0, 40.0, 52.0, 56.0)  # a 12x16 label in a 400x300 image


@pytest.mark.parametrize(
    ("text", "box", "question", "reason"),
    [
        ("***", SMALL, "", "no-glyphs"),
        (".0.", SMALL, "", "punctuation"),
        ("**K", SMALL, "", "punctuation"),
        ("新", SMALL, "What colour is the ribbon?", "script"),
        ("0000", SMALL, "", "repeat"),
        ("11", SMALL, "", None),
        ("0", (115.0, 72.0, 223.0, 164.0), "What colour are the cat's eyes?", "oversized"),
        ("8", (0.0, 0.0, 399.0, 299.0), "", "oversized"),
        ("A", SMALL, "", None),
        ("35°", SMALL, "", None),
        ("12 cm", SMALL, "", None),
        ("-2.5", SMALL, "", None),
        ("Region-based segmentation", (3.0, 9.0, 296.0, 36.0), "", None),
        ("新", SMALL, "新 is written where?", None),
    ],
)
def test_each_reason_on_hand_made_reads(
    text: str, box: tuple[float, float, float, float], question: str, reason: str | None
) -> None:
    assert implausible(text, box, 400, 300, question) == reason
    assert reason is None or reason in REASONS


def test_a_mentioned_read_may_be_large_or_repeated() -> None:
    big = (0.0, 0.0, 200.0, 200.0)
    assert implausible("O", big, 400, 300, "Find the radius of circle O.") == "oversized"
    assert implausible("O", big, 400, 300, "Find the radius of circle O.", mentioned=True) is None
    assert implausible("000", SMALL, 400, 300, "", mentioned=True) is None
    assert implausible("***", SMALL, 400, 300, "", mentioned=True) == "no-glyphs"


@pytest.mark.parametrize(
    ("first", "second", "agree"),
    [
        ("YAMARA", "YAMAHR", False),
        ("TIO", "TICE", False),
        ("O", "0", True),
        ("l1", "I1", True),
        ("Apple", "apple", True),
        ("12 cm", "12cm", True),
        ("12", "13", False),
        ("50°", "500", True),
        (".0", "0", True),
        ("2.5", "25", False),
        ("5", "⑤", True),
        ("７", "7", True),
    ],
)
def test_reads_agree_up_to_case_spaces_and_confusable_glyphs(
    first: str, second: str, agree: bool
) -> None:
    assert reads_agree(first, second) is agree


def test_reread_pads_the_box_and_clips_it_to_the_image() -> None:
    seen = []

    def recognize(crop: tuple[int, int, int, int], height: int) -> str:
        seen.append((crop, height))
        return "A"

    assert reread_box((10.0, 20.0, 30.0, 40.0), 100, 100, recognize) == "A"
    assert reread_box((0.0, 90.0, 20.0, 100.0), 100, 100, recognize) == "A"
    assert seen == [((3, 13, 38, 48), 48), ((0, 86, 24, 100), 48)]


@pytest.mark.parametrize(
    ("text", "score", "mentioned", "reads", "expected", "views"),
    [
        # three characters or more: one agreeing view
        ("Apple", 0.8, False, ("Apple",), True, 1),
        ("Apple", 0.8, False, ("Appel",), False, 1),
        # a short read: two views agree ...
        ("7", 0.8, False, ("7", "7"), True, 2),
        ("7", 0.8, False, ("7", "1"), False, 2),
        ("7", 0.8, False, ("1",), False, 1),
        # ... or, read with a sure score, two of three
        ("6", SURE_SHORT_SCORE, False, ("6", "0", "6"), True, 3),
        ("6", SURE_SHORT_SCORE, False, ("0", "6", "6"), True, 3),
        ("6", SURE_SHORT_SCORE, False, ("0", "6", "8"), False, 3),
        ("6", SURE_SHORT_SCORE, False, ("0", "8"), False, 2),
        # a read the question names: one of two views
        ("Q", 0.8, True, ("Q",), True, 1),
        ("Q", 0.8, True, ("0", "Q"), True, 2),
        ("Q", 0.8, True, ("a", "0"), False, 2),
    ],
)
def test_confirmed_counts_agreeing_views_lazily(
    text: str,
    score: float,
    mentioned: bool,
    reads: tuple[str, ...],
    expected: bool,
    views: int,
) -> None:
    asked = []

    def reread(view: tuple[float, int]) -> str:
        asked.append(view)
        return reads[len(asked) - 1]

    assert confirmed(text, score, mentioned, reread) is expected
    assert asked == [VIEW, SECOND_VIEW, THIRD_VIEW][:views]
