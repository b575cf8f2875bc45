"""The question text: which variable it asks for, what a yes/no statement says, and how
``judge`` reads a response with it (and without it, as before)."""

from __future__ import annotations

import pytest

from cuekit.answers import judge
from cuekit.answers.numbers import parse_value, values_agree
from cuekit.answers.question import (
    asked_variable,
    assigned_value,
    counted_sum,
    restated_subject,
    sides_verdict,
    stated_value,
    statement_verdict,
    year_value,
)

YES_NO = ["Yes", "No"]
WEB_GREEN = "Is the value of Web Green greater than Dark Cyan?"
SMALL_BARS = "Is the sum of the two smallest bars greater than the largest bar?"
THROUGH = "Does the line pass through the point (2, 5)?"


def _affirms(response: str, question: str) -> tuple:
    """A case whose closing statement affirms the yes/no question (gold Yes)."""
    return (response, "Yes", question, YES_NO, "correct", "statement", "yes")


def _denies(response: str, question: str) -> tuple:
    """A case whose closing statement denies the yes/no question (gold No)."""
    return (response, "No", question, YES_NO, "correct", "statement", "no")


def _reads(response: str, gold: str, question: str, text: str) -> tuple:
    """A correct case read for what the question asks (rule asked_subject)."""
    return (response, gold, question, None, "correct", "asked_subject", text)


@pytest.mark.parametrize(
    ("question", "variable"),
    [
        ("Find x.", "x"),
        ("<image>Find $y$ in the given parallelogram.", "y"),
        ("Find the value of the variable $y$ in the figure.", "y"),
        ("Find $x$ so that $m \\parallel n$.", "x"),
        ("Solve for z to the nearest tenth.", "z"),
        ("Find m \\angle 2.", None),
        ("Find a and b.", None),
        ("Find the area of the triangle.", None),
        (None, None),
    ],
)
def test_asked_variable(question: str | None, variable: str | None) -> None:
    assert asked_variable(question) == variable


def test_assigned_value_is_the_last_complete_assignment() -> None:
    text = "$$4x = 100 \\Rightarrow x = 25$$ and then **x = 7.5** while y = 3 + x"
    assert assigned_value(text, "x") == "7.5"
    assert assigned_value("x = 3y - 2", "x") is None  # an expression, not a value
    assert assigned_value("y = 3 + x", "y") is None
    assert assigned_value("so x = 1,250 in all", "x") == "1,250"
    assert assigned_value("2x = 50", "x") is None


@pytest.mark.parametrize(
    ("sentence", "question", "verdict"),
    [
        ("The two lines are parallel.", "Are the two lines parallel?", "yes"),
        ("Since the angles differ, the lines are not parallel.", "Are the lines parallel?", "no"),
        (
            "There are more red cubes than blue spheres.",
            "Is the number of red cubes less than the number of blue spheres?",
            "no",
        ),
        ("so there are fewer boys than girls.", "Are there more boys than girls?", "no"),
        ("Sky Blue is greater than Chartreuse.", "Is Sky Blue less than Chartreuse?", "no"),
        (
            "so the function reaches its maximum at x = 2.",
            "Does the function have a maximum at x = 2?",
            "yes",
        ),
        # another colour of the same thing denies it
        (
            "The object in front of the cube is green.",
            "Is the object in front of the cube red?",
            "no",
        ),
        # not the question's proposition, or unsure: no verdict
        (
            "The object in front of the cube is shiny.",
            "Is the object in front of the cube red?",
            None,
        ),
        ("The cylinder is blue.", "Is the sphere behind the small cylinder purple?", None),
        ("so the square's area is larger.", "Is the circle's area larger than the square's?", None),
        (
            "The two smallest bars sum to 30 and the largest bar is 45.",
            SMALL_BARS,
            None,
        ),
        ("The lines might be parallel.", "Are the lines parallel?", None),
        ("The lines are parallel.", "Find x.", None),
    ],
)
def test_statement_verdict(sentence: str, question: str, verdict: str | None) -> None:
    assert statement_verdict(sentence, question) == verdict


def test_restated_subject() -> None:
    question = "Which object is farthest to the left?"
    assert restated_subject("The cube is farthest to the left.", question) == "The cube"
    assert restated_subject("The cube is red.", question) is None
    assert restated_subject("The cube is farthest to the left.", "Find x.") is None


def test_judge_reads_the_asked_variable() -> None:
    response = (
        "Opposite angles: $4x = 100$, so $x = 25$. Then $10y + 10 = 80$, so $y = 7$."
        "\n\nTherefore, $x = 25$ and $y = 7$."
    )
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
    other = judge(
        "Since $x + 3 = 12$, $x = 9$; then $y = 2x$.\n\n$$\\boxed{y = 18}$$",
        "9",
        question="Find $x$ in the figure.",
    )
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
    denied = judge(
        "Red cubes: 2. Blue spheres: 1.\n\nThere are more red cubes than blue spheres.",
        "Yes",
        choices=YES_NO,
        question="Is the number of red cubes less than the number of blue spheres?",
    )
    assert (denied.outcome, denied.extracted) == ("wrong", "no")
    # without the question an affirmative statement gives no verdict
    assert judge(response, "Yes", choices=YES_NO).outcome != "correct"


def test_judge_reads_an_answer_given_first() -> None:
    assert judge("5. There are four small triangles and one large one.", "5").correct
    first = judge(
        "27 — it sits just below the 30 gridline, and the bar to its right reads 33.", "27"
    )
    assert (first.correct, first.rule) == (True, "leading")
    # a numbered list is reasoning, not an answer given first
    steps = "1. The base is 4.\n2. The height is 5.\n3. So the area is 10."
    assert judge(steps, "1").outcome == "wrong"


