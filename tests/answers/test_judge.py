"""judge: one verdict per response, with the reason a user can audit."""

from __future__ import annotations

import pytest

from cuekit.answers import FIELDS, Verdict, judge, judge_with_fields

CHOICES = ["12", "14", "16", "18"]


def test_verdict_carries_extraction_match_and_reason() -> None:
    verdict = judge("AB is 14.\n\n$\\boxed{\\text{(B) } 14}$", "B", choices=CHOICES)
    assert verdict == Verdict(
        extracted="\\text{(B) } 14",
        rule="boxed",
        correct=True,
        reason="correct: extracted '\\\\text{(B) } 14' by boxed; matched gold 'B' by a choice "
        "letter with its text: B = B",
        match="a choice letter with its text: B = B",
        outcome="correct",
    )


def test_wrong_and_no_answer_are_told_apart() -> None:
    wrong = judge("Answer: 6 balls remain, since 8 - 2 = 6.", "8")
    assert (wrong.outcome, wrong.extracted, wrong.rule, wrong.match) == (
        "wrong",
        "6",
        "phrase",
        "different numbers",
    )
    refused = judge("No image was provided, so I cannot answer.", "No", choices=["Yes", "No"])
    assert (refused.outcome, refused.correct, refused.extracted) == ("no_answer", False, "")
    assert refused.reason == "no answer: the response declines to answer"
    boxed_refusal = judge("$\\boxed{\\text{Cannot be determined}}$", "7")
    assert (boxed_refusal.outcome, boxed_refusal.match) == ("no_answer", "refusal")


def test_a_refusal_that_is_a_choice_is_an_answer() -> None:
    verdict = judge(
        "No length is given.\n\n**Answer: C**", "C", choices=["3", "4", "Cannot be determined"]
    )
    assert (verdict.outcome, verdict.correct) == ("correct", True)


def test_dataset_fields_steer_the_comparison() -> None:
    assert judge("$\\boxed{2\\sqrt{3}}$", "3.46", precision=2).correct
    assert not judge("$\\boxed{3.4}$", "3.46", precision=2).correct
    assert judge("$\\boxed{4\\text{m}}$", "4", unit="m").correct
    assert judge("$\\boxed{1.5, 0.5}$", "[1.5, 0.5]", answer_type="list").correct
    # free_form questions ignore stray choices; multi_choice ones use them
    assert not judge("$\\boxed{B}$", "14", choices=CHOICES, question_type="free_form").correct
    assert judge("$\\boxed{B}$", "14", choices=CHOICES, question_type="multi_choice").correct


def test_unscored_without_gold_and_cut_off_responses() -> None:
    unscored = judge("\\boxed{5}", None)
    assert (unscored.outcome, unscored.correct, unscored.extracted) == ("unscored", False, "5")
    cut = judge("Step 1: the bars are 30 and 45. So the largest is 45.", "45", finished=False)
    assert (cut.outcome, cut.reason) == (
        "no_answer",
        "no answer: cut off at the token limit before an answer",
    )


def test_the_old_import_path_and_positional_choices_still_work() -> None:
    from cuekit.evaluate.answers import judge as old_path_judge

    verdict = old_path_judge("$\\boxed{B}$", "14", CHOICES, precision=None)
    assert (verdict.correct, verdict.match) == (True, "a choice letter: B = B")


def test_two_different_final_answers_are_wrong_even_when_one_matches() -> None:
    verdict = judge("$$\\boxed{15}$$\n\nSo the area of the triangle is 30 square units.", "15")
    assert (verdict.outcome, verdict.rule, verdict.match) == (
        "wrong",
        "conflict",
        "two different final answers",
    )
    assert verdict.reason == (
        "wrong: extracted '15' by boxed, then concludes '30': two different final answers"
    )


def test_a_refusal_answers_a_cannot_be_determined_choice() -> None:
    choices = ["3", "4", "5", "Cannot be determined"]
    verdict = judge(
        "The length cannot be determined from the given information.", "D", choices=choices
    )
    assert (verdict.outcome, verdict.rule) == ("correct", "refusal_choice")
    # without such a choice it stays no answer
    assert (
        judge("The length cannot be determined.", "B", choices=choices[:3]).outcome == "no_answer"
    )


