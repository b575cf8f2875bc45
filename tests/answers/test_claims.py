"""The claims reading of a closing statement, and the judge's check of it against the
gold: values with their roles, numbers in words, verdicts, named choices, and the guards
against incidental mentions of the gold."""

from __future__ import annotations

import pytest

from cuekit.answers import judge
from cuekit.answers.claims import choice_named, final_claim, read_claims, verdict_word


def _roles(sentence: str) -> list[tuple[str, str]]:
    return [(claim.text, claim.role) for claim in read_claims(sentence)]


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        (
            "20/80 = 0.25, a 25 percent increase.",
            [("20/80", "operand"), ("0.25", "answer"), ("25", "answer")],
        ),
        (
            "The smallest sector is 'Other' at 8%, less than 'Rent' at 12%.",
            [("8%", "answer"), ("12%", "secondary")],
        ),
        (
            "Model C leads with 92.5%, followed by Model B at 89.1%.",
            [("92.5%", "answer"), ("89.1%", "secondary")],
        ),
        (
            "I count seven cubes in total: four large and three small.",
            [("7", "answer"), ("4", "secondary"), ("3", "secondary")],
        ),
        ("x is not 15 but 20.", [("15", "ruled_out"), ("20", "answer")]),
        ("Overall, 7 students scored above 80.", [("7", "answer"), ("80", "qualifier")]),
        ("the smallest is 18 since 12 is a label.", [("18", "answer"), ("12", "secondary")]),
    ],
)
def test_each_value_has_its_role(sentence: str, expected: list[tuple[str, str]]) -> None:
    assert _roles(sentence) == expected


@pytest.mark.parametrize(
    ("sentence", "value"),
    [
        ("so it took forty-five minutes.", "45"),
        ("the bag weighs two and a half kilograms.", "2.5"),
        ("which is negative three.", "-3"),
        ("The fraction shaded is two-thirds.", "2/3"),
        ("at one thousand two hundred fifty.", "1250"),
        ("there are no objects left.", "0"),
        ("so the ratio is 3 to 4.", "3/4"),
        ("The probability is 1 in 6.", "1/6"),
        ("the shaded region has an area of 18π − 36.", "18π − 36"),
        ("The diagonal works out to $\\sqrt{12}$.", "√12"),
        ("at roughly 3.2 million.", "3.2"),
    ],
)
def test_the_final_value_is_read_in_any_spelling(sentence: str, value: str) -> None:
    claim = final_claim(sentence)
    assert claim is not None and claim.text == value


def test_times_and_ordinals_are_not_ratios_or_answers() -> None:
    assert final_claim("The race ended at 3:00, so it took forty-five minutes.").text == "45"
    assert final_claim("The red bar is the third one from the left.") is None


@pytest.mark.parametrize(
    ("sentence", "word"),
    [
        ("Cyan is at 42, below 50, so I would say no.", "no"),
        ("The statement is false.", "no"),
        ("Reflecting the left half does not give the right half.", "no"),
        ("nope", "no"),
        ("so the square's area is larger.", None),  # affirms the question or its opposite
        ("Hard to tell from the plot.", None),
        ("It is not possible to tell from this image.", None),
    ],
)
def test_the_verdict_of_a_yes_no_closing(sentence: str, word: str | None) -> None:
    assert verdict_word(sentence) == word


def test_a_closing_statement_names_one_choice_by_its_text() -> None:
    choices = ["parallel", "perpendicular", "intersecting but not perpendicular", "skew"]
    assert choice_named("so they are perpendicular to each other.", choices) == "B"
    assert choice_named("they are neither parallel nor skew.", choices) is None
    assert choice_named("so it is not perpendicular.", choices) is None


def _judge(response: str, gold: str, **fields: object) -> tuple[str, str, str]:
    verdict = judge(response, gold, **fields)  # type: ignore[arg-type]
    return verdict.outcome, verdict.rule, verdict.extracted


@pytest.mark.parametrize(
    ("response", "gold"),
    [
        (
            "From 2y + 3 = 13, so 2y = 10.\n\nDividing both sides by 2, we find that y comes out "
            "to 5.",
            "5",
        ),
        ("Putting everything together, the shaded region has an area of 18π − 36.", "18\\pi-36"),
        (
            "Sales went from 80 to 100. The increase is 20, and 20/80 = 0.25, a 25 percent "
            "increase.",
            "25",
        ),
        ("The number of cylinders that are left is 3", "3"),  # ends on its value
        ("The area is 5 × 10 = 50 square units. Hope this helps! 🙂", "50"),
        ("The perimeter is 36. This is because each of the four sides is 9.", "36"),
    ],
)
def test_a_prose_conclusion_that_asserts_the_gold_is_accepted(response: str, gold: str) -> None:
    assert _judge(response, gold)[0] == "correct"


