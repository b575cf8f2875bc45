"""kinds: whether a reading is of the kind the question asks, and the question's words
around a worded answer."""

from __future__ import annotations

import pytest

from cuekit.answers.kinds import (
    asks_name,
    figure_for_a_name,
    gold_with_question_words,
    names_another,
    of_another_kind,
    one_name,
    where_for_a_value,
)


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Which country has the highest output?", True),
        ("Who scored the most goals?", True),
        ("Which year had the most rain?", False),
        ("Which option is correct?", False),
        ("Which x-value gives the highest point?", False),
        ("Which integer is closest to the mean?", False),
        ("What is the value of the bar?", False),
    ],
)
def test_asks_name(question: str, expected: bool) -> None:
    assert asks_name(question) is expected


def test_a_figure_is_no_name_but_a_year_may_be() -> None:
    question = "Which country has the highest output?"
    assert figure_for_a_name("3.7 million tonnes", question)
    assert not figure_for_a_name("Brazil", question)
    assert not figure_for_a_name("2016", question)


@pytest.mark.parametrize(
    ("answer", "question", "expected"),
    [
        ("12.4", "In which year was the rate highest?", "'12.4' is a figure"),
        ("cherry", "What is the value of the tallest bar?", "'cherry' is a name"),
        ("x = x", "Find x.", "'x = x' restates the unknown"),
        ("9 and 14", "What is the sum of the two bars?", "'9 and 14' lists the parts"),
        # of the kind asked: none
        ("2015", "In which year was the rate highest?", None),
        ("four", "How many bars are there?", None),
        ("1,250", "What is the total cost?", None),
        ("x = 4", "Find x.", None),
    ],
)
def test_of_another_kind(answer: str, question: str, expected: str | None) -> None:
    why = of_another_kind(answer, question)
    assert (why is None) if expected is None else (why or "").startswith(expected)


@pytest.mark.parametrize(
    ("answer", "gold", "question", "matched"),
    [
        ("the Pacific Ocean", "Pacific", "Which ocean is the largest?", True),
        ("a square-based pyramid", "square", "What shape is the base of the pyramid?", True),
        ("Pacific and Atlantic", "Pacific", "Which ocean is the largest?", False),
        ("the Pacific Rim", "Pacific", "Which ocean is the largest?", False),
        ("not Pacific", "Pacific", "Which ocean is the largest?", False),
        ("12 cm", "12", "What is the length?", False),
    ],
)
def test_gold_with_question_words(answer: str, gold: str, question: str, matched: bool) -> None:
    assert (gold_with_question_words(answer, gold, question) is not None) is matched


COUNTRY = "Which country has the highest value?"


@pytest.mark.parametrize(
    ("sentence", "question", "expected"),
    [
        ("The highest value is 42, for Canada.", COUNTRY, "Canada"),
        ("The highest value, 42, belongs to South Korea.", COUNTRY, "South Korea"),
        ("Maria, with 95 points.", "Who has the highest score?", "Maria"),
        # two names, doubt, another superlative, a capital that only opens the sentence
        ("The highest value is 42, for Canada, ahead of Mexico.", COUNTRY, None),
        ("It might be Canada, at about 42.", COUNTRY, None),
        ("The lowest value is 12, for Canada.", COUNTRY, None),
        ("Only the third bar reaches 42.", COUNTRY, None),
        # a question for a number is not asked by name
        ("The highest value is 42, for Canada.", "What is the highest value?", None),
    ],
)
def test_one_name_answers_a_which_question(
    sentence: str, question: str, expected: str | None
) -> None:
    assert one_name(sentence, question) == expected


def test_names_another_thing_than_the_question() -> None:
    question = "What percentage chose 'Strongly agree'?"
    assert names_another("The 'Agree' bar is 44%.", question)
    assert not names_another("The 'Strongly agree' bar is 31%.", question)
    assert names_another("France produced 9 tonnes.", "How many tonnes did Germany produce?")
    assert not names_another("Checking again, it is 14 tonnes.", "How many tonnes?")


@pytest.mark.parametrize(
    ("answer", "sentence", "question", "expected"),
    [
        ("4", "The maximum is reached at x = 4.", "What is the maximum value?", "(x)"),
        ("2019", "Sales peak in 2019.", "What is the peak value of sales?", "(a year)"),
        # the value itself, a count, a question for the x or the year: none
        ("4", "The maximum is 4, at x = 2.", "What is the maximum value?", None),
        ("3", "It crosses at x = 3, giving 3 zeros.", "How many zeros are there?", None),
        ("4", "The maximum is reached at x = 4.", "At which x is the maximum?", None),
        ("2019", "Sales peak in 2019.", "In which year do sales peak?", None),
    ],
)
def test_where_for_a_value(answer: str, sentence: str, question: str, expected: str | None) -> None:
    why = where_for_a_value(answer, sentence, question)
    assert (why is None) if expected is None else expected in (why or "")