def test_solutions_of_one_variable_are_a_set() -> None:
    verdict = judge(
        "The parabola crosses the x-axis at $x = -1$ and $x = 3$.",
        "[-1, 3]",
        answer_type="list",
        question="Solve for $x$ using the graph.",
    )
    assert (verdict.correct, verdict.extracted) == (True, "\\{-1, 3\\}")
    # in either order; but all of them, and only them
    for said, correct in (
        ("So the roots are x = 5 and x = −2.", True),
        ("So the roots are x = 5 and x = 2.", False),
        ("So the roots are x = 5, x = −2 and x = 1.", False),
    ):
        verdict = judge(said, "[-2, 5]", answer_type="list", question="Solve for x.")
        assert verdict.correct is correct, verdict.reason


def test_an_exact_form_agrees_with_its_one_place_rounding() -> None:
    gold = parse_value("11.3")
    assert values_agree(parse_value("8\\sqrt{2}"), gold)[0]  # 11.3137
    assert values_agree(parse_value("\\frac{34}{3}"), gold)[0]  # 11.333
    assert not values_agree(parse_value("11.34"), gold)[0]  # a decimal: 11.3 is exact
    assert not values_agree(parse_value("\\frac{57}{5}"), gold)[0]  # 11.4 exactly
    assert not values_agree(parse_value("4\\sqrt{8}"), parse_value("11.4"))[0]


def test_judge_reads_the_value_stated_for_what_the_question_names() -> None:
    closing = (
        "The orange bars read 12, 30, 57 and 41. The highest is 57 and the lowest is "
        "12, so the difference between them is 45, and the average is 35."
    )
    asked = judge(
        closing,
        "45",
        question="What is the difference between the highest and "
        "the lowest value of the orange bars?",
    )
    assert (asked.correct, asked.rule) == (True, "asked_subject")
    assert not judge(
        closing, "35", question="What is the difference between the highest and the lowest value?"
    ).correct
    # a specific name (an angle) is also read in an earlier sentence
    angle = (
        "Angle 1 measures 40°. The angles on a straight line add to 180°, and the other "
        "two are 60° and 80°."
    )
    assert judge(angle, "40", question="Find m \\angle 1.").correct
    # "a difference of 8.4"; "the sum of 3 and 4 is 7" states the sum after its operands;
    # with other values between the name and its "is" the rule declines rather than guesses
    assert stated_value("it was 29.7, a difference of 8.4 points", "\\bdifference\\b") == "8.4"
    assert stated_value("the sum of 3 and 4 is 7", "\\bsum\\b") == "7"
    assert stated_value("the sum, 3 + 4, is 7", "\\bsum\\b") is None
    assert stated_value("the perimeter is 2(4 + 6) = 20 cm", "\\bperimeter\\b") == "20"
    assert stated_value("the ratio is 6:8, which simplifies to 3:4", "\\bratio\\b") is None
    assert stated_value("the area is not 12", "\\barea\\b") is None


def test_judge_counts_what_a_how_many_question_asks_for() -> None:
    response = "Two objects (stove and twist) are preferred by more than 7 people."
    question = "How many objects are preferred by more than 7 people in at least one category?"
    verdict = judge(response, "2", question=question)
    assert (verdict.correct, verdict.extracted) == (True, "Two")
    assert "'7' restates the question" in verdict.reason
    assert not judge(response, "7", question=question).correct


def test_judge_drops_the_numbers_the_question_gives() -> None:
    question = "What was the median income in 2018 (in thousands)?"
    verdict = judge("The line shows 61.9 thousand dollars for 2018.", "61.9", question=question)
    assert (verdict.correct, verdict.extracted) == (True, "61.9")
    # without the question the sentence commits to nothing
    assert judge("The line shows 61.9 thousand dollars for 2018.", "61.9").outcome == "no_answer"


def test_a_percentage_answers_a_fraction_and_a_plan_is_no_answer() -> None:
    share = judge("3 out of 8 slices are shaded: 37.5%.", "\\frac{3}{8}")
    assert (share.correct, share.match) == (True, "the percentage equals the gold fraction")
    assert not judge("3 out of 8 slices are shaded: 40%.", "\\frac{3}{8}").correct
    assert not judge("So 25 percent.", "25%").match.startswith("the percentage")
    plan = judge(
        "We set up the proportion $\\frac{y}{9} = \\frac{8}{6}$ and solve for $y$.",
        "12",
        question="Find $y$.",
    )
    assert plan.outcome == "no_answer"


def test_judge_reads_a_mathvista_query_and_its_hint() -> None:
    query = (
        "Hint: Please answer the question requiring an integer answer and provide the "
        "final value, e.g., 1, 2, 3, at the end.\nQuestion: How many bars have values "
        "smaller than 6?"
    )
    verdict = judge(
        "The bar values are 8, 7 and 9. None of the bars is smaller than 6.", "0", question=query
    )
    assert (verdict.correct, verdict.extracted) == (True, "0")
    assert asked_variable("Question: Find $x$.\nChoices:\nA:6\nB:9") == "x"


def test_judge_reads_the_name_a_superlative_is_given() -> None:
    response = (
        "The tallest bar in the rainfall chart is July, at about 180 mm, followed by "
        "August at 165 mm."
    )
    verdict = judge(response, "July", question="Which month had the highest rainfall?")
    assert (verdict.correct, verdict.extracted) == (True, "July")
    assert not judge(response, "August", question="Which month had the highest rainfall?").correct
    assert judge(response, "July").outcome == "no_answer"  # without the question