def test_a_letter_with_the_text_of_another_choice_in_parentheses_is_wrong() -> None:
    verdict = judge("Answer: **B** (16)", "B", choices=["12", "14", "16"])
    assert (verdict.outcome, verdict.match) == ("wrong", "letter B with the text of choice C")
    assert judge("Answer: **B** (14)", "B", choices=["12", "14", "16"]).correct


def test_float_noise_on_large_numbers_does_not_fail_the_precision_rule() -> None:
    assert judge("$6.02 \\times 10^{23}$", "6.02e23", precision=2).correct


def test_judge_with_fields_reads_a_record_and_treats_missing_fields_as_absent() -> None:
    record = {"choices": ["3", "4"], "question_type": "multi_choice", "question": "Find $x$."}
    verdict = judge_with_fields("So $x = 4$, and $y = 9$.", "B", record)
    assert (verdict.correct, verdict.extracted) == (True, "4")
    empty = judge_with_fields("The answer is 4.", "4", {"choices": [], "precision": None})
    assert (empty.correct, empty.rule, empty.extracted) == (True, "phrase", "4")
    assert set(FIELDS) == {
        "choices",
        "precision",
        "question_type",
        "answer_type",
        "unit",
        "question",
    }


def test_a_closest_option_given_up_later_is_not_a_guess() -> None:
    choices = ["25", "35", "45", "55"]
    revised = judge(
        "Supplementary: 3y + 15 = 180, so y = 55. The nearest option is \\boxed{D}.\n\n"
        "Oops, I misread the figure: the angles are vertical, so 3y + 15 = 120 and y = 35.\n\n"
        "The answer is \\boxed{B}.",
        "B",
        choices=choices,
    )
    assert (revised.outcome, revised.extracted) == ("correct", "B")
    # a closest-option pick that stands is still a guess
    guess = judge("So y = 41.2. The closest option is \\boxed{B}.", "B", choices=choices)
    assert guess.outcome == "wrong"
    assert guess.match.endswith("but it picks the closest option to its own 41.2")


def test_a_closing_that_leaves_the_answer_to_a_condition_is_wrong() -> None:
    choices = ["Yes", "No"]
    cases = [
        "If the shaded part counts as a rectangle, the answer is Yes (A); otherwise No (B).",
        "That depends on whether the dashed line is included: with it the answer is A, "
        "without it B.",
        "Both readings are defensible, so the count could be 4 or 5. I'd choose A if the "
        "partly hidden cube is counted, otherwise B.",
    ]
    for response in cases:
        verdict = judge(response, "A", choices=choices)
        assert (verdict.correct, verdict.outcome) == (False, "wrong"), response
    assert "leaves it undecided" in judge(cases[0], "A", choices=choices).match
    # a hedge that the response then settles is its answer
    settled = judge("So t could be 3 or −3; a time cannot be negative, so t = 3.", "3")
    assert (settled.correct, settled.extracted) == (True, "3")


def test_the_name_before_a_question_predicate_with_any_verb_is_the_answer() -> None:
    question = "Which team scored the most points?"
    verdict = judge(
        "The Hawks bar is the tallest at about 42 points, so the Hawks scored the most points.",
        "Hawks",
        question=question,
    )
    assert (verdict.outcome, verdict.rule, verdict.extracted) == (
        "correct",
        "statement",
        "the Hawks",
    )
    other = judge("Reading the bars, Lions scored the most points.", "Hawks", question=question)
    assert (other.outcome, other.extracted) == ("wrong", "Lions")
    # a pronoun, or the question's own noun, names nothing
    assert judge("So it scored the most points.", "Hawks", question=question).outcome != "correct"
    # a "what" question without a superlative keeps its number
    share = judge(
        "So 42% of voters chose Hawks.", "42", question="What percent of voters chose Hawks?"
    )
    assert (share.correct, share.extracted) == (True, "42")


