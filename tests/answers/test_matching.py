"""Matching: extracted answers against golds, numbers, precision, choices and lists."""

from __future__ import annotations

import pytest

from cuekit.answers import Match, match_answer
from cuekit.answers.match import choice_letters
from cuekit.answers.normalize import clean_latex, plain_text, split_top_level, strip_brackets
from cuekit.answers.numbers import parse_value, values_agree

CHOICES = ["3", "5", "7 cm", "Lime"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2√3", "2\\sqrt{3}"),
        ("√(13)", "\\sqrt{13}"),
        ("4π", "4\\pi"),
        ("−7", "-7"),
        ("x²", "x^2"),
        ("\\$12", "$12"),
        ("12.5\\%", "12.5%"),
        ("1{,}250", "1,250"),
        ("1\\,250", "1250"),
        ("\\textbf{\\text{Lime}}", "Lime"),
        ("\\left( 1, 2 \\right)", "( 1, 2 )"),
        ("\\dfrac{3}{4}", "\\frac{3}{4}"),
    ],
)
def test_clean_latex(text: str, expected: str) -> None:
    assert clean_latex(text) == expected


def test_plain_text_and_splitting() -> None:
    assert plain_text("$\\text{Dog}$.") == "dog"
    assert plain_text('"Blue"') == "blue"
    assert split_top_level("\\frac{1}{2}, (1, 2), 3") == ["\\frac{1}{2}", "(1, 2)", "3"]
    assert strip_brackets("(2, 5)") == ("2, 5", "()")
    assert strip_brackets("(1)(2)") == ("(1)(2)", "")


@pytest.mark.parametrize(
    ("text", "exact", "places"),
    [
        ("5", 5, 0),
        ("-8", -8, 0),
        ("1,250", 1250, 0),
        ("3.140", 3.14, 3),
        ("$12", 12, 0),
        ("25%", 25, 0),
        ("35^\\circ", 35, 0),
        ("12 cm^2", 12, 0),
        ("48 square units", 48, 0),
        ("6 balls remain", 6, 0),
        ("three", 3, 0),
        ("none", 0, 0),
        ("\\frac{3}{4}", 0.75, None),
        ("2^{10}", 1024, None),
    ],
)
def test_parse_value_reads_numbers(text: str, exact: float, places: int | None) -> None:
    value = parse_value(text)
    assert value is not None and value.approx == pytest.approx(exact)
    assert value.places == places


@pytest.mark.parametrize("text", ["5x", "5 or 6", "x^2+1", "dog", "6 times 2", "(2, 5)"])
def test_parse_value_refuses_expressions(text: str) -> None:
    assert parse_value(text) is None


@pytest.mark.parametrize(
    ("answer", "gold", "precision", "expected"),
    [
        # the dataset's precision: half a unit in its last place
        ("2\\sqrt{3}", "3.46", 2, True),
        ("4\\pi", "12.57", 2, True),
        ("3.1416", "3.14", 2, True),
        ("3.15", "3.14", 2, False),
        ("1.7", "1.73", 2, False),
        ("\\sqrt{3}", "1.7", 1, True),
        # no precision: a gold with two or more places is a rounded value
        ("\\frac{1}{3}", "0.33", None, True),
        ("0.3333", "0.33", None, True),
        ("0.3", "0.33", None, False),
        ("2.54", "2.5", None, False),
        # no precision: a decimal for an exact gold, correctly rounded and precise enough
        ("3.46", "2\\sqrt{3}", None, True),
        ("12.57", "4\\pi", None, True),
        ("3.5", "2\\sqrt{3}", None, False),
        ("3.47", "2\\sqrt{3}", None, False),
        ("0.75", "\\frac{3}{4}", None, True),
        ("1024", "2^{10}", None, True),
    ],
)
def test_values_agree_at_the_right_precision(
    answer: str, gold: str, precision: int | None, expected: bool
) -> None:
    agreed, rule = values_agree(parse_value(answer), parse_value(gold), precision)
    assert agreed is expected, rule


@pytest.mark.parametrize(
    ("answer", "gold", "kwargs", "rule"),
    [
        ("B", "B", {"choices": CHOICES}, "a choice letter: B = B"),
        ("(b)", "B", {"choices": CHOICES}, "a choice letter: B = B"),
        ("5", "B", {"choices": CHOICES}, "the text of a choice: B = B"),
        ("7", "C", {"choices": CHOICES}, "the text of a choice: C = C"),
        ("(B) 5", "B", {"choices": CHOICES}, "a choice letter with its text: B = B"),
        ("D: Lime", "D", {"choices": CHOICES}, "a choice letter with its text: D = D"),
        ("B", "5", {"choices": CHOICES}, "a choice letter: B = B"),
        ("A, C", "AC", {"choices": CHOICES}, "choice letters: AC = AC"),
        ("C and A", "A, C", {"choices": CHOICES}, "choice letters: AC = AC"),
        ("(2, 5)", "[2, 5]", {}, "all 2 items equal, in order"),
        ("x = 2, y = 5", "(2, 5)", {}, "all 2 items equal, in order"),
        ("5 and 7", "5, 7", {}, "all 2 items equal, in order"),
        ("x=2 \\text{ or } x=3", "2, 3", {}, "all 2 items equal, in order"),
        ("Yes, because they are equal", "yes", {}, "yes/no"),
        ("x = 6", "6", {}, "same text"),
        ("6.0", "6", {}, "equal numbers"),
        ("12 cm", "12", {}, "equal numbers"),
        ("3.0", "3", {"answer_type": "integer"}, "equal at 0 decimal places (dataset precision)"),
        ("x^{2}-1", "(x-1)(x+1)", {}, "math-verify: equal expressions"),
        ("\\text{Dog}", "dog", {}, "same text"),
        ("(B) 12", "B", {}, "a choice letter: B = B"),  # choices not given
        (
            "7.002",
            "A",
            {"choices": ["7.0", "8.2"]},
            "the text of a choice: A = A",
        ),  # rounded options
        ("B = (4, −1)", "(4, -1)", {}, "all 2 items equal, in order"),
        ("b", "B", {}, "a choice letter: B = B"),
        ("Left hand", "left-hand", {}, "same text"),
        ("a cat", "cat", {}, "same text"),
    ],
)
def test_match_accepts(answer: str, gold: str, kwargs: dict, rule: str) -> None:
    result = match_answer(answer, gold, **kwargs)
    assert (result.correct, result.rule) == (True, rule)