def test_closing_forms_a_grader_reads() -> None:
    # "If ..., so ...": a conclusion, not a hypothetical aside
    response = (
        "Snakes feed on rabbits. If the rabbits died out, the snakes would lose a "
        "food source, so the snake population would decrease."
    )
    assert judge(response, "decrease", ["increase", "decrease", "stay the same"]).correct
    # a time of day, a value after an escaped dollar, a plan
    assert judge("According to the timetable, the train arrives at 3:45 PM.", "3:45").correct
    assert judge("3 × \\$2.50 + 2 × \\$1.00 = \\$7.50 + \\$2.00 = \\$9.50", "9.5").correct
    plan = judge("To find the value, locate 2015 on the x-axis and read across.", "27")
    assert plan.outcome == "no_answer"


# Kinds found by blind batch 24: (response, gold, question, choices, outcome, rule, text).
BATCH_24_KINDS = [
    # a Chinese verdict; a <think> that never closes is cut off
    (
        "不是。深橙色的值约为42。",
        "No",
        "Is Dark Orange the minimum?",
        YES_NO,
        "correct",
        "whole",
        "不是",
    ),
    (
        "<think>\n3·8 = 4x, so x = 6. Let me verify once more",
        "6",
        "Find $x$.",
        None,
        "no_answer",
        "none",
        "",
    ),
    # a choice letter named beside a value is the pick; the question does not re-read it
    (
        "The perimeter is 5 + 12 + 13 = 30, which matches option C.",
        "D",
        "Find the perimeter of the triangle.",
        ["17", "25", "28", "30"],
        "wrong",
        "conclusion",
        "C",
    ),
    # the answer first, then its evidence: a worded answer, a choice's text
    (
        "India. Its growth rate of 8.9% was higher than China's 8.1%.",
        "India",
        "Which country grew most?",
        None,
        "correct",
        "leading",
        "India",
    ),
    (
        "Science, with 75.6B tokens, ahead of Code (58.9B).",
        "Science",
        "Which domain has the most tokens?",
        ["Legal", "Code", "Science"],
        "correct",
        "leading",
        "C",
    ),
    # options listed again after the answer; several options named
    (
        "We get $x^2 = 64$, so $x = 8$.\n\nLooking at the options: A. 6, B. 8, C. 10, D. 12",
        "B",
        "Find $x$.",
        ["6", "8", "10", "12"],
        "correct",
        "conclusion",
        "8",
    ),
    (
        "The acute angles are ∠1 and ∠3: options A and C.",
        "A, C",
        "Which angles are acute?",
        ["∠1", "∠2", "∠3", "∠4"],
        "correct",
        "conclusion",
        "A, C",
    ),
    # coordinates as equations; a number with its scale word
    (
        "The vertex is at x = 2, y = −3.",
        "(2, -3)",
        "Find the vertex of the parabola.",
        None,
        "correct",
        "conclusion",
        "(2, −3)",
    ),
    (
        "City B: 1.25 million people.",
        "1250000",
        "What is the population of City B?",
        None,
        "correct",
        "conclusion",
        "1.25 million",
    ),
    # a count before its breakdown, and beside a measure
    _reads(
        "There are 12 dots: three rows with 4 dots in each row.",
        "12",
        "How many dots are there in total?",
        "12",
    ),
    (
        "It's a pentagon with five sides of length 6.",
        "6",
        "How many sides does the polygon have?",
        None,
        "wrong",
        "asked_subject",
        "five",
    ),
    # the time a question asks for; a superlative said by its verb
    _reads(
        "They cross in April, where both products sold 120 units.",
        "April",
        "In which month were the sales equal?",
        "April",
    ),
    (
        "The line peaks in 2010 at about 9.6%, then declines to 3.7% by 2019.",
        "2010",
        "Which year had the highest rate?",
        None,
        "correct",
        "statement",
        "2010",
    ),
    # the label the question names, in a closing list
    _reads(
        "Very satisfied: 34%\nSomewhat satisfied: 41%\nNot satisfied: 25%",
        "34",
        "What percentage said 'Very satisfied'?",
        "34%",
    ),
    # an assignment through its working; a subject qualified by another year
    (
        "$z = \\sqrt{4 \\cdot 9} = 6$. The legs are then $x = 2\\sqrt{13}$ and $y = 3\\sqrt{13}$.",
        "6",
        "Find $z$.",
        None,
        "correct",
        "asked_variable",
        "6",
    ),
    _reads(
        "The 2019 values are 31 and 42. Their average is 36.5, and the 2020 average is 40.0.",
        "36.5",
        "What is the average of the bars labelled 2019?",
        "36.5",
    ),
    # yes/no by the question's predicate in other words
    _affirms("Since 45 > 41, the sum exceeds the largest bar.", SMALL_BARS),
    (
        "18 + 27 = 45, so the sum falls short of the largest bar.",
        "Yes",
        SMALL_BARS,
        YES_NO,
        "wrong",
        "statement",
        "no",
    ),
    _affirms(
        "Opposite sides are congruent, so ABCD is a parallelogram.",
        "Is the quadrilateral a parallelogram?",
    ),
    _affirms("Substituting x = 2 gives y = 5, so the point (2, 5) lies on the line.", THROUGH),
    (
        "At x = 2, y = 3 ≠ 5, so the point does not lie on the line.",
        "Yes",
        THROUGH,
        YES_NO,
        "wrong",
        "statement",
        "no",
    ),
]


