"""judge: answer forms found by the blind batches (times of day in words, scientific
notation with superscripts or a unit, a rounding given after the solved value)."""

from __future__ import annotations

import pytest

from cuekit.answers import judge
from cuekit.answers.numbers import clock_time


@pytest.mark.parametrize(
    ("said", "time"),
    [
        ("7:05", (7, 5)),
        ("7:05 pm", (7, 5)),
        ("19:05", (7, 5)),
        ("quarter past seven", (7, 15)),
        ("half past 11", (11, 30)),
        ("twenty to four", (3, 40)),
        ("It is quarter to one.", (12, 45)),
        ("eleven o'clock", (11, 0)),
        ("quarter", None),
        ("seven", None),
        ("7.5", None),
    ],
)
def test_clock_time_reads_digital_and_spoken_times(said: str, time: tuple[int, int] | None) -> None:
    assert clock_time(said) == time


def test_a_time_in_words_answers_a_clock_gold() -> None:
    right = judge(
        "The short hand is just past 4, the long hand on 6.\n\nSo it is **half past four**.", "4:30"
    )
    assert (right.correct, right.match) == (True, "the same time of day")
    wrong = judge("So it is **half past five**.", "4:30")
    assert (wrong.correct, wrong.match) == (False, "a different time of day")


def test_scientific_notation_with_superscripts_or_a_unit() -> None:
    gold = "1.99 \\times 10^{30}"
    assert judge("From the table, the mass of the Sun is 1.99 × 10³⁰ kg.", gold).correct
    assert judge("1.99e30 kg", gold).correct
    assert not judge("From the table, the mass of the Sun is 1.99 × 10²⁹ kg.", gold).correct


def test_a_rounding_given_after_the_solved_value_is_the_answer() -> None:
    question = "Find y. Round to the nearest tenth."
    rounded_wrong = judge(
        "$y = 12 \\sin 40° = 7.71$\n\nTo the nearest tenth: **7.8**", "7.7", question=question
    )
    assert (rounded_wrong.correct, rounded_wrong.extracted) == (False, "7.8")
    rounded_right = judge(
        "$y = 12 \\sin 40° = 7.71$\n\nTo the nearest tenth: **7.7**", "7.7", question=question
    )
    assert rounded_right.correct
    # a further quantity after the solved value still gives way to the asked variable
    further = judge("So y = 4, and each side is then y + 6 = 10.", "4", question="Find y.")
    assert (further.correct, further.extracted) == (True, "4")


def test_numbers_spelled_out_in_full() -> None:
    assert judge("So the difference is two thousand three hundred forty visitors.", "2340").correct
    assert judge("The perimeter is forty-two units.", "42").correct
    assert not judge("The perimeter is forty-three units.", "42").correct
    # a fraction in words is not a whole number
    assert not judge("So the answer is three and a half.", "3").correct


def test_a_json_answer_and_answer_phrases_in_other_languages() -> None:
    choices = ["45", "55", "65", "75"]
    assert judge('{"answer": "C"}', "C", choices=choices).rule == "tagged"
    assert not judge('{"answer": "B"}', "C", choices=choices).correct
    spanish = judge("El ángulo mide 180° − 115° = 65°.\n\nRespuesta: C", "C", choices=choices)
    assert (spanish.correct, spanish.rule) == (True, "phrase")
    assert judge("L'angle vaut 65°.\n\nRéponse : C", "C", choices=choices).correct


def test_units_written_out_or_in_latex_are_dropped() -> None:
    assert judge("<think>\n6 · 7 = 42.\n</think>\n\n42 square centimeters", "42").correct
    assert judge("<think>\nLowest is -7.2.\n</think>\n\n$-7.2^\\circ\\text{C}$", "-7.2").correct
    assert judge("The coldest reading is -7.2 °F.", "-7.2").correct
    assert not judge("<think>\nLowest is -7.2.\n</think>\n\n$-7.3^\\circ\\text{C}$", "-7.2").correct


def test_euler_number_and_a_currency_sign_inside_math() -> None:
    assert judge("\\boxed{e^{2}}", "7.39").correct
    assert not judge("\\boxed{e^{3}}", "7.39").correct
    assert judge("So 3 shirts cost 3 × 8 = 24 dollars.\n\nThe answer is $\\$24$.", "24").correct


