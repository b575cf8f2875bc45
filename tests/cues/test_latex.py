"""Reading LaTeX figure notation as groundable words, with spans into the original."""

from __future__ import annotations

import pytest

from cuekit.cues.latex import read_math
from cuekit.cues.phrases import RulePhraseExtractor


def _words(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        (r"In $\odot P$, $m \widehat{EN}=66$", "In circle P , arc EN =66"),
        (r"Find $\overline{AB}$ if", "Find segment AB if"),
        (r"$\triangle RST \cong \triangle XYZ$", "triangle RST = triangle XYZ"),
        (r"Find $m \angle H$.", "Find angle H ."),
        (r"$m\angle ABC = 35^\circ$", "angle ABC = 35"),
        ("m∠1 and ∠ABC = 40°", "angle 1 and angle ABC = 40"),
        (
            r"$\overline{JK} \perp \overline{KL}$, $a \parallel b$",
            "segment JK = segment KL , a = b",
        ),
        (r"$\frac{1}{2} \sqrt{3}$ \text{cm}", "1 2 3 cm"),
        (r"$m \widehat {EN}$", "arc EN"),
    ],
)
def test_figure_commands_become_nouns_and_relations_punctuation(
    question: str, expected: str
) -> None:
    assert _words(read_math(question).text) == expected


def test_text_without_math_is_unchanged_with_identity_spans() -> None:
    question = "What colour is the shape directly below the triangle?"
    reading = read_math(question)
    assert reading.text == question
    assert reading.origin == tuple((i, i + 1) for i in range(len(question)))


def test_source_span_covers_the_whole_command_and_its_measure_prefix() -> None:
    question = r"Find $m \widehat{EN}$ now"
    reading = read_math(question)
    start = reading.text.index("arc EN")
    begin, end = reading.source_span(start, start + len("arc EN"))
    assert question[begin:end] == r"m \widehat{EN}"


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        (
            r"In $\odot P$, $m \widehat{EN}=66$ and $m \angle GPM=89$. Find $m \angle GMP$.",
            ["circle P", "arc EN", "angle GPM", "angle GMP"],
        ),
        (r"Find $\overline{AB}$ if $BC = 12$.", ["segment AB", "BC"]),
        (r"$\triangle RST \cong \triangle XYZ$. Find $y$.", ["triangle RST", "triangle XYZ", "y"]),
        (r"Find $m \angle H$.", ["angle H"]),
        ("Find x. Round to the nearest tenth if necessary.", ["x"]),
        (
            "Subtract all large rubber spheres. How many objects are left?",
            ["large rubber spheres", "objects"],
        ),
        ("How many people in the image were born after the end of World War II?", ["people"]),
        ("What is the value of the smallest bar in the whole chart?", ["smallest bar"]),
        ("Find the area of the sector. Express your answer in simplest radical form.", ["sector"]),
        ("What is the age gap between these two people? (Unit: years)", ["people"]),
        ("Find the surface area of the cylinder.", ["cylinder"]),
        (
            "Straight lines a and b are parallel; KN = 9, LN = 16 and BE = 4.",
            ["Straight lines", "a", "b", "KN", "LN", "BE"],
        ),
        (
            "Line l1 is parallel to l2; a boat is 40 m away and y = f(x) has slope 2x.",
            ["Line l1", "l2", "boat", "y", "x"],
        ),
        ("Chord AB is 8 and OC is perpendicular to AB.", ["Chord AB", "OC"]),
    ],
)
def test_the_issue_examples_give_groundable_phrases(question: str, expected: list[str]) -> None:
    assert [p.text for p in RulePhraseExtractor()(question)] == expected