# Kinds found by blind batch 25.
BATCH_25_KINDS = [
    # the question states the rounding; a value read past a trig function
    (
        "$V = 96\\pi$\n\n$V \\approx 301.59$",
        "301.6",
        "Find the volume. Round to the nearest tenth.",
        None,
        "correct",
        "conclusion",
        "301.59",
    ),
    (
        "$x = 12.4 \\sin 52° ≈ 9.77 ≈ 9.8$.",
        "9.8",
        "Find $x$.",
        None,
        "correct",
        "asked_variable",
        "9.8",
    ),
    # a segment the question names, among others; the value of a named shape
    _reads("So $AC/4 = 9/3$, giving $AC = 12$. Similarly $BC = 15$.", "12", "Find $AC$.", "12"),
    _reads(
        "circle = 3, square = 2, triangle = 4.",
        "2",
        "Find the value of the square in the figure.",
        "2",
    ),
    # the angle the question names, then a further fact; a coefficient is no value
    _reads(
        "So the exterior angle is 180° − 120° = 60°. The sum of the exterior angles is 360°.",
        "60",
        "Find the measure of the exterior angle of a regular hexagon.",
        "60",
    ),
    (
        "Since PQ = QR, ∠P = ∠R. Thus $2\\angle R = 90°$",
        "45",
        "Find $m \\angle R$.",
        None,
        "no_answer",
        "none",
        "",
    ),
    # the blank of a fill-in question; a superlative's subject for "Which"
    _reads(
        "The minute hand is on the 3. So it is quarter past six.",
        "quarter",
        "It is (_) past six.",
        "quarter",
    ),
    (
        "Chad has the lowest life expectancy at 52.5 years, followed by Nigeria (54.7).",
        "Chad",
        "Which country has the lowest life expectancy?",
        None,
        "correct",
        "statement",
        "Chad",
    ),
    # yes/no by a relation symbol and by one side of the comparison
    _affirms("By AA similarity, △ABC ~ △DEF.", "Is triangle ABC similar to triangle DEF?"),
    _denies("Web Green ≈ 35 < Dark Cyan ≈ 60.", WEB_GREEN),
    _denies("Web Green is about 35 and Dark Cyan about 60, so Web Green is smaller.", WEB_GREEN),
    # an inequality in closing math; a retraction by "Oops"
    (
        "The open circle at −2 with an arrow pointing right represents $x > -2$.",
        "x > -2",
        "Find the solution set.",
        None,
        "correct",
        "conclusion",
        "x > -2",
    ),
    (
        "The median is $\\boxed{9}$.\n\nOops, I took the wrong position. The median is 7.",
        "7",
        "Find the median.",
        None,
        "correct",
        "conclusion",
        "7",
    ),
]


RED_BLUE = "Is the number of red objects equal to the number of blue objects?"
REGION = "Which region had the smallest increase?"
# Kinds found by blind batch 26.
BATCH_26_KINDS = [
    # equality needs both sides; a predicate after "less than" is not affirmed
    (
        "There are 2 red objects and 3 blue objects.",
        "Yes",
        RED_BLUE,
        YES_NO,
        "wrong",
        "conclusion",
        "2 red objects and 3 blue objects",
    ),
    ("2 red and 2 blue — the same number.", "Yes", RED_BLUE, YES_NO, "correct", "statement", "yes"),
    (
        "∠ABC measures about 80°, slightly less than a right angle.",
        "Yes",
        "Is the angle ABC a right angle?",
        YES_NO,
        "wrong",
        "statement",
        "no",  # 80° is no right angle
    ),
    # true/false; rises as increasing
    (
        "Median 5 < mean 8.",
        "False",
        "True or false: the median is greater than the mean.",
        ["True", "False"],
        "correct",
        "statement",
        "no",
    ),
    _affirms(
        "From 2015 to 2020 the line rises steadily from 20 to 45.",
        "Is the line graph increasing from 2015 to 2020?",
    ),
    # a walk through the options cut off; a correction inside the sentence
    (
        "A. This option suggests 30°.\nB. This option suggests 45°.\nC.",
        "A",
        "Which is correct?",
        ["30°", "45°", "60°"],
        "no_answer",
        "none",
        "",
    ),
    (
        "Housing: 25%, food: 35%. So housing is 35%... no, housing is the 25% slice.",
        "35",
        "What percentage is spent on housing?",
        None,
        "wrong",
        "conclusion",
        "the 25% slice",
    ),
    # an exact form before its coarser rounding, without a dataset precision
    (
        "A = (90/360)·π·6² = 9π ≈ 28.3 in²",
        "28.27",
        "Find the area. Round to the nearest hundredth.",
        None,
        "correct",
        "conclusion",
        "9π ≈ 28.3 in²",
    ),
    # a result label closing a list; the superlative's place
    (
        "North: +12\nEast: +9\nSouth: +3\n\nSmallest: South",
        "South",
        REGION,
        None,
        "correct",
        "last_line",
        "South",
    ),
    (
        "Increases: North +12, South +3. The smallest increase was in the South.",
        "South",
        REGION,
        None,
        "correct",
        "statement",
        "South",
    ),
    # the asked variable at the end of the question; a box called something else
    (
        "So $x = 6$ and $y = 4$.\n\n$\\boxed{x = 6, y = 4}$",
        "6",
        "Find $x$ and $y$. What is $x$?",
        None,
        "correct",
        "boxed",
        "6",
    ),
    (
        "$\\boxed{125}$\n\nThat's the volume, not the surface area. "
        "The surface area is $6 \\times 25 = 150$.",
        "150",
        "Find the surface area.",
        None,
        "correct",
        "conclusion",
        "150",
    ),
    # a labelled list on one line; the clause naming the subject; a count by listing
    _reads(
        "Q1: $3.2M, Q2: $3.9M, Q3: $4.7M, Q4: $5.1M",
        "4.7",
        "What was the revenue in Q3 (in millions)?",
        "4.7",
    ),
    _reads(
        "Coffee is the most popular at 45%, tea comes second with 28%, and juice takes 27%.",
        "28",
        "What is the percentage of people who prefer tea?",
        "28%",
    ),
    _reads(
        "The years above 500 are 2016, 2018, 2019 and 2021.",
        "4",
        "How many years had sales above 500 units?",
        "4",
    ),
]