def test_a_loop_of_repeated_working_lines_is_no_answer() -> None:
    step = "Next we add the two middle values together and halve them:\n6, 8\n\n"
    verdict = judge("The ordered values are 3, 6, 8, 11.\n\n" + step * 5 + "6,", "7")
    assert (verdict.outcome, verdict.extracted) == ("no_answer", "")
    # a line said twice is not a loop
    assert judge("Add: 3 + 4 = 7.\nAdd: 3 + 4 = 7.\n\nThe answer is 7.", "7").correct


def test_a_cut_off_list_on_the_last_line_is_no_answer() -> None:
    verdict = judge("Sorting the heights gives:\n\n4, 7,", "7")
    assert verdict.outcome == "no_answer"


def test_letters_after_the_copula_of_the_closing_statement_are_a_multi_select() -> None:
    choices = ["square", "rhombus", "kite", "trapezoid"]
    right = judge(
        "Checking each shape's sides.\n\nThe quadrilaterals with four equal sides are A, B.",
        "AB",
        choices=choices,
    )
    assert (right.correct, right.extracted) == (True, "A, B")
    wrong = judge(
        "Checking each shape's sides.\n\nThe quadrilaterals with four equal sides are A, C.",
        "AB",
        choices=choices,
    )
    assert (wrong.outcome, wrong.match) == ("wrong", "choice letters: AC != AB")


def test_two_different_values_offered_for_the_answer_are_a_hedge() -> None:
    hedge = judge(
        "Adding the rows gives 7, but the columns give 8.\n\nSo the value of the star is 7 or 8.",
        "7",
        question="Find the value of the star in the figure.",
    )
    assert (hedge.correct, hedge.outcome) == (False, "wrong")
    assert hedge.match.endswith(
        "but the response leaves it undecided: 'So the value of the star is 7 or 8.'"
    )
    # one value in two forms is not a hedge
    same = judge("Half of the circle is shaded, so the fraction is 0.5 or 50%.", "0.5")
    assert same.correct


# A closing option picked with its value, as MathVista lists the choices: the pick ends
# the response, it is not a sentence cut off.
ANGLES = ["42", "48", "52", "58"]


def test_an_option_picked_with_its_value_on_the_last_line_is_the_answer() -> None:
    response = "The two angles form a linear pair, so x = 180 - 132 = 48.\n\n(B) 48"
    right = judge(response, "B", choices=ANGLES, question="Find x.")
    assert (right.outcome, right.extracted, right.rule) == ("correct", "B", "conclusion")
    wrong = judge(response, "A", choices=ANGLES, question="Find x.")
    assert (wrong.outcome, wrong.match) == ("wrong", "a choice letter: B != A")


def test_an_option_picked_with_its_value_after_the_last_sentence_is_the_answer() -> None:
    response = "Area = 6 × 8 / 2 = 24 cm². (D) 24"
    verdict = judge(response, "24", choices=["12", "14", "48", "24"])
    assert (verdict.outcome, verdict.extracted) == ("correct", "D")
    assert judge(response, "12", choices=["12", "14", "48", "24"]).outcome == "wrong"


def test_the_next_label_of_a_walk_through_the_options_stays_cut_off() -> None:
    walk = "Check each option.\n(A) 10 gives a perimeter that is too small.\n(B) 14"
    verdict = judge(walk, "B", choices=["10", "14", "20", "24"])
    assert (verdict.outcome, verdict.reason) == (
        "no_answer",
        "no answer: stops mid-sentence before committing to an answer",
    )


def test_an_option_settled_for_when_none_matches_is_a_guess() -> None:
    options = ["6", "8", "12", "16"]
    guess = judge(
        "3x + 10 = 5x - 30, so x = 20. None of the choices equals 20, so I pick C.",
        "C",
        choices=options,
        question="Find x.",
    )
    assert (guess.outcome, guess.extracted) == ("wrong", "C")
    assert guess.match.endswith("but it picks the closest option to its own 20")
    # the option it computed is no guess, however it says so
    found = judge("3x + 10 = 5x - 22, so x = 16; the closest is D.\n\nAnswer: D", "D", options)
    assert (found.outcome, found.extracted) == ("correct", "D")


