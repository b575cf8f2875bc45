"""Answer extraction and equivalence: tables of responses and the answers they give."""

from __future__ import annotations

import pytest

from cuekit.evaluate import answers
from cuekit.evaluate.answers import (
    Extraction,
    choice_letter,
    extract,
    extract_answer,
    find_boxed,
    is_equivalent,
    judge,
    normalize_answer,
)

CHOICES = ["3", "5", "7 cm", "Lime"]


@pytest.mark.parametrize(("text", "expected"), [
    ("so \\boxed{5}.", ["5"]),
    ("\\boxed{\\frac{1}{2}}", ["\\frac{1}{2}"]),
    ("\\boxed{\\text{B}} and later \\boxed{x^{2}}", ["\\text{B}", "x^{2}"]),
    ("\\fbox{7}", ["7"]),
    ("\\boxed {12}", ["12"]),
    ("\\boxed{unclosed {", []),
    ("\\boxed without braces then \\boxed{3}", ["3"]),
    ("no box", []),
])
def test_find_boxed_matches_nested_braces(text: str, expected: list[str]) -> None:
    assert find_boxed(text) == expected


@pytest.mark.parametrize(("response", "choices", "expected"), [
    # boxed wins over everything, the last box counts
    ("First \\boxed{3}, no wait: \\boxed{\\dfrac{3}{4}}", None,
     Extraction("\\dfrac{3}{4}", "boxed")),
    ("The answer is 4 but \\boxed{5}", None, Extraction("5", "boxed")),
    # final-answer phrases, last one, cut at the line end, markdown and period dropped
    ("So the final answer is: 12 cm.\nDone", None, Extraction("12 cm", "phrase")),
    ("Answer: **Lime**", None, Extraction("Lime", "phrase")),
    ("The answer is 3. Actually the answer is $\\frac{1}{3}$.", None,
     Extraction("\\frac{1}{3}", "phrase")),
    ("final answer = 35°", None, Extraction("35°", "phrase")),
    # choice letters (only with choices)
    ("I pick (B) here.", CHOICES, Extraction("B", "choice")),
    ("option c looks right", CHOICES, Extraction("C", "choice")),
    ("Looking at a chart.\nD", CHOICES, Extraction("D", "choice")),
    ("It must be Lime", CHOICES, Extraction("D", "choice")),
    ("(E) is out of range, so 5", CHOICES, Extraction("B", "choice")),
    # last number, then last line
    ("There are 2 red and 3 blue, 5 in all", None, Extraction("5", "number")),
    ("The sum is 1,250", None, Extraction("1,250", "number")),
    ("It is a dog.\nDog", None, Extraction("Dog", "line")),
    ("   ", None, Extraction("", "none")),
])
def test_extract_table(response: str, choices: list[str] | None, expected: Extraction) -> None:
    assert extract(response, choices) == expected
    assert extract_answer(response, choices) == expected.text


@pytest.mark.parametrize(("text", "expected"), [
    ("$\\text{Dog}$.", "dog"),
    ("\\textbf{\\text{Lime}}", "lime"),
    ("35^\\circ", "35"),
    ("35°", "35"),
    ("30 degrees", "30"),
    ("(B)", "b"),
    ("**Yes**", "yes"),
    ("\\left( 1, 2 \\right)", "( 1, 2 )"),
    ("  Left   hand  ", "left hand"),
    (None, ""),
])
def test_normalize_answer(text: str | None, expected: str) -> None:
    assert normalize_answer(text) == expected


@pytest.mark.parametrize(("predicted", "reference"), [
    ("\\frac{1}{2}", "0.5"),  # fraction vs decimal (math-verify)
    ("3/4", "0.75"),
    ("\\dfrac{6}{8}", "3/4"),
    ("2\\sqrt{3}", "\\sqrt{12}"),  # symbolic (math-verify)
    ("12 cm", "12"),  # units
    ("$5", "5"),  # currency
    ("1,000", "1000"),  # thousands separator
    ("35°", "35"),  # degrees
    ("35^\\circ", "35"),
    ("\\text{Dog}", "dog"),  # normalized strings
    ("5.0", "5"),
])
def test_equivalent_pairs(predicted: str, reference: str) -> None:
    assert is_equivalent(predicted, reference)


@pytest.mark.parametrize(("predicted", "reference"), [
    ("\\frac{1}{3}", "0.33"),
    ("15", "5"),
    ("-5", "5"),
    ("dogs", "dog"),
    ("\\sqrt{2}", "2"),
    ("", "5"),
    ("5", None),
    ("5", "   "),
])
def test_not_equivalent_pairs(predicted: str, reference: str | None) -> None:
    assert not is_equivalent(predicted, reference)


@pytest.mark.parametrize(("predicted", "reference", "expected"), [
    ("B", "B", True),
    ("(b)", "B", True),
    ("5", "B", True),  # the text of choice B
    ("7", "C", True),  # "7" equals "7 cm"
    ("Lime", "D", True),
    ("A", "B", False),
    ("3", "B", False),
    ("B", "5", True),  # reference given as the choice text (MathVista style)
    ("B", "7 cm", False),
    ("E", "B", False),  # out of range
])
def test_choices_map_letters_and_texts(predicted: str, reference: str, expected: bool) -> None:
    assert is_equivalent(predicted, reference, CHOICES) is expected


def test_choice_letter() -> None:
    assert choice_letter("c.", CHOICES) == "C"
    assert choice_letter("lime", CHOICES) == "D"
    assert choice_letter("F", CHOICES) is None
    assert choice_letter("B", None) is None


def test_judge_combines_extraction_and_verification() -> None:
    verdict = judge("Counting the ticks... the answer is \\boxed{\\frac{15}{1}}", "15")
    assert (verdict.extracted, verdict.method, verdict.correct) == ("\\frac{15}{1}", "boxed", True)
    verdict = judge("I choose (A).", "B", CHOICES)
    assert (verdict.extracted, verdict.method, verdict.correct) == ("A", "choice", False)


def test_without_math_verify_falls_back_to_strings_and_numbers(monkeypatch) -> None:
    monkeypatch.setattr(answers, "_math_verify_module", lambda: None)
    assert is_equivalent("3/4", "0.75")  # exact numbers need no math-verify
    assert is_equivalent("\\text{Dog}", "dog")
    assert not is_equivalent("2\\sqrt{3}", "\\sqrt{12}")  # symbolic needs it


def test_precision_rounds_both_numbers_as_mathvista_does():
    from cuekit.evaluate.answers import judge

    assert not judge("The answer is 1.54", "1.5").correct
    verdict = judge("The answer is 1.54", "1.5", precision=1)
    assert (verdict.extracted, verdict.correct) == ("1.54", True)
    assert not judge("The answer is 1.56", "1.5", precision=1).correct
    assert judge("The answer is 3.0", "3", precision=0).correct