CIRCLE_SQUARE = "Is the area of the circle greater than the area of the square?"
# Kinds found by blind batch 27.
BATCH_27_KINDS = [
    # a choice picked as the closest to a different value of its own is a guess
    (
        "P = l × w = 8 × 4 = 32. The closest option is 24.\n\nAnswer: D",
        "D",
        "Find the perimeter.",
        ["8", "12", "16", "24"],
        "wrong",
        "phrase",
        "D",
    ),
    # a number before "and" does not qualify the subject; the operands of the subject
    _reads("x = 5, so PQ = 9 and QR = 9, while PR = 2x = 10.", "9", "Find $QR$.", "9"),
    _reads(
        "The average of 55 and 70 is 62.5, and the May value alone is 70.",
        "62.5",
        "What is the average rainfall in April and May?",
        "62.5",
    ),
    # "How many people": none; the peak; a value with its year in brackets
    _reads(
        "None of the people in the photo were born after WWII.",
        "0",
        "How many people were born after WWII?",
        "0",
    ),
    _reads(
        "The line climbs from 40 in 2010 to a peak of 78 in 2016 before falling to 61.",
        "78",
        "What was the peak value of the orange line?",
        "78",
    ),
    (
        "Peak: 78 (2016)",
        "78",
        "What was the peak value of the orange line?",
        None,
        "correct",
        "conclusion",
        "78",
    ),
    # a count given by the items after a colon
    _reads(
        "Countries above 3%: India, Vietnam.",
        "2",
        "How many countries have a growth rate above 3%?",
        "2",
    ),
    # yes/no: the right side alone; "there are fewer than 2"
    _denies("Circle ≈ 28.3, square = 36 → the square is bigger.", CIRCLE_SQUARE),
    _affirms(
        "There is one bike, so there are fewer than 2 bikes behind it.",
        "Is the number of bikes behind the car less than 2?",
    ),
    # another variable alone on the last line; a box changed "on a closer look"
    (
        "a/10 = 12/8 → a = 15; b/6 = 12/8 → b = 9.\n\n**b = 9**",
        "15",
        "Find $a$.",
        None,
        "wrong",
        "conclusion",
        "b = 9",
    ),
    (
        "$\\boxed{14}$\n\nHmm, on a closer look the grid gives 16 + 9 + 4 + 1 = 30 squares.",
        "14",
        "How many squares are in the figure?",
        None,
        "wrong",
        "conclusion",
        "30 squares",
    ),
]


RED_BLUE_LENGTH = "Is the red segment longer than the blue segment?"
# Kinds found by blind batch 28.
BATCH_28_KINDS = [
    _affirms("The blue segment is shorter than the red one.", RED_BLUE_LENGTH),
    _affirms(
        "2 cylinders vs 4 cubes, so the cubes outnumber the cylinders.",
        "Are there fewer cylinders than cubes?",
    ),
    _denies(
        "One angle measures 80°, so ABCD cannot be a rectangle.",
        "Is the quadrilateral a rectangle?",
    ),
    _reads("Mon: 34, Tue: 28, Wed: 41", "34", "What is the value of the leftmost bar?", "34"),
    (
        "From $45 to $60: +$15",
        "15",
        "How much did the price increase?",
        None,
        "correct",
        "conclusion",
        "+15",
    ),
    (
        "In Q4, Laptops led with 420 units, followed by Phones (380).",
        "Laptops",
        "Which product had the highest sales in Q4?",
        None,
        "correct",
        "statement",
        "Laptops",
    ),
    (
        "Laptops (420 units).",
        "Laptops",
        "Which product had the highest sales?",
        None,
        "correct",
        "whole",
        "Laptops",
    ),
    (
        "A = π·7² ≈ 153.94",
        "49\\pi",
        "What is the exact value of the area of the circle?",
        None,
        "wrong",
        "conclusion",
        "π·7² ≈ 153.94",
    ),
    (
        "Perimeter = 9 + 12 + 15 = $\\boxed{36}$.\n\nSo the area is ½ × 9 × 12 = 54.",
        "36",
        "Find the perimeter of the triangle.",
        None,
        "correct",
        "boxed",
        "36",
    ),
    _reads(
        "The temperature dropped by 9 °C.",
        "-9",
        "What is the change in temperature from noon to midnight?",
        "-9",
    ),
]


SALMON = "Does Light Salmon have the lowest value?"
# Kinds found by blind batch 29.
BATCH_29_KINDS = [
    _denies("Olive Drab (≈12) is lower than Light Salmon (≈30).", SALMON),
    _denies("The 2020 bar reaches 55, which is below 60.", "Does the bar for 2020 exceed 60?"),
    _affirms(
        "The angles are 50°, 60° and 70°; their sum is 180°.",
        "Is the sum of the angles equal to 180 degrees?",
    ),
    _affirms(
        "It is bounded by a diameter and half of the circle, so it is a semicircle.",
        "Is the shaded region a semicircle?",
    ),
    (
        "lung, cell, wife and shirt each have a bar below 5 — that's four.",
        "4",
        "How many objects have a bar below 5?",
        None,
        "correct",
        "conclusion",
        "4",
    ),
    _reads(
        "The value exceeded 50 in 2016, 2018 and 2020.",
        "3",
        "What is the number of years in which the value was above 50?",
        "3",
    ),
    _reads(
        "They intersect at (2, 4).",
        "4",
        "What is the y-coordinate of the point where the lines intersect?",
        "4",
    ),
    _reads(
        "The smallest cube is the green one at the back.",
        "green",
        "What color is the smallest cube?",
        "green",
    ),
    _reads(
        "The bar labelled 'Books' reaches exactly 25.",
        "Books",
        "Which category has a value of 25?",
        "Books",
    ),
    _reads("Books: 25, Toys: 18, Games: 32", "Books", "Which category has a value of 25?", "Books"),
    _reads(
        "The curve reaches its highest point at around x = 6, where y ≈ 120.",
        "120",
        "What is the approximate value of the peak in the graph?",
        "120",
    ),
    _reads(
        "Candidate A received 38% of the votes, Candidate B 42%, and Candidate C 20%.",
        "42",
        "What percentage of the votes did Candidate B receive?",
        "42%",
    ),
]


