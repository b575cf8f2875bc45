"""The closing statement of a response without an explicit commitment (conclude)."""

from __future__ import annotations

import pytest

from cuekit.answers.conclude import closing_claim, conclusion
from cuekit.answers.extract import extract


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # the predicate, when the subject holds a number of its own
        ("The measure of angle 1 is $110°$.", "110°"),
        ("So the value in 2020 is $3.2 \\times 10^6$.", "3.2 \\times 10^6"),
        ("The area is $25\\pi$ square units, approximately 78.54.", "25\\pi"),
        ("With the scale 1 : 3, the correct length is 12.", "12"),
        # a predicate that lists or brackets its answer
        ("The two values are 2 and 5.", "2 and 5"),
        ("Solving gives x < 2. The solution set is $(-\\infty, 2)$.", "(-\\infty, 2)"),
        # counts written as words
        (
            "I see two adults and two children. There are four people in the image.",
            "4 people in the image",
        ),
        # the last part after a semicolon
        ("Dividing 18 by 3 gives 6, so the answer is not 5; it is 6.", "6"),
        # an option named as such, a bold closing word
        ("The diagonal is $5\\sqrt{2}$, which corresponds to option B.", "B"),
        ("From 2010 to 2020 the line falls. The trend is **decreasing**.", "decreasing"),
        # two numbers offered as alternatives are a hedge; the part after ";" may hold none
        ("The shaded area is roughly 9 or 10 square units; it is hard to tell.", "9 or 10"),
        ("The answer could be 4 or 5 depending on whether the hidden cube counts.", "4 or 5"),
        # one number stays the answer
        ("I think there are 3 cats, but I'm not sure.", "3"),
    ],
)
def test_the_closing_statement_gives_its_answer(text: str, expected: str) -> None:
    assert conclusion(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a check after the answer is not the answer
        (
            "So $2x = 16$ and $x = 8$.\n\n**Verification:** Substituting, $2(8) + 4 = 20$, which "
            "matches the other half.",
            "8",
        ),
        ("So x = 8. Check: 3(8) - 4 = 20 ✓", "8"),
        # nor is an aside in parentheses
        ("Therefore, the perimeter is 36 cm. (For reference, the area would be 80 cm².)", "36"),
    ],
)
def test_trailing_checks_and_asides_are_set_aside(text: str, expected: str) -> None:
    assert conclusion(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Is the answer 12?",  # a question asserts nothing
        "We set up 3x = 36, so x might be 12. Is the answer 12? Let me verify.",
        "**Final Answer**",  # a bold heading is not a bold answer
        "Checking each option: A fails. D fails. Option C is a trapezoid, option D a kite.",
        "Options A, C and D are ruled out, so only (B) remains... or is (D) possible?",
    ],
)
def test_no_conclusion(text: str) -> None:
    assert conclusion(text) is None


def test_an_option_that_is_ruled_out_is_not_the_answer() -> None:
    assert conclusion("So we can eliminate option A.") is None


def test_closing_claim_needs_a_concluding_word() -> None:
    assert closing_claim("So the area of the triangle is 30 square units.") == "30"
    assert closing_claim("The area of the triangle is 30 square units.") is None


@pytest.mark.parametrize(
    ("response", "text", "rule"),
    [
        ("在直角三角形中，AB = 10。\n\n因此，答案是 C。", "C", "phrase"),
        ("面积为 4 × 3 = 12。\n\n答案：12", "12", "phrase"),
        ("It's 5.", "5", "whole"),
    ],
)
def test_chinese_answer_phrases_and_whole_answers(response: str, text: str, rule: str) -> None:
    found = extract(response)
    assert (found.text, found.rule) == (text, rule)


@pytest.mark.parametrize(
    "response",
    [
        "The correct answer is",  # a lead-in alone is cut off, not an answer
        "Let's evaluate each option:\n\nA. 30° is too small.\nB. 120° is possible.\nC.",
    ],
)
def test_cut_off_lead_ins_and_option_walks_give_no_answer(response: str) -> None:
    assert not extract(response).answered


@pytest.mark.parametrize(
    ("response", "text", "rule"),
    [
        # a short sentence around its number is read by its conclusion, not taken whole
        ("It has 8 sides.", "8", "conclusion"),
        ("Japan: **6.30**", "6.30", "conclusion"),
        ("12 cm", "12 cm", "whole"),
        ("Nike", "Nike", "whole"),
        # answer phrases with a dash, first-person choices, "选 B", a code fence
        ("Answer – 8", "8", "phrase"),
        ("That is not an option. I'll go with C.", "C", "phrase"),
        ("五边形有 5 个顶点。\n\n选 B", "B", "phrase"),
        ("```\n8\n```", "8", "whole"),
        # a last line that ends on a value after ":" or "=" is finished
        ("Counting:\n1. a bird\n2. a bird\n\nTotal: 2", "2", "conclusion"),
        ("P = 3/6 = 1/2", "1/2", "conclusion"),
        # a restatement after "i.e.", a naming participle, a leading "No —"
        (
            "The axis is in thousands and the bar reaches 30, i.e., 30,000 visitors.",
            "30,000",
            "conclusion",
        ),
        ("The largest slice in the pie chart is colored green.", "green", "conclusion"),
        ("No — the blue line stays below the orange line.", "No", "leading"),
        # a note or a hypothetical after the answer is set aside
        (
            "So $x = 45$.\n\nNote: if the triangle were equilateral, each angle would be 60°.",
            "45",
            "conclusion",
        ),
    ],
)
def test_short_and_closing_forms(response: str, text: str, rule: str) -> None:
    found = extract(response)
    assert (found.text, found.rule) == (text, rule)


