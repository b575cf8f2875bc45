"""Extraction: which answer a response commits to, and the rule that found it."""

from __future__ import annotations

import pytest

from cuekit.answers.extract import Extraction, clean_candidate, extract, find_boxed, is_refusal


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("so \\boxed{5}.", ["5"]),
        ("\\boxed{\\frac{1}{2}}", ["\\frac{1}{2}"]),
        ("\\boxed{\\text{B}} and later \\boxed{x^{2}}", ["\\text{B}", "x^{2}"]),
        ("\\fbox{7}", ["7"]),
        ("\\boxed {12}", ["12"]),
        ("\\boxed{3} then \\boxed{unclosed {", ["3"]),
        ("\\boxed without braces then \\boxed{3}", ["3"]),
        ("no box", []),
    ],
)
def test_find_boxed_matches_nested_braces(text: str, expected: list[str]) -> None:
    assert find_boxed(text) == expected


@pytest.mark.parametrize(
    ("response", "text", "rule"),
    [
        # the last explicit commitment wins, box or phrase
        ("First \\boxed{3}, no wait: \\boxed{\\dfrac{3}{4}}", "\\dfrac{3}{4}", "boxed"),
        ("\\boxed{8}. Wait, I made an error. The answer is 6.", "6", "phrase"),
        ("So the final answer is: 12 cm.\nDone", "12 cm", "phrase"),
        ("Answer: **Lime**", "Lime", "phrase"),
        ("The answer is 3. Actually the answer is $\\frac{1}{3}$.", "\\frac{1}{3}", "phrase"),
        ("The correct option is **C**.", "C", "phrase"),
        ("Figure B fits. Option B is correct.", "B", "phrase"),
        ("So option (a) is the right one.", "A", "phrase"),
        ("Comparing the options, the best match is:\n\n**C**", "C", "last_line"),
        ("**Final Answer:**\n\n(B)", "(B)", "phrase"),
        # a phrase that is a remark, not an answer, does not replace the box
        ("$\\boxed{3.5}$\n\nNote: the answer is rounded to the nearest tenth.", "3.5", "boxed"),
        ("$\\boxed{4}$\n\nNote that the answer is 4 units long.", "4", "boxed"),
        # a retracted box gives way to what follows the retraction
        (
            "\\boxed{25}\n\nWait, that's not right. The base is 6, so the area is 12.",
            "12",
            "conclusion",
        ),
        (
            "So the area is $\\boxed{50}$. Hmm, no: it is half of that, so the area is 25.",
            "25",
            "conclusion",
        ),
        ("The answer is 8. Would you like me to explain?", "8", "phrase"),
        ("Answer: There are 5 birds.", "5 birds", "phrase"),
        ("It's 5.", "5", "whole"),
        ("The continent shown in red is Asia.", "Asia", "conclusion"),
        ("It is blurry. I think there are 3 cats, but I'm not sure.", "3", "conclusion"),
        # weak commitments of finished responses
        ("B", "B", "whole"),
        ("Yes.", "Yes", "whole"),
        ("**No**, the bars differ in height and the red one is taller.", "No", "leading"),
        ("B. The figure shows an obtuse angle, greater than 90 degrees.", "B", "leading"),
        ("$\\boxed{\\text{The area is } 12}$", "12", "boxed"),
        ("There are 4 red and 3 blue. In total, there are 7 objects.", "7", "conclusion"),
        (
            "The rectangle is 4 by 6. Hence, the perimeter is 2(4 + 6) = 20 cm.",
            "20 cm",
            "conclusion",
        ),
    ],
)
def test_extract_table(response: str, text: str, rule: str) -> None:
    found = extract(response)
    assert (found.text, found.rule) == (text, rule)
    assert found.answered


@pytest.mark.parametrize(
    ("response", "note"),
    [
        ("", "empty response"),
        ("  \n ", "empty response"),
        ("<think>\nhmm\n</think>\n\n", "empty response"),
        ("$\\boxed{}$", "only an empty box"),
        ("No image was provided, so I cannot answer this question.", "declines to answer"),
        ("AB^2 = 9 + 16 = 25, so AB = ", "stops mid-sentence"),
        (
            "The image shows AB = 5 and BC = 12. The angle at B is a right angle.",
            "commits to no answer",
        ),
        (
            "1. The first bar is 20.\n2. The second bar is 35.\n3. The third is 15.",
            "commits to no answer",
        ),
        ("Count: " + "There is a cube. There is a sphere. " * 30, "a loop with no committed"),
        ("x: " + "The answer is 4. No, the answer is 5. " * 20, "a loop that commits to several"),
        ("\\boxed{8}\n\nWait, I miscounted, so", "retracts '8' and gives no other"),
        ("I don't have the image, so I can't tell whether the answer is 4.", "declines to answer"),
        ("I’m sorry, I can’t see the 3 shapes clearly.", "declines to answer"),  # curly ’
        ("Without the image I can only guess; a typical answer would be 3.", "only speculates"),
        ("Is the answer 12? Let me verify.", "commits to no answer"),
        ("Step 1: 2 + 2 = 4.\nStep 2: 4 + 2 = 6.\nStep 3: 6 + 2 = 8.", "commits to no answer"),
        ("We multiply:\n\n$$\\frac{3}{4} \\times", "stops mid-sentence"),
        ("A. 30° is too small for this angle.\nB. 45° matches the marks, but let", "stops mid"),
    ],
)
def test_no_answer_is_never_invented(response: str, note: str) -> None:
    found = extract(response)
    assert (found.text, found.rule, found.answered) == ("", "none", False)
    assert note in found.note