YEARS = "In how many years was the export value higher than the import value?"
RENEWABLES = "What is the share of renewable energy in 2020?"
# Kinds found by blind batch 30.
BATCH_30_KINDS = [
    _reads("Exports exceeded imports in 2017 and 2019.", "2", YEARS, "2"),
    _reads("In two of the years (2017 and 2019) exports were above imports.", "2", YEARS, "two"),
    _reads(
        "Renewables made up 29% of the energy mix in 2020, up from 22% in 2015.",
        "29",
        RENEWABLES,
        "29%",
    ),
    _reads("In 2015 renewables were 22%; by 2020 they reached 29%.", "29", RENEWABLES, "29%"),
    _affirms("P = 2(7 + 4) = 22 > 20", "Is the perimeter of the rectangle greater than 20?"),
]


@pytest.mark.parametrize(
    ("response", "gold", "question", "choices", "outcome", "rule", "text"),
    BATCH_24_KINDS
    + BATCH_25_KINDS
    + BATCH_26_KINDS
    + BATCH_27_KINDS
    + BATCH_28_KINDS
    + BATCH_29_KINDS
    + BATCH_30_KINDS,
)
def test_kinds_found_by_blind_batches(
    response: str,
    gold: str,
    question: str,
    choices: list[str] | None,
    outcome: str,
    rule: str,
    text: str,
) -> None:
    verdict = judge(response, gold, choices, question=question)
    assert (verdict.outcome, verdict.rule, verdict.extracted) == (outcome, rule, text), (
        verdict.reason
    )


SALES = "Sales climbed from 40 units in 2018 to 55 in 2019, then reached 63 in 2020."


@pytest.mark.parametrize(
    ("sentence", "question", "expected"),
    [
        (SALES, "How many units were sold in 2020?", "63"),
        (SALES, "How many units were sold in 2019?", "55"),
        (SALES, "How many units were sold in 2018?", "40"),
        ("In 2018 the share was 12%, and by 2020 it had reached 19%.", "The share in 2020?", "19%"),
        # a figure calculated further, a qualifier, another year's figure: none
        ("The value in 2020 is 3.2 × 10^6.", "What is the value in 2020?", None),
        ("In 2020 the bar is above the 3 mark.", "What is the value in 2020?", None),
        ("It was 12% in 2018, rising in 2020.", "What was the share in 2020?", None),
        # a change between two years is not a year's figure, nor a question for a year
        (SALES, "How much did sales grow from 2019 to 2020?", None),
        (SALES, "In which year after 2018 were sales highest?", None),
    ],
)
def test_year_value_is_the_figure_given_for_the_asked_year(
    sentence: str, question: str, expected: str | None
) -> None:
    assert year_value(sentence, question) == expected


def test_the_asked_year_picks_its_figure_from_a_series() -> None:
    question = "What was the unemployment rate in 2019?"
    said = "The rate rose to 6.1% in 2018, then 5.4% in 2019, and 5.0% in 2020."
    right = judge(said, "5.4", question=question)
    assert (right.outcome, right.extracted, right.rule) == ("correct", "5.4%", "asked_subject")
    assert judge(said, "5.0", question=question).outcome == "wrong"


@pytest.mark.parametrize(
    ("response", "gold", "question", "outcome", "extracted"),
    [
        ("It's a regular hexagon.", "6", "How many sides does the polygon have?", "correct", "6"),
        ("The figure is a pentagon.", "6", "How many vertices does it have?", "wrong", "5"),
        # a solid is no polygon; a polygon's name counts no edges of a solid
        ("It is a hexagonal prism.", "18", "How many edges does the solid have?", "no_answer", ""),
    ],
)
def test_a_polygon_named_gives_its_number_of_sides(
    response: str, gold: str, question: str, outcome: str, extracted: str
) -> None:
    verdict = judge(response, gold, question=question)
    assert (verdict.outcome, verdict.extracted) == (outcome, extracted)


@pytest.mark.parametrize(
    ("sentence", "question", "expected"),
    [
        ("I see 3 small squares plus the big one.", "How many squares are there?", "4"),
        ("There are three red cubes and 2 blue ones.", "How many cubes are there?", "5"),
        ("So: two tall bars and one short bar.", "How many bars are shown?", "3"),
        ("I count 5 apples and the one in the basket.", "How many apples are there?", "6"),
        ("There are 3 squares and one of them is shaded.", "How many squares are there?", None),
        # parts of two kinds are no sum of the asked things
        ("There are three red cubes and 2 blue spheres.", "How many cubes are there?", None),
        ("I see 3 small squares plus the big one.", "What is the area?", None),
    ],
)
def test_counted_sum_totals_a_count_given_in_parts(
    sentence: str, question: str, expected: str | None
) -> None:
    assert counted_sum(sentence, question) == expected


def test_a_count_given_in_parts_is_judged_by_its_total() -> None:
    said = "Counting them, I get 4 small triangles plus the large one."
    question = "How many triangles are in the figure?"
    right = judge(said, "5", question=question)
    assert (right.outcome, right.extracted, right.rule) == ("correct", "5", "asked_subject")
    assert judge(said, "4", question=question).outcome == "wrong"


LISTED = (
    "Bars taller than 20:\n1. apples (25)\n2. pears (31)\n3. plums (22)\n\nThe rest stay below 20."
)