def test_values_stated_of_two_things_conclude_with_neither() -> None:
    # no answer to the question: the last value belongs to the second of two facts
    dial = "The short hand is on 4 and the long hand on 12."
    verdict = judge(dial, "12", question="What is the highest number shown on the clock face?")
    assert (verdict.outcome, verdict.correct, verdict.reason) == (
        "no_answer",
        False,
        "no answer: commits to no answer",
    )
    # the question names one of the two things: its clause gives the answer
    bars = "The red bar reaches 35 and the blue bar reaches 50."
    blue = judge(bars, "50", question="What is the value of the blue bar?")
    assert (blue.outcome, blue.extracted, blue.rule) == ("correct", "50", "asked_subject")
    red = judge(bars, "50", question="What is the value of the red bar?")
    assert (red.outcome, red.extracted) == ("wrong", "35")
    assert judge(bars, "50").outcome == "no_answer"


WHICH_COUNTRY = "Which country has the highest coffee output?"


def test_for_a_which_question_the_subject_named_with_its_figure_is_the_answer() -> None:
    said = "Brazil has the highest coffee output at roughly 3.7 million tonnes."
    right = judge(said, "Brazil", question=WHICH_COUNTRY)
    assert (right.outcome, right.extracted, right.rule) == ("correct", "Brazil", "statement")
    other = judge(said.replace("Brazil", "Vietnam"), "Brazil", question=WHICH_COUNTRY)
    assert (other.outcome, other.extracted) == ("wrong", "Vietnam")


@pytest.mark.parametrize(
    ("response", "gold", "question", "why"),
    [
        (
            "The highest coffee output is about 3.7 million tonnes.",
            "Brazil",
            WHICH_COUNTRY,
            "'3.7 million' is a figure, and the question asks which",
        ),
        (
            "The line reaches its top value of 12.4%.",
            "2015",
            "In which year was the rate highest?",
            "'12.4' is a figure, and the question asks which",
        ),
        (
            "The tallest bar is labelled cherry.",
            "42",
            "What is the value of the tallest bar?",
            "'cherry' is a name, and the question asks for a value",
        ),
        ("y = y", "4", "Find y.", "'y = y' restates the unknown"),
        (
            "The two tallest bars are 31 and 27.",
            "58",
            "What is the sum of the two tallest bars?",
            "'31 and 27' lists the parts, and the question asks what they make together",
        ),
    ],
)
def test_a_closing_statement_of_another_kind_than_asked_is_no_answer(
    response: str, gold: str, question: str, why: str
) -> None:
    verdict = judge(response, gold, question=question)
    assert (verdict.outcome, verdict.correct) == ("no_answer", False)
    assert verdict.reason == f"no answer: {why}"


def test_an_explicit_answer_of_another_kind_stays_a_wrong_answer() -> None:
    verdict = judge("Answer: 12.4", "2015", question="In which year was the rate highest?")
    assert (verdict.outcome, verdict.extracted) == ("wrong", "12.4")


@pytest.mark.parametrize(
    ("response", "gold", "question", "outcome"),
    [
        ("The longest river on the map is the Nile River.", "Nile", "Which river is longest?", 1),
        ("The longest river on the map is the Amazon River.", "Nile", "Which river is longest?", 0),
        ("It is a triangle-based prism.", "triangle", "What shape is the base of the prism?", 1),
        ("It is a square-based prism.", "triangle", "What shape is the base of the prism?", 0),
        # a word the question does not use is more than the gold: a different answer
        ("It is the Nile Delta.", "Nile", "Which river is longest?", 0),
        ("The x-axis is given in kilograms.", "kilograms", "What unit is the x-axis in?", 1),
    ],
)
def test_a_worded_gold_with_only_words_of_the_question_around_it(
    response: str, gold: str, question: str, outcome: int
) -> None:
    verdict = judge(response, gold, question=question)
    assert verdict.outcome == ("correct" if outcome else "wrong"), verdict.reason


