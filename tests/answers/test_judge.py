"""judge: one verdict per response, with the reason a user can audit."""

from __future__ import annotations

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
        "6 balls remain",
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