@pytest.mark.parametrize(
    ("response", "gold", "outcome"),
    [
        (LISTED, "3", "correct"),
        (LISTED, "4", "wrong"),
        # steps of reasoning are no listing of the counted things
        ("Steps:\n1. Find the bars\n2. Compare with 20\n3. Count them.", "3", "no_answer"),
    ],
)
def test_a_count_given_only_by_a_numbered_list(response: str, gold: str, outcome: str) -> None:
    verdict = judge(response, gold, question="How many bars are taller than 20?")
    assert verdict.outcome == outcome
    if outcome != "no_answer":
        assert (verdict.extracted, verdict.rule) == ("3", "asked_subject")


CUBES_SPHERES = "Is the number of red cubes less than the number of blue spheres?"


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        ("Red cubes: 4. Blue spheres: 7. 4 < 7.", "yes"),
        ("Blue spheres: 7. Red cubes: 4. So 7 > 4.", "yes"),  # the sides in either order
        ("Red cubes: 9; blue spheres: 7. 9 is greater than 7.", "no"),
        # numbers that are not told to stand for the sides give no verdict
        ("I see 9 and 7. 9 > 7.", None),
        ("Red cubes: 4. Blue spheres: 4. 4 = 4.", None),
    ],
)
def test_sides_verdict_compares_the_numbers_that_stand_for_the_sides(
    response: str, expected: str | None
) -> None:
    closing = response.rsplit(". ", 1)[-1]
    assert sides_verdict(response, closing, CUBES_SPHERES) == expected


def test_a_yes_no_comparison_answered_by_two_numbers_is_judged_by_them() -> None:
    said = "Blue spheres: 7. Red cubes: 9. So 9 > 7."
    right = judge(said, "No", YES_NO, question=CUBES_SPHERES)
    assert (right.outcome, right.extracted, right.rule) == ("correct", "no", "statement")
    assert judge(said, "Yes", YES_NO, question=CUBES_SPHERES).outcome == "wrong"
    assert judge("I see 9 and 7. 9 > 7.", "No", YES_NO, question=CUBES_SPHERES).outcome == (
        "no_answer"
    )


@pytest.mark.parametrize(
    ("sentence", "question", "expected"),
    [
        ("I count five red cubes, an odd number.", "Is the number of red cubes even?", "no"),
        ("I count six red cubes, an even number.", "Is the number of red cubes even?", "yes"),
        ("The slope of the line is negative.", "Is the slope of the line positive?", "no"),
        ("So the triangle is acute, not obtuse.", "Is the triangle obtuse?", "no"),
        ("The count is six, which is even, not odd.", "Is the number of cubes even?", "yes"),
    ],
)
def test_a_statement_of_the_other_kind_of_a_pair_denies_the_question(
    sentence: str, question: str, expected: str
) -> None:
    assert statement_verdict(sentence, question) == expected
    gold = "Yes" if expected == "yes" else "No"
    assert judge(sentence, gold, YES_NO, question=question).correct
    assert judge(sentence, "No" if gold == "Yes" else "Yes", YES_NO, question=question).outcome == (
        "wrong"
    )


@pytest.mark.parametrize(
    ("sentence", "gold", "outcome"),
    [
        ("The sphere behind the small cylinder is blue.", "No", "correct"),
        ("The sphere behind the small cylinder is blue.", "Yes", "wrong"),
        ("The sphere behind the small cylinder is purple.", "Yes", "correct"),
        ("The large sphere behind the small cylinder is purple.", "No", "wrong"),
        # a colour of another thing is no predicate of the asked one
        ("The sphere is in front of the blue cube.", "No", "no_answer"),
    ],
)
def test_another_attribute_of_the_asked_kind_denies_the_question(
    sentence: str, gold: str, outcome: str
) -> None:
    question = "Is the sphere behind the small cylinder purple?"
    assert judge(sentence, gold, YES_NO, question=question).outcome == outcome


@pytest.mark.parametrize(
    ("sentence", "question", "expected"),
    [
        ("From the tick mark, m∠PQR = 90°.", "Is angle PQR a right angle?", "yes"),
        ("Adding the two parts, m∠PQR = 95°.", "Is angle PQR a right angle?", "no"),
        ("So the lines meet at an angle of 88 degrees.", "Are the two lines perpendicular?", "no"),
        ("So the lines meet at 90°.", "Are the two lines perpendicular?", "yes"),
        ("So ∠XYZ measures 120°.", "Is angle XYZ an obtuse angle?", "yes"),
        ("So ∠XYZ measures 120°.", "Is angle XYZ an acute angle?", "no"),
        # two angles measured, or none: no verdict from the measure
        ("So ∠X = 30° and ∠Y = 60°.", "Is angle X a right angle?", None),
    ],
)
def test_an_angle_measured_answers_what_kind_of_angle_it_is(
    sentence: str, question: str, expected: str | None
) -> None:
    assert statement_verdict(sentence, question) == expected


AGREE = "The 'Strongly agree' bar reaches 31%. The 'Agree' bar is 44%."
TONNES = "How many tonnes did Germany produce?"


@pytest.mark.parametrize(
    ("response", "gold", "question", "outcome", "extracted"),
    [
        (AGREE, "31", "What percentage of people chose 'Strongly agree'?", "correct", "31%"),
        (AGREE, "44", "What percentage of people chose 'Strongly agree'?", "wrong", "31%"),
        ("Germany produced 12 tonnes. France produced 9 tonnes.", "12", TONNES, "correct", "12"),
        # the closing sentence about the asked thing itself is its answer
        (
            "Germany produced 12 tonnes. Germany actually produced 14 tonnes.",
            "14",
            TONNES,
            "correct",
            "14",
        ),
        ("Germany produced 12 tonnes. France produced 9 tonnes.", "9", TONNES, "wrong", "12"),
    ],
)
def test_a_further_fact_about_another_thing_after_the_answer(
    response: str, gold: str, question: str, outcome: str, extracted: str
) -> None:
    verdict = judge(response, gold, question=question)
    assert (verdict.outcome, verdict.extracted) == (outcome, extracted)


