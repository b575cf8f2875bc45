"""judge: how a response ends when it ends without a plain commitment (a choice alone on
the last line, an unclosed box, a cut-off aside after a bold conclusion, a value first)."""

from __future__ import annotations

from cuekit.answers import judge

MOVES = ["north", "south", "stay in place", "none of the above"]


def test_a_choice_alone_on_the_last_line_is_the_answer() -> None:
    reasoning = "The magnet's north pole faces the other north pole, so it is pushed back."
    for line, gold, outcome in [
        ("(B) south", "B", "correct"),
        ("B. south", "B", "correct"),
        ("south", "B", "correct"),
        ("**A) north**", "B", "wrong"),
    ]:
        verdict = judge(f"{reasoning}\n\n{line}", gold, choices=MOVES)
        assert verdict.outcome == outcome, line
        assert verdict.rule == "last_line", line
    # a label whose text is not that choice's, or a list of the options, picks nothing
    mismatched = judge(f"{reasoning}\n\n(B) north", "B", choices=MOVES)
    assert mismatched.outcome == "no_answer"
    walk = judge("Options:\n(A) north\n(B) south", "B", choices=MOVES)
    assert walk.outcome == "no_answer"


def test_a_box_the_output_stops_inside_counts_when_the_text_before_agrees() -> None:
    choices = ["30", "45", "60", "75"]
    agreed = judge(
        "The base angles are equal, so x = (180 − 90)/2 = 45, which is option B.\n\n\\boxed{B",
        "B",
        choices=choices,
    )
    assert (agreed.outcome, agreed.extracted) == ("correct", "B")
    assert agreed.reason.endswith("matched gold 'B' by a choice letter: B = B")
    # a box that disagrees with the text before it, or opens without text before, is cut off
    differs = judge("So x = 45, which is option B.\n\n\\boxed{C", "B", choices=choices)
    assert differs.outcome == "no_answer"
    assert not judge("\\boxed{4", "45").correct


def test_a_bold_conclusion_before_a_cut_off_aside_is_the_answer() -> None:
    response = (
        "The triangle's area is half of base times height: ½ · 9 · 4 = 18.\n\n"
        "Therefore, the shaded area is **18** square units. As a check, the rectangle "
        "around it has area 36, and the triangle takes exactly half of it, because"
    )
    verdict = judge(response, "18")
    assert (verdict.outcome, verdict.extracted, verdict.rule) == ("correct", "18", "phrase")
    assert judge(response, "36").outcome == "wrong"
    # a retraction in the aside leaves no answer
    retracted = response.replace("As a check", "Wait, I made an error: the rectangle")
    assert judge(retracted, "18").outcome == "no_answer"


def test_a_value_named_before_what_it_is_is_the_answer() -> None:
    verdict = judge("Answer: 7 is the slope, since the line rises 7 for each step of 1.", "7")
    assert (verdict.outcome, verdict.extracted) == ("correct", "7")
    # a further value stated after a comma is not a reason: the clause stands
    assert judge("So 12 is the diameter, and the radius is 6.", "12").outcome != "correct"


def test_a_value_alone_on_the_first_line_is_the_answer_unless_the_rest_concludes_otherwise() -> (
    None
):
    response = "64\n\nThe tallest bar, for 2012, reaches 64. Sales fell after that year to 40."
    verdict = judge(response, "64")
    assert (verdict.outcome, verdict.extracted, verdict.rule) == ("correct", "64", "leading")
    # evidence that concludes nothing of its own leaves the opening value standing
    assert judge("64\n\nSales fell after 2012 to 40.", "64").correct
    # evidence that concludes another value: the opening number is no commitment
    assert not judge("64\n\nSo the tallest bar is actually 70.", "64").correct


def test_a_lower_case_name_beside_its_figure_answers_a_superlative_question() -> None:
    question = "Which fruit is the most popular in the survey?"
    verdict = judge("The most popular fruit is mango, at 31%.", "Mango", question=question)
    assert (verdict.outcome, verdict.extracted) == ("correct", "mango")
    assert judge("The most popular fruit is about 31%.", "Mango", question=question).outcome != (
        "correct"
    )