@pytest.mark.parametrize(
    "response",
    [
        "$$5x + 360 = 540$$\n\n$$5x = 18",  # a display math left open: cut off mid-number
        "$$AB^2 = 6^2 + 8^2 = 36 + 64",  # ends on an operand of a sum
    ],
)
def test_an_open_display_or_sum_is_still_cut_off(response: str) -> None:
    assert extract(response).rule == "none"


@pytest.mark.parametrize(
    ("response", "text", "rule"),
    [
        ("x equals 3.", "3", "conclusion"),  # a word before the number: a sentence, not bare
        ("I think it's B, but I'm not certain.", "B", "conclusion"),  # contractions
        ("Area = 6 cm × 4 cm = 24 cm²", "24 cm²", "conclusion"),  # a value with its unit ends
        ("The total is 16.\n\nDouble-checking: 4 + 4 + 4 + 4 = 16. Confirmed.", "16", "conclusion"),
        ("So $x = 22$.\n\nCheck: $4(22) - 18 = 70 = 3(22) + 4$ ✓", "22", "conclusion"),
        (
            "They meet where $x = 2$ and $y = 3$, i.e., at the point $(2, 3)$.",
            "(2, 3)",
            "conclusion",
        ),
        (
            "Since $B$ is the midpoint, **Therefore,** $x = 5$, and $AB = BC = 10$.",
            "5",
            "conclusion",
        ),
        (
            "| Year | Value |\n|---|---|\n| 2016 | 58 |\n\n"
            "The peak occurs in **2016** with a value of 58.",
            "2016",
            "conclusion",
        ),
        ("B is the answer.", "B", "phrase"),
        ("12 is the correct answer.", "12", "phrase"),
        ("[C]", "[C]", "whole"),
    ],
)
def test_batch_17_forms(response: str, text: str, rule: str) -> None:
    found = extract(response)
    assert (found.text, found.rule) == (text, rule)


@pytest.mark.parametrize(
    "response",
    ["$$\\boxed{\\quad}$$", "N/A", "The diagram is not included, so I can't count them."],
)
def test_spacing_boxes_and_not_applicable_give_no_answer(response: str) -> None:
    assert not extract(response).answered


@pytest.mark.parametrize(
    ("response", "text", "rule"),
    [
        ("Option (A) 15", "Option (A) 15", "whole"),
        ("Choice: A", "A", "phrase"),
        ("Select A.", "A", "phrase"),
        ("A is correct.", "A", "phrase"),
        ("x = 14 → B", "B", "conclusion"),
        ("<answer>42</answer>", "42", "tagged"),
        ('The largest value in the table is 19 (row "C", column "2019").', "19", "conclusion"),
        ("The diagonal is approximately 4.24 (i.e., $3\\sqrt{2}$).", "4.24", "conclusion"),
        ("There are 4 adults and 3 children, so 7 people in total.", "7", "conclusion"),
        (
            "According to the chart, Brazil has the highest production, followed by Vietnam.",
            "Brazil",
            "conclusion",
        ),
        ("Yes (27 > 25).", "Yes", "leading"),
        ("The water rises by 3 ½ cm.", "3.5", "conclusion"),
        ("The primes shown are 2, 3, and 5.", "2, 3, and 5", "conclusion"),
    ],
)
def test_batch_18_forms(response: str, text: str, rule: str) -> None:
    found = extract(response)
    assert (found.text, found.rule) == (text, rule)


def test_an_answer_label_alone_is_no_answer() -> None:
    assert not extract("**Answer:**").answered


def test_a_box_rejected_as_impossible_gives_way_to_the_new_value() -> None:
    found = extract(
        "$(x + 6)(x - 4) = 0$.\n\n$\\boxed{-6}$\n\nHmm, that gives a negative "
        "length, which is impossible. The other root is $x = 4$, so $x = 4$."
    )
    assert (found.text, found.rule) == ("4", "conclusion")
    # a remark that calls something else impossible, with no new value, keeps the box
    kept = extract("$\\boxed{5}$\n\nA negative length is impossible, since sides are positive.")
    assert (kept.text, kept.rule) == ("5", "boxed")