CHANNEL = "Which channel had the largest portion of sales in 2021?"
RETAIL = "In 2021, Retail made up 38% of sales, the largest portion, ahead of Online (35%)."


@pytest.mark.parametrize(
    ("response", "gold", "outcome", "extracted"),
    [
        (RETAIL, "Retail", "correct", "Retail"),
        (RETAIL, "Online", "wrong", "Retail"),
        # another superlative than the question's names nothing it asks
        ("In 2021, Retail made up 38% of sales, the smallest portion.", "Retail", "no_answer", ""),
    ],
)
def test_the_questions_superlative_as_an_aside_names_the_subject(
    response: str, gold: str, outcome: str, extracted: str
) -> None:
    verdict = judge(response, gold, question=CHANNEL)
    assert (verdict.outcome, verdict.extracted) == (outcome, extracted)


def test_a_years_figure_does_not_answer_which() -> None:
    said = "In 2021 retail sales peaked at 38%."
    assert year_value(said, CHANNEL) == "38%"
    assert judge(said, "Retail", question=CHANNEL).outcome == "no_answer"


@pytest.mark.parametrize(
    ("sentence", "question", "expected"),
    [
        ("Their side lengths differ (4 vs 6).", "Are the two squares congruent?", "no"),
        ("Both have side 4, so they are the same.", "Are the two squares congruent?", "yes"),
        ("The two patterns are different.", "Are the two patterns identical?", "no"),
        # a similarity question is not answered by differing sizes
        ("Their side lengths differ (4 vs 6).", "Are the two squares similar?", None),
    ],
)
def test_congruent_or_identical_is_denied_by_measures_that_differ(
    sentence: str, question: str, expected: str | None
) -> None:
    assert statement_verdict(sentence, question) == expected


def test_a_figure_of_another_year_is_not_the_asked_years() -> None:
    said = "In 2020, sales fell compared with 55 in 2019."
    assert year_value(said, "How many units were sold in 2020?") is None
    assert judge(said, "55", question="How many units were sold in 2020?").outcome == "no_answer"
    # "differ only in position" says nothing of their measures
    same = "The two circles have radii 3 and 3, so they differ only in position."
    assert statement_verdict(same, "Are the two circles congruent?") is None


def test_a_last_clause_about_another_label_leaves_the_asked_ones_value() -> None:
    said = "The 'Very likely' slice is 23%, the 'Somewhat likely' slice is 41%."
    question = "What percentage said 'Very likely'?"
    assert judge(said, "23", question=question).correct
    wrong = judge(said, "41", question=question)
    assert (wrong.outcome, wrong.extracted) == ("wrong", "23%")


def test_an_angle_kind_is_read_after_but() -> None:
    said = "The angle at B looks like 90° but the markings show it is 88°."
    assert statement_verdict(said, "Is angle ABC a right angle?") == "no"


@pytest.mark.parametrize(
    ("said", "gold", "extracted"),
    [
        ("There are 3 large spheres and 2 small ones.", "5", "5"),
        ("There are 3 large spheres and 2 small cubes.", "3", "3"),
    ],
)
def test_counts_of_parts_are_no_list_of_items(said: str, gold: str, extracted: str) -> None:
    verdict = judge(said, gold, question="How many spheres are there?")
    assert (verdict.outcome, verdict.extracted) == ("correct", extracted)


@pytest.mark.parametrize(
    ("sentence", "question", "expected"),
    [
        ("g(0) = -3 ≠ 0.", "Does the graph of g pass through the origin?", "no"),
        (
            "Since f(2) = 2·2 + 1 = 5, it does.",
            "Does the line pass through the point (2, 5)?",
            "yes",
        ),
        ("We get f(2) = 7.", "Does the line pass through the point (2, 5)?", "no"),
        # the value at another x says nothing of the point
        ("We get f(3) = 5.", "Does the line pass through the point (2, 5)?", None),
    ],
)
def test_passing_through_a_point_by_the_value_there(
    sentence: str, question: str, expected: str | None
) -> None:
    assert statement_verdict(sentence, question) == expected


@pytest.mark.parametrize(
    ("sentence", "question", "expected"),
    [
        (
            "The slopes are 3 and -1/3, so their product is -1.",
            "Are the lines perpendicular?",
            "yes",
        ),
        ("The slopes are 3 and 1/3.", "Are the lines perpendicular?", "no"),
        ("Their product is 4 rather than −1.", "Are the lines perpendicular?", "no"),
        ("The slopes are 2 and 2.", "Are the lines parallel?", "yes"),
        ("The slopes are 2 and -1/2.", "Are the lines parallel?", "no"),
        ("The slopes are 2 and -1/2.", "Is the triangle isosceles?", None),
    ],
)
def test_perpendicular_or_parallel_by_the_slopes(
    sentence: str, question: str, expected: str | None
) -> None:
    assert statement_verdict(sentence, question) == expected


SECTOR = "The sector is a quarter of the circle, whose area is 64π; a quarter of that gives 16π."


@pytest.mark.parametrize(("gold", "outcome"), [("16\\pi", "correct"), ("64\\pi", "wrong")])
def test_a_whose_clause_is_about_another_thing_and_gives_states_a_result(
    gold: str, outcome: str
) -> None:
    verdict = judge(SECTOR, gold, question="Find the area of the sector.")
    assert (verdict.outcome, verdict.extracted) == (outcome, "16π")
    assert stated_value("the circle, whose area is 64π", "area") is None


def test_a_possessive_names_whose_value_it_is() -> None:
    said = "The circle's area is 25π; half of that is 12.5π."
    assert stated_value(said, "area", "Find the area of the semicircle.") is None
    assert stated_value("The triangle's area is 24.", "area", "Find the area of the triangle.") == (
        "24"
    )
    assert judge(said, "12.5\\pi", question="Find the area of the semicircle.").correct