@pytest.mark.parametrize(
    ("response", "gold"),
    [
        # the gold only in a restatement, in the arithmetic, or beside a different final value
        ("Since AB = 10 is the diameter, the radius is 5.", "10"),
        ("The two angles are complementary: x + 30 = 90, hence x is 60.", "30"),
        ("The exterior angle is 50° + 60° = 110°, so x = 110.", "50"),
        ("Out of 4 cylinders, 2 are red; after removing the red ones, 6 objects are left.", "4"),
        ("The bars are 12, 18, 25 and 30; the smallest one is 18 since 12 is a label.", "12"),
        ("Checking the options, x is not 15 but 20.", "15"),
        ("x = 10.\n\nExplanation: the triangles are similar, and 8 × 3/2 = 12.", "12"),
        ("Hard to say exactly because some overlap; maybe 8, maybe 9.", "9"),
    ],
)
def test_an_incidental_mention_of_the_gold_is_not_accepted(response: str, gold: str) -> None:
    assert _judge(response, gold)[0] != "correct"


def test_a_clean_first_reading_is_not_overridden_by_a_later_value() -> None:
    # the lone-variable rule reads x; the claims would take 10: the first reading stands
    response = "**Therefore,** $x = 5$, and $AB = BC = 10$."
    assert _judge(response, "5")[0] == "correct"
    assert _judge(response, "10")[0] == "wrong"


def test_a_different_claimed_value_leaves_no_answer_as_it_was() -> None:
    outcome, rule, extracted = _judge(
        "Let me compute each bar.\n\n1. The first bar is 20.\n2. The second bar is 35.", "35"
    )
    assert (outcome, rule, extracted) == ("no_answer", "none", "")


def test_the_claims_verdict_keeps_its_reason() -> None:
    verdict = judge(
        "The two lines form a 90° angle where they cross, so they are perpendicular to each other.",
        "B",
        choices=["parallel", "perpendicular", "skew", "none"],
    )
    assert verdict.outcome == "correct" and verdict.rule == "claim"
    assert "the one choice the closing statement names" in verdict.reason
    assert "is no clean answer" in verdict.reason  # the first reading, '90', is named


def test_a_computation_cut_inside_display_math_is_no_answer() -> None:
    response = (
        "From the proportion,\n$$\n\\frac{x}{8} = \\frac{9}{6}\n$$\nso\n$$\nx = "
        "\\frac{9 \\cdot 8}{6}"
    )
    assert _judge(response, "12")[0] == "no_answer"
    assert _judge("Blue: 32\nOrange: 25\nSum: 32 + 25", "57")[0] == "no_answer"


SHAPES = ["triangle", "hexagon", "octagon", "square"]


@pytest.mark.parametrize(
    ("sentence", "letter"),
    [
        ("The octagon has 8 sides, two more than the hexagon's 6.", "C"),
        ("So the square comes out ahead of the triangle.", "D"),
        ("The hexagon has more sides compared with the square.", "B"),
        # two named, neither compared with: none
        ("The octagon and the hexagon both have even sides.", None),
    ],
)
def test_a_choice_it_is_compared_with_is_not_the_one_named(
    sentence: str, letter: str | None
) -> None:
    assert choice_named(sentence, SHAPES) == letter


def test_the_named_choice_beside_a_comparison_decides() -> None:
    said = "The octagon has 8 sides, two more than the hexagon's 6."
    right = judge(said, "C", choices=SHAPES, question="Which shape has the most sides?")
    assert (right.outcome, right.extracted, right.rule) == ("correct", "C", "claim")
    # the claims only verify the gold: another choice leaves the response unanswered
    assert judge(said, "B", choices=SHAPES).outcome == "no_answer"


BISECTED = "Because AC bisects the 70° angle, each half measures thirty-five degrees."


@pytest.mark.parametrize(("gold", "outcome"), [("35", "correct"), ("70", "wrong")])
def test_a_first_reading_that_only_qualifies_a_noun_gives_way_to_the_claims(
    gold: str, outcome: str
) -> None:
    verdict = judge(BISECTED, gold)
    assert (verdict.outcome, verdict.extracted, verdict.rule) == (outcome, "35", "claim")
    assert "the first reading '70' (conclusion) is no clean answer" in verdict.reason


def test_a_list_label_is_no_claimed_value() -> None:
    unsure = "Candidates:\n1. red\n2. blue\n3. green\nI am not sure which to count."
    assert judge(unsure, "3", question="How many colors are used?").outcome == "no_answer"