def test_an_alternative_left_open_after_the_pick_is_a_hedge() -> None:
    choices = ["40°", "50°", "65°", "130°"]
    verdict = judge(
        "The inscribed angle is half the arc, so 65°. So the answer is probably C, though "
        "D (130°) is also possible if the angle is central.",
        "C",
        choices=choices,
    )
    assert (verdict.correct, verdict.outcome) == (False, "wrong")
    assert "leaves it undecided" in verdict.match


def test_a_multi_select_given_by_the_options_texts() -> None:
    choices = ["Square", "Rhombus", "Kite", "Trapezoid"]
    right = judge("So the shapes are Square and Rhombus.", "AB", choices)
    assert (right.correct, right.match) == (True, "the texts of several choices: AB = AB")
    wrong = judge("So the shapes are Square and Kite.", "AB", choices)
    assert (wrong.correct, wrong.match) == (False, "the texts of several choices: AC != AB")
    # for a single-answer question, two named options are no pick
    assert not judge("So it is the Square and the Kite.", "A", choices).correct


def test_a_refusal_in_chinese_is_no_answer() -> None:
    verdict = judge("抱歉，我无法查看图片，请提供图表中的数据。", "B", choices=["3", "4", "5"])
    assert verdict.outcome == "no_answer"


def test_a_hedge_between_two_letters_is_wrong() -> None:
    choices = ["3", "\\frac{10}{3}", "4", "5"]
    for closing in ["The answer is either B or C.", "So the answer is B or C."]:
        verdict = judge(f"By similar triangles PY = 10/3.\n\n{closing}", "B", choices=choices)
        assert (verdict.correct, verdict.outcome) == (False, "wrong"), closing


def test_a_request_for_clarification_is_no_answer() -> None:
    verdict = judge(
        "I don't see a bar labelled 'Dark Cyan'. Could you tell me which colour it is? "
        "Then I can compare the two.",
        "A",
        choices=["Yes", "No"],
    )
    assert verdict.outcome == "no_answer"


def test_the_name_a_superlative_sentence_labels_or_points_to() -> None:
    question = "Which bar has the highest value?"
    labelled = judge(
        "The highest bar is the one labeled **dark khaki**, at about 70.",
        "Dark Khaki",
        question=question,
    )
    assert (labelled.correct, labelled.extracted) == (True, "dark khaki")
    month = judge(
        "The tallest bar corresponds to **March** (about 140 mm), followed by April.",
        "March",
        question="Which month had the most rain?",
    )
    assert (month.correct, month.extracted) == (True, "March")


def test_the_subject_of_part_of_the_question_predicate() -> None:
    verdict = judge(
        "Reading the table: Owls 71, Foxes 84.\n\nThe Foxes won the most games (84).",
        "Foxes",
        question="Which team won the most games in the 2023 season?",
    )
    assert (verdict.correct, verdict.extracted) == (True, "The Foxes")


def test_a_closest_option_followed_by_a_different_final_pick_is_not_a_guess() -> None:
    choices = ["4", "6", "9", "12"]
    verdict = judge(
        "2x = 5 + 3 = 8, so x = 4... the closest option is A.\n\n\\boxed{A}\n\n"
        "Hmm — the theorem multiplies the segments: 2x = 5 · 3 = 15? No: 2x = 4 · 3 = 12, "
        "so x = 6. The correct answer is B.",
        "B",
        choices=choices,
    )
    assert (verdict.correct, verdict.extracted) == (True, "B")


def test_an_option_settled_for_after_saying_its_value_is_not_an_option_is_a_guess() -> None:
    choices = ["25°", "35°", "45°", "55°"]
    guess = judge(
        "∠x = 180° − 65° = 115°. But 115° is not among the choices, so hmm.\n\nThe answer is B.",
        "B",
        choices=choices,
    )
    assert (guess.correct, guess.outcome) == (False, "wrong")
    assert "closest option" in guess.match
    # a recomputation after it that finds the option's value is no guess
    found = judge(
        "∠x = 115°? That isn't an option; the angle is acute, so ∠x = 180° − 145° = 35°.\n\n"
        "The answer is B.",
        "B",
        choices=choices,
    )
    assert found.correct


def test_an_option_named_beside_another_options_text_is_two_picks() -> None:
    choices = ["lion", "zebra", "eagle", "shark"]
    verdict = judge("So the fastest animal shown is the eagle, i.e. (B).", "C", choices=choices)
    assert (verdict.correct, verdict.match.endswith("but it names option B beside choice C")) == (
        False,
        True,
    )
    assert judge(
        "So the fastest animal shown is the eagle, i.e. (C).", "C", choices=choices
    ).correct


