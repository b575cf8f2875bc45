"""Cue wordings: articles, plurals and counts of the v2 wording."""

from __future__ import annotations

import pytest

from cuekit.cues.wording import (
    CUE_WORDINGS,
    LATEST_CUE_WORDING,
    check_cue_wording,
    count_phrase,
    is_plural,
    name_thing,
    pluralize,
)


@pytest.mark.parametrize(
    ("noun", "plural"),
    [
        ("red circles", True),
        ("people", True),
        ("vertices", True),
        ("dice", True),
        ("cross", False),
        ("bus", False),
        ("axis", False),
        ("radius", False),
        ("series", False),
        ("glass", False),
        ("pet", False),
        ("A", False),
        ("point A", False),
        ("lens", False),
    ],
)
def test_is_plural_reads_the_last_word(noun: str, plural: bool) -> None:
    assert is_plural(noun) is plural


@pytest.mark.parametrize(
    ("noun", "expected"),
    [
        ("tallest bar", "tallest bars"),
        ("cross", "crosses"),
        ("box", "boxes"),
        ("bus", "buses"),
        ("city", "cities"),
        ("day", "days"),
        ("person", "people"),
        ("vertex", "vertices"),
        ("leaf", "leaves"),
        ("series", "series"),
        ("red circles", "red circles"),
        ("cyan metal school bus", "cyan metal school buses"),
    ],
)
def test_pluralize_inflects_the_head_noun(noun: str, expected: str) -> None:
    assert pluralize(noun) == expected


@pytest.mark.parametrize(
    ("name", "mentioned", "expected"),
    [
        ("red circle", True, "the red circle"),
        ("red circles", False, "the red circles"),  # a plural takes no "a"
        ("star", False, "a star"),
        ("orange", False, "an orange"),
        ("unit square", False, "a unit square"),
        ("x axis", False, "an x axis"),
        ("y axis", False, "a y axis"),
        ("point A", True, "point A"),
        ("triangle ABC", True, "triangle ABC"),
        ("angle 1", True, "angle 1"),
        ("line l1", False, "line l1"),
        ("Web Green", True, "Web Green"),
        ("GDP", True, "GDP"),
        ("1", False, "the digit 1"),
        ("12", True, "the number 12"),
        ('the label "x"', True, 'the label "x"'),
    ],
)
def test_name_thing_chooses_the_article(name: str, mentioned: bool, expected: str) -> None:
    assert name_thing(name, mentioned=mentioned) == expected


def test_count_phrase_puts_the_count_before_a_plural() -> None:
    assert count_phrase(3, "red circle") == "3 red circles"
    assert count_phrase(2, "people") == "2 people"
    assert count_phrase(2, "triangle ABC") == "triangle ABC, 2 found"


def test_wording_versions_are_checked() -> None:
    assert LATEST_CUE_WORDING == CUE_WORDINGS[-1] == check_cue_wording("v2")
    assert check_cue_wording("v1") == "v1"
    with pytest.raises(ValueError, match="unknown cue wording 'v3'; choose one of: v1, v2"):
        check_cue_wording("v3")