def test_a_value_with_the_option_it_names_is_checked_against_that_option() -> None:
    choices = ["5", "7", "9", "11"]
    mismatched = judge("So the answer is 9, i.e. option **B**.", "C", choices=choices)
    assert (mismatched.correct, mismatched.match) == (False, "letter B with the text of choice C")
    assert judge("So the answer is 9, i.e. option **C**.", "C", choices=choices).correct


def test_a_point_given_by_its_named_coordinates() -> None:
    verdict = judge(
        "Halving the sums, the midpoint has x-coordinate 3 and y-coordinate -1.", "[3, -1]"
    )
    assert (verdict.correct, verdict.extracted) == (True, "(3, -1)")


def test_working_in_brackets_and_a_pi_multiple_after_gives() -> None:
    assert judge("By Pythagoras (6² + 8² = 100), the diagonal is ten units long.", "10").correct
    area = judge(
        "The area is πr², and with a radius of 3 that gives 9π square units.", "28.27", precision=2
    )
    assert (area.correct, area.extracted) == (True, "9π square units")


def test_an_inequality_answers_an_interval_gold() -> None:
    right = judge("We need $x + 2 > 0$, so the domain is $x > -2$.", "(-2, +\\infty)")
    assert (right.correct, right.match) == (
        True,
        "all 2 items equal, in order, read as the interval (-2, +\\infty)",
    )
    assert not judge("So the domain is $x \\geq -2$.", "(-2, +\\infty)").correct
    assert judge("So $-1 \\le x < 4$.", "[-1, 4)").correct


def test_a_labelled_point_and_a_value_in_words_for_the_asked_variable() -> None:
    assert judge("Answer: P(3, -2), the midpoint of AB.", "[3, -2]").correct
    question = "In △ABC, AB = 8, BC = x and the perimeter is 20. Find x."
    verdict = judge("So 8 + x + 5 = 20, which means x equals seven.", "7", question=question)
    assert (verdict.correct, verdict.extracted) == (True, "7")


def test_a_verdict_in_another_language_and_letters_without_choices() -> None:
    assert judge(
        "Hay tres gatos y dos perros.\n\nRespuesta: Sí", "A", choices=["Yes", "No"]
    ).correct
    assert judge("Il y a moins de chats.\n\nRéponse : non", "B", choices=["Yes", "No"]).correct
    assert judge("Answer: B, D", "BD").correct
    assert not judge("Answer: B, C", "BD").correct


def test_a_japanese_answer_label_and_a_value_named_with_the() -> None:
    assert judge("弧の半分なので 40°。\n答え：B", "B", choices=["20", "40", "60", "80"]).correct
    assert judge("The highest gridline the bar reaches is the 30.", "30").correct
    # "the 30" before a noun only qualifies it
    assert not judge("The bars above the 30 mark are May and June.", "30").correct


def test_phrases_that_run_on_after_a_count_or_a_variable() -> None:
    count = judge("Answer: 4 cubes remain after removing the two green ones.", "4")
    assert (count.correct, count.extracted) == (True, "4")
    variable = judge("Answer: y equals 7, because the two sides are equal.", "7")
    assert (variable.correct, variable.extracted) == (True, "7")


def test_an_exact_form_given_before_its_rounding_answers_an_exact_question() -> None:
    question = "Find the length of the diagonal. Give the exact answer."
    assert judge("**d = 5√2 ≈ 7.07**", "5\\sqrt{2}", question=question).correct
    # an unevaluated expression before the rounding leaves the decimal as the answer
    assert not judge("A = π·5² ≈ 78.54", "25\\pi", question="What is the exact area?").correct


def test_a_rounding_given_after_the_asked_quantity() -> None:
    question = "What is the average of the three bars? (Round to one decimal place)"
    verdict = judge(
        "Average = 47 / 3 = 15.67\n\nRounded to one decimal place: **15.6**",
        "15.7",
        question=question,
    )
    assert (verdict.correct, verdict.extracted) == (False, "15.6")