def test_two_boxes_given_as_one_value_must_agree() -> None:
    disagree = judge(
        "So the period is \\boxed{2\\pi}, which gives \\boxed{3.14}.", "3.14", precision=2
    )
    assert (disagree.correct, disagree.match.endswith("but its last two boxes disagree")) == (
        False,
        True,
    )
    agree = judge("So the period is \\boxed{\\pi}, which gives \\boxed{3.14}.", "3.14", precision=2)
    assert agree.correct


def test_two_labelled_final_answers_that_differ_are_wrong() -> None:
    choices = ["6", "8", "10", "12"]
    verdict = judge(
        "x = 8.\n\n**Final answer:** $\\boxed{B}$\n\nAnswer: $\\boxed{C}$", "C", choices=choices
    )
    assert (verdict.correct, verdict.outcome) == (False, "wrong")
    # a later label that says "final" supersedes a plain one
    assert judge("Answer: 10\n\nFinal answer: 8", "8").correct


def test_a_word_repeated_at_the_end_after_the_answer_is_set_aside() -> None:
    response = "The bar for May reaches 7.5.\n\nSo 7.5.\n\n" + "the " * 30 + "th"
    assert judge(response, "7.5").correct
    assert judge("Let me read the chart: " + "the " * 30, "7.5").outcome == "no_answer"


def test_a_bold_word_alone_on_the_last_line_and_a_choice_text_as_the_whole_reply() -> None:
    question = "On which day were the most tickets sold?"
    bold = judge(
        "The table shows 61 tickets on Friday, more than any other day.\n\n**friday**",
        "Friday",
        question=question,
    )
    assert (bold.correct, bold.extracted) == (True, "friday")
    assert judge("It sold 61 on Friday.\n\n**Final Answer**\n\n", "Friday").outcome == "no_answer"
    choices = ["melting", "freezing", "evaporation", "condensation"]
    assert judge(
        "<think>\nWater turns to vapour.\n</think>\n\nevaporation", "C", choices=choices
    ).correct


def test_both_solutions_left_standing_for_one_asked_value_are_a_hedge() -> None:
    open_pair = judge(
        "(x + 9)(x − 4) = 0\n\nSo x = −9 or x = 4.", "4", question="Find x, a length."
    )
    assert (open_pair.correct, open_pair.outcome) == (False, "wrong")
    # when the gold lists both, they are the answer
    assert judge("(x + 9)(x − 4) = 0\n\nSo x = −9 or x = 4.", "x = -9 or x = 4").correct


def test_a_box_changed_after_wait_and_a_recheck() -> None:
    verdict = judge(
        "\\boxed{21}\n\nWait — rechecking the last bar, it is 19, so the total is 23.", "21"
    )
    assert (verdict.correct, verdict.extracted) == (False, "23")


def test_a_second_box_offered_as_another_reading_is_two_answers() -> None:
    response = (
        "Removing the two blue cubes leaves 7.\n\nSo $\\boxed{7}$.\n\n"
        "Alternatively, if we read the figure differently, only one cube is blue: 8."
        "\n\n$\\boxed{8}$"
    )
    assert (judge(response, "8").correct, judge(response, "8").outcome) == (False, "wrong")
    # a correction between the boxes is a revision, not an alternative
    revised = response.replace(
        "Alternatively, if we read the figure differently,", "Oops, I miscounted:"
    )
    assert judge(revised, "8").correct


def test_a_lead_in_followed_by_a_cut_off_phrase_is_no_answer() -> None:
    assert judge("Reading the chart:\n\nThe tallest bar is the", "38").outcome == "no_answer"
    assert judge("Reading the chart:\n\n38", "38").correct


def test_an_answer_phrase_with_an_adverb_revises_a_box() -> None:
    response = (
        "So the vertex is $\\boxed{(1, -4)}$.\n\nHowever, let me reconsider: the sign flips, "
        "so the answer should actually be (-1, 4)."
    )
    verdict = judge(response, "(1, -4)")
    assert (verdict.correct, verdict.extracted) == (False, "(-1, 4)")


def test_a_superlative_value_question_is_not_answered_by_a_name() -> None:
    question = "What is the highest value of the blue line?"
    assert not judge("The blue line peaks in 2019.", "64", question=question).correct