@pytest.mark.parametrize(
    ("answer", "gold", "kwargs", "rule"),
    [
        ("A", "B", {"choices": CHOICES}, "a choice letter: A != B"),
        ("A: 5", "B", {"choices": CHOICES}, "letter A with the text of choice B"),
        ("E", "B", {"choices": CHOICES}, "names no choice"),
        ("ACD", "AC", {"choices": CHOICES}, "choice letters: ACD != AC"),
        ("(5, 2)", "[2, 5]", {}, "item 1: different numbers"),
        ("[2, 5]", "(2,5]", {}, "interval [], gold (]"),
        ("4, 6", "4, 6, 8", {}, "2 items, the gold has 3"),
        ("3 or 4", "3", {}, "hedged between answers"),
        ("Yes and no", "yes", {}, "hedged between answers"),
        ("15", "5", {}, "different numbers"),
        ("5x", "5", {}, "not the gold number"),
        ("2.9", "3", {"answer_type": "integer"}, "not a whole number"),
        ("No", "yes", {}, "yes/no"),
        ("", "5", {}, "no answer"),
        ("not 5", "5", {}, "a negated answer"),
        ("A. 12", "B", {}, "a choice letter: A != B"),
        ("AB", "A", {}, "different answers"),
        ("pot", "top", {}, "different answers"),  # words are not products of symbols
        ("7.2", "A", {"choices": ["7.0", "7.1"]}, "names no choice"),
    ],
)
def test_match_rejects(answer: str, gold: str, kwargs: dict, rule: str) -> None:
    result = match_answer(answer, gold, **kwargs)
    assert (result.correct, result.rule) == (False, rule)


def test_choice_letters_reads_every_form() -> None:
    assert choice_letters("\\text{(B) } 5", CHOICES) == (
        frozenset("B"),
        "a choice letter with its text",
    )
    assert choice_letters("\\textbf{Option C}", CHOICES) == (frozenset("C"), "a choice letter")
    assert choice_letters("lime", CHOICES) == (frozenset("D"), "the text of a choice")
    assert choice_letters("I think 5", CHOICES) == (None, "names no choice")


def test_exact_forms_compare_by_value_and_expressions_symbolically() -> None:
    assert match_answer("\\sqrt{12}", "2\\sqrt{3}") == Match(True, "equal values")
    assert match_answer("\\sqrt{2}", "2") == Match(False, "different numbers")
    assert match_answer("2\\pi + 12", "12+2\\pi") == Match(True, "equal values")
    assert match_answer("r^2\\pi", "\\pi r^{2}") == Match(True, "math-verify: equal expressions")
    assert match_answer("\\pi r", "\\pi r^{2}") == Match(False, "different answers")


def test_a_short_answer_holding_one_worded_choice_names_it() -> None:
    shapes = ["sphere", "cube", "cylinder"]
    assert choice_letters("the gray cube", shapes) == (
        frozenset("B"),
        "the text of one choice within a short answer",
    )
    curves = ["the red one", "the blue one", "both the red one and the blue one", "none"]
    assert choice_letters("both the red one and the blue one", curves)[0] == frozenset("C")
    assert choice_letters("the cube and the sphere", shapes)[0] is None  # two choices
    assert (
        choice_letters("a long sentence that happens to mention the cube in it", shapes)[0] is None
    )
    assert choice_letters("12 cm", ["12", "14"])[0] == frozenset("A")  # numbers by value


def test_e_notation_is_a_number() -> None:
    assert parse_value("1.5e3").exact == 1500
    assert parse_value("4E-4").approx == pytest.approx(0.0004)
    assert match_answer("1.5e3", "1500").correct
    assert not match_answer("1.5e2", "1500").correct


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("2.5 million", 2_500_000),
        ("2.5M", 2_500_000),
        ("30k", 30_000),
        ("1.2 billion", 1_200_000_000),
        ("30 thousand visitors", 30_000),
    ],
)
def test_scale_words_multiply(text: str, value: int) -> None:
    assert parse_value(text).exact == value


def test_letters_that_are_units_are_not_scales() -> None:
    assert parse_value("5km").exact == 5  # kilometres, not 5k·m
    assert parse_value("5 m").exact == 5
    assert match_answer("2.5 million", "2500000", answer_type="integer").correct


def test_degrees_typed_with_a_letter_o_and_sets() -> None:
    assert match_answer("45^o", "45").correct
    assert match_answer("60^{o}", "60").correct
    assert match_answer("\\{5, 2\\}", "[2, 5]", answer_type="list").correct  # a set: any order
    assert not match_answer("\\{2, -5\\}", "[2, 5]", answer_type="list").correct
    assert not match_answer("(5, 2)", "[2, 5]", answer_type="list").correct  # a list: in order
    assert choice_letters("[C]", ["20", "30", "40"])[0] == frozenset("C")