def test_words_of_the_question_do_not_join_two_answers() -> None:
    both = judge("The Nile River and the Amazon River.", "Nile", question="Which river is longest?")
    assert not both.correct


def test_the_parts_then_their_total_is_the_total() -> None:
    said = "The two tallest bars are 31 and 27, together 58."
    verdict = judge(said, "58", question="What is the sum of the two tallest bars?")
    assert (verdict.outcome, verdict.extracted) == ("correct", "58")
    assert judge("y = 4", "4", question="Find y.").correct
    assert judge("The total is 1,250.", "1250", question="What is the total cost?").correct


DIAGONAL = "The diagonal is 3√2. As a decimal that is 4.24, so the diagonal is about 4.2."


def test_an_exact_form_stated_before_the_closing_rounding_is_the_answer() -> None:
    right = judge(DIAGONAL, "3\\sqrt{2}")
    assert (right.outcome, right.extracted) == ("correct", "4.2")
    assert right.match.endswith("4.2 is its coarser rounding (the response states 3√2 before it)")
    assert judge(DIAGONAL, "4\\sqrt{2}").outcome == "wrong"
    # a decimal that is not the rounding of the exact form before it: its own answer
    moved = "The diagonal is 3√2. Adding the 1 cm border, the diagonal is about 5.2."
    assert judge(moved, "3\\sqrt{2}").outcome == "wrong"
    # a dataset precision fixes the places: the coarser rounding is not enough
    assert not judge(DIAGONAL, "4.24", precision=2).correct


CROSSES = "The graph crosses the x-axis at (−3, 0) and (2, 0)."


@pytest.mark.parametrize(
    ("response", "gold", "question", "outcome"),
    [
        (CROSSES, "-3, 2", "What are the x-intercepts of the graph?", "correct"),
        (CROSSES, "2, -3", "What are the roots of the function?", "correct"),
        (CROSSES, "-3, 1", "What are the x-intercepts of the graph?", "wrong"),
        ("It meets the y-axis at (0, 5).", "5", "What is the y-intercept?", "correct"),
        # a point off the axis is no intercept
        ("The vertex is at (1, 4).", "1", "What are the x-intercepts?", "wrong"),
    ],
)
def test_intercepts_given_as_points_on_the_axis(
    response: str, gold: str, question: str, outcome: str
) -> None:
    assert judge(response, gold, question=question).outcome == outcome


def test_two_facts_after_an_equation_give_no_answer() -> None:
    said = "At t = 3 the red curve is at 12.5 and the blue one at 9.0."
    verdict = judge(said, "3.5", question="What is the gap between the curves at t = 3?")
    assert (verdict.outcome, verdict.reason) == ("no_answer", "no answer: commits to no answer")


def test_the_one_name_given_answers_which() -> None:
    said = "The highest value is 42, for Canada."
    right = judge(said, "Canada", question="Which country has the highest value?")
    assert (right.outcome, right.extracted, right.rule) == ("correct", "Canada", "asked_subject")
    assert judge(said, "Mexico", question="Which country has the highest value?").outcome == (
        "wrong"
    )


def test_a_value_that_only_qualifies_a_noun_is_no_answer() -> None:
    said = "Bins: 60-70 has 5 and 70-80 has 2.\n\nIn all, these bins hold the scores below 80."
    verdict = judge(said, "7", question="How many scores are below 80?")
    assert (verdict.outcome, verdict.reason) == (
        "no_answer",
        "no answer: '80' only qualifies a noun of the closing statement",
    )
    assert judge("So 7 scores are below 80.", "7", question="How many scores are below 80?").correct


@pytest.mark.parametrize(("gold", "outcome"), [("120", "correct"), ("6", "wrong")])
def test_where_the_value_is_gives_way_to_the_value(gold: str, outcome: str) -> None:
    verdict = judge("The peak, at x = 6, is 120.", gold, question="What is the value of the peak?")
    assert (verdict.outcome, verdict.extracted) == (outcome, "120")