def test_a_loop_repeating_one_committed_answer_keeps_it() -> None:
    found = extract("$\\boxed{4}$\n\n" + "The answer is 4.\n" * 25)
    assert (found.text, found.rule) == ("4", "phrase")


def test_finished_false_drops_fallbacks_and_an_answer_cut_at_the_end() -> None:
    complete = "The bars are 10, 20 and 30, so the smallest is 10."
    assert extract(complete).text == "10"
    assert extract(complete, finished=False) == Extraction(
        "", "none", "cut off at the token limit before an answer"
    )
    assert extract("Step 1 ... so the answer is 1", finished=False).rule == "none"
    assert extract("\\boxed{6}\n\nTo verify, the total of", finished=False).text == "6"


def test_several_boxes_are_kept_and_alternatives_flagged() -> None:
    found = extract("Area: $\\boxed{24}$, perimeter: $\\boxed{20}$.")
    assert (found.text, found.boxes) == ("20", ("24", "20"))
    hedged = extract("It is $\\boxed{3}$ or $\\boxed{4}$.")
    assert (hedged.text, hedged.note) == ("3 or 4", "the last boxes are given together")
    assert extract("$\\boxed{3}$ and $\\boxed{4}$").text == "3, 4"
    assert extract("$\\boxed{7}$ " * 5).text == "7"  # the same box repeated is one answer


def test_a_negated_conclusion_rules_out_rather_than_answers() -> None:
    assert extract("The answer is not 5.").text == "not 5"
    assert extract("It is definitely not B.").text == "not B"
    assert not extract("Yes or no: it depends on the sides, which are not marked.").answered


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("6 balls remain, since 8 − 2 = 6.", "6"),
        ("The value of x is 11.", "11"),
        ("No**, the line is not parallel.", "No"),
        ("** \\$12", "\\$12"),
        ("35° (since the angles sum to 180°)", "35°"),
        ("$\\frac{5}{2}$ is the ratio", "\\frac{5}{2}"),
        ("likely 5.", "5"),
        ("~12", "12"),
        ("approx. 3.46", "3.46"),
        ("(B), (D)", "(B), (D)"),
    ],
)
def test_clean_candidate_cuts_run_on_phrases(text: str, expected: str) -> None:
    assert clean_candidate(text) == expected


def test_is_refusal() -> None:
    assert is_refusal("I'm sorry, but I can't see the image.")
    assert is_refusal("The value cannot be determined from the figure.")
    assert not is_refusal("No, the line is not tangent to the circle.")


def test_a_change_of_mind_with_a_new_value_replaces_the_answer() -> None:
    changed = extract(
        "The answer is 45°.\n\nHmm, actually, looking at the figure again, the "
        "marked angle is the supplement, so it is 135°."
    )
    assert (changed.text, changed.rule) == ("135", "conclusion")
    assert "changes its mind about '45°'" in changed.note
    # "actually" with no new value, or with the same value, keeps the commitment
    kept = extract("\\boxed{12}\n\nActually, this matches the figure, since 4 + 4 + 4 = 12.")
    assert (kept.text, kept.rule) == ("12", "boxed")
    assert extract("The answer is 8.\n\nActually, I am confident in it.").text == "8"


def test_a_box_contradicted_by_a_closing_statement_is_a_conflict() -> None:
    found = extract(
        "The area is $\\frac{1}{2} \\cdot 5 \\cdot 6 = 15$.\n\n$$\\boxed{15}$$\n\n"
        "So the area of the triangle is 30 square units."
    )
    assert (found.text, found.rule) == ("15", "conflict")
    assert "'30'" in found.note
    # the same value again, a rounding of it, a check or a remark is no conflict
    for after in (
        "So the area is 15 square units.",
        "So x is about 3.46.",
        "Check: 2 × 5 + 3 = 13 ✓",
        "Note that 6 × 2 = 12.",
    ):
        box = "2\\sqrt{3}" if "3.46" in after else "15"
        assert extract(f"$\\boxed{{{box}}}$\n\n{after}").rule == "boxed", after


def test_boxed_insufficient_information_is_a_refusal() -> None:
    assert is_refusal("\\text{Insufficient information}")
    assert is_refusal("There is not enough data in the chart.")
