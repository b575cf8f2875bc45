"""Leak detection: answers found in cue text, and near misses that are not leaks."""

from __future__ import annotations

from fractions import Fraction

import pytest

from cuekit.cues.leak import find_leak, is_leaky, parse_number

LEAKS = [
    # (text, answer, choices, leaked string)
    ("AB is 5 long", "5", None, "5"),
    ("AB is 5.0 long", "5", None, "5.0"),
    ("AB is 5 long", "5.00", None, "5"),
    ("AB = 5cm", "5 cm", None, "5"),
    ("the side is five units", "5", None, "five"),
    ("the total is 1,200", "$1200", None, "1,200"),
    ("slope 3/4", "0.75", None, "3/4"),
    ("slope 0.75", "3/4", None, "0.75"),
    ("angle is 35°.", "35°", None, "35"),
    ("the share is 40%", "40", None, "40"),
    ("boxes [1,2]", "2", None, "2"),
    ("The Blue line peaks", "blue", None, "Blue"),
    ("look at the left hand", "Left Hand", None, "left hand"),
    ("The image shows point A (top left)", "A", None, "A"),
    ("point C is on circle O", "(C)", None, "C"),
    ("the angle is 50 degrees", "B", ["40°", "50°", "60°"], "50"),
    ("the red bar is tallest", "A", ["red bar", "blue bar"], "red bar"),
    ("mark 3 is the label", "three", None, "3"),
]

SAFE = [
    ("AB is 15 long", "5", None),
    ("AB is 5.5 long", "5", None),
    ("AB is 0.5 long", "5", None),
    ("AB is 25 or 50 or v5", "5", None),
    ("AB is -5", "5", None),
    ("a circle and a square", "A", None),
    ("segment AB and triangle ABC", "A", None),
    ("the reddish bar", "red", None),
    ("the bars", "bar", None),
    ("point A is marked", "C", ["30", "40", "50"]),
    ("no numbers at all", "7", None),
    ("anything", None, None),
    ("", "5", None),
    ("choice B", "E", ["1", "2"]),
]


@pytest.mark.parametrize(("text", "answer", "choices", "leaked"), LEAKS)
def test_finds_the_leaked_string(text, answer, choices, leaked) -> None:
    assert find_leak(text, answer, choices) == leaked
    assert is_leaky(text, answer, choices)


@pytest.mark.parametrize(("text", "answer", "choices"), SAFE)
def test_does_not_flag_near_misses(text, answer, choices) -> None:
    assert find_leak(text, answer, choices) is None
    assert not is_leaky(text, answer, choices)


@pytest.mark.parametrize(
    ("answer", "value"),
    [
        ("5", Fraction(5)),
        ("5.00", Fraction(5)),
        ("5 cm", Fraction(5)),
        ("$1,200", Fraction(1200)),
        ("3/4", Fraction(3, 4)),
        ("-2.5", Fraction(-5, 2)),
        ("twelve", Fraction(12)),
        ("12 m^2", Fraction(12)),
        ("blue", None),
        ("AB", None),
        ("5 and 6", None),
    ],
)
def test_parse_number(answer: str, value: Fraction | None) -> None:
    assert parse_number(answer) == value
