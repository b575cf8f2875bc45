"""The question text: which variable it asks for, what a yes/no statement says, and how
``judge`` reads a response with it (and without it, as before)."""

from __future__ import annotations

import pytest

from cuekit.answers import judge
from cuekit.answers.numbers import parse_value, values_agree
from cuekit.answers.question import (
    asked_variable,
    assigned_value,
    restated_subject,
    statement_verdict,
)

YES_NO = ["Yes", "No"]


@pytest.mark.parametrize(("question", "variable"), [
    ("Find x.", "x"),
    ("<image>Find $y$ in the given parallelogram.", "y"),
    ("Find the value of the variable $y$ in the figure.", "y"),
    ("Find $x$ so that $m \\parallel n$.", "x"),
    ("Solve for z to the nearest tenth.", "z"),
    ("Find m \\angle 2.", None),
    ("Find a and b.", None),
    ("Find the area of the triangle.", None),
    (None, None),
])
def test_asked_variable(question: str | None, variable: str | None) -> None:
    assert asked_variable(question) == variable


def test_assigned_value_is_the_last_complete_assignment() -> None:
    text = "$$4x = 100 \\Rightarrow x = 25$$ and then **x = 7.5** while y = 3 + x"
    assert assigned_value(text, "x") == "7.5"
    assert assigned_value("x = 3y - 2", "x") is None  # an expression, not a value
    assert assigned_value("y = 3 + x", "y") is None
    assert assigned_value("so x = 1,250 in all", "x") == "1,250"
    assert assigned_value("2x = 50", "x") is None


@pytest.mark.parametrize(("sentence", "question", "verdict"), [
    ("The two lines are parallel.", "Are the two lines parallel?", "yes"),
    ("Since the angles differ, the lines are not parallel.", "Are the lines parallel?", "no"),
    ("There are more red cubes than blue spheres.",
     "Is the number of red cubes less than the number of blue spheres?", "no"),
    ("so there are fewer boys than girls.", "Are there more boys than girls?", "no"),
    ("Sky Blue is greater than Chartreuse.", "Is Sky Blue less than Chartreuse?", "no"),
    ("so the function reaches its maximum at x = 2.",
     "Does the function have a maximum at x = 2?", "yes"),
    # not the question's proposition, or unsure: no verdict
    ("The object in front of the cube is green.", "Is the object in front of the cube red?",
     None),
    ("so the square's area is larger.", "Is the circle's area larger than the square's?", None),
    ("The two smallest bars sum to 30 and the largest bar is 45.",
     "Is the sum of the two smallest bars greater than the largest bar?", None),
    ("The lines might be parallel.", "Are the lines parallel?", None),
    ("The lines are parallel.", "Find x.", None),
])
def test_statement_verdict(sentence: str, question: str, verdict: str | None) -> None:
    assert statement_verdict(sentence, question) == verdict


def test_restated_subject() -> None:
    question = "Which object is farthest to the left?"
    assert restated_subject("The cube is farthest to the left.", question) == "The cube"
    assert restated_subject("The cube is red.", question) is None
    assert restated_subject("The cube is farthest to the left.", "Find x.") is None


def test_judge_reads_the_asked_variable() -> None:
    response = ("Opposite angles: $4x = 100$, so $x = 25$. Then $10y + 10 = 80$, so $y = 7$."
                "\n\nTherefore, $x = 25$ and $y = 7$.")
    asked_x = judge(response, "25", question="Find $x$.")
    assert (asked_x.correct, asked_x.extracted, asked_x.rule) == (True, "25", "asked_variable")
    assert "the value of x, which the question asks for" in asked_x.reason
    assert judge(response, "7", question="Find $y$.").correct
    assert not judge(response, "20", question="Find $x$.").correct
    # without the question the closing statement's last value is read, as before
    assert judge(response, "7").extracted == "7"
    listed = judge("**Answer:** $x = 42$, $y = 138$, $z = 16$.", "16", question="Find z.")
    assert (listed.correct, listed.rule) == (True, "phrase")
    # an explicit answer for another variable is that answer: wrong, not re-read
    other = judge("Since $x + 3 = 12$, $x = 9$; then $y = 2x$.\n\n$$\\boxed{y = 18}$$", "9",
                  question="Find $x$ in the figure.")
    assert (other.outcome, other.extracted) == ("wrong", "y = 18")


def test_judge_reads_the_concluding_clause_and_not_a_trial_value() -> None:
    response = "x = 5 would make the triangle degenerate, so x must be 7."
    assert judge(response, "7", question="Find x.").correct
    assert not judge(response, "5", question="Find x.").correct
    loop = "So x = 5? No, x = 7? Let me recompute. " * 3
    assert judge(loop, "7", question="Find x.").outcome != "correct"


def test_judge_reads_a_yes_no_statement_with_the_question() -> None:
    response = "The corresponding angles are both 65°.\n\nThe two lines are parallel."
    verdict = judge(response, "Yes", choices=YES_NO, question="Are the two lines parallel?")
    assert (verdict.correct, verdict.extracted, verdict.rule) == (True, "yes", "statement")
    denied = judge("Red cubes: 2. Blue spheres: 1.\n\nThere are more red cubes than blue "
                   "spheres.", "Yes", choices=YES_NO,
                   question="Is the number of red cubes less than the number of blue spheres?")
    assert (denied.outcome, denied.extracted) == ("wrong", "no")
    # without the question an affirmative statement gives no verdict
    assert judge(response, "Yes", choices=YES_NO).outcome != "correct"


def test_judge_reads_an_answer_given_first() -> None:
    assert judge("5. There are four small triangles and one large one.", "5").correct
    first = judge("27 — it sits just below the 30 gridline, and the bar to its right reads "
                  "33.", "27")
    assert (first.correct, first.rule) == (True, "leading")
    # a numbered list is reasoning, not an answer given first
    steps = "1. The base is 4.\n2. The height is 5.\n3. So the area is 10."
    assert judge(steps, "1").outcome == "wrong"


def test_solutions_of_one_variable_are_a_list() -> None:
    verdict = judge("The parabola crosses the x-axis at $x = -1$ and $x = 3$.", "[-1, 3]",
                    answer_type="list", question="Solve for $x$ using the graph.")
    assert (verdict.correct, verdict.extracted) == (True, "-1, 3")


def test_an_exact_form_agrees_with_its_one_place_rounding() -> None:
    gold = parse_value("11.3")
    assert values_agree(parse_value("8\\sqrt{2}"), gold)[0]  # 11.3137
    assert values_agree(parse_value("\\frac{34}{3}"), gold)[0]  # 11.333
    assert not values_agree(parse_value("11.34"), gold)[0]  # a decimal: 11.3 is exact
    assert not values_agree(parse_value("\\frac{57}{5}"), gold)[0]  # 11.4 exactly
    assert not values_agree(parse_value("4\\sqrt{8}"), parse_value("11.4"))[0]
