"""The rule-based phrase extractor, on questions from each domain."""

from __future__ import annotations

import pytest

from cuekit.cues import phrases as phrases_module
from cuekit.cues.latex import read_math
from cuekit.cues.phrases import (
    ADJECTIVES,
    STOPWORDS,
    PhraseExtractor,
    RulePhraseExtractor,
    get_phrase_extractor,
    phrase_extractor_names,
    register_phrase_extractor,
)
from cuekit.errors import ConfigError
from cuekit.schemas import Phrase

CASES = [
    # geometry
    (
        "In triangle ABC, AB = 3 and angle ABC = 35°. Find the length of AC.",
        ["triangle ABC", "AB", "angle ABC", "AC"],
    ),
    (
        "As shown in the figure, AB is the diameter of circle O, and point C is on circle O. "
        "If ∠ABC = 40°, then the measure of ∠BAC is ()",
        ["AB", "diameter", "circle O", "point C", "angle ABC", "angle BAC"],
    ),
    ("Find m∠1 if angle 1 and angle 2 are supplementary.", ["angle 1", "angle 2"]),
    ("Find x. Round to the nearest tenth.", ["x"]),
    (
        "A rectangle has sides 3 and 4. What is the area of the shaded region?",
        ["rectangle", "sides", "shaded region"],
    ),
    # charts
    (
        "What is the difference between the tallest bar and the shortest bar?",
        ["tallest bar", "shortest bar"],
    ),
    ("In which year did the blue line reach its peak?", ["blue line"]),
    ("What is the value of the largest bar in the bar chart?", ["largest bar"]),
    ("Which country has the highest GDP per capita?", ["country", "GDP", "capita"]),
    # scenes
    ("How many red circles are to the left of the blue square?", ["red circles", "blue square"]),
    (
        "How many objects are either small cylinders or red things?",
        ["objects", "small cylinders", "red things"],
    ),
    # generic VQA
    ("What is the man holding in his left hand?", ["man", "left hand"]),
    ("Is the woman to the left or right of the car?", ["woman", "car"]),
    ("What is the man's hat made of?", ["man", "hat"]),
    # multiple choice: markers and the choices section are not read
    (
        "Hint: Please answer the question and provide the correct option letter, e.g., A, B, "
        "C, D, at the end.\nQuestion: Which bar is taller, the red bar or the green bar?\n"
        "Choices:\n(A) the red bar\n(B) the green bar",
        ["bar", "red bar", "green bar"],
    ),
    ("Which polygon is drawn in red?\nA. a hexagon\nB. a pentagon", ["polygon"]),
    ("Which animal is on the sofa? (A) the dog (B) the cat", ["animal", "sofa"]),
    ("Is (A) on the left of point B?", ["point B"]),
]

# Read by kind (issue 15, sets D and E): question -> phrases.
BY_KIND = {
    # a noun before a LaTeX figure is its own phrase; an adjective joins the figure
    r"Find $x$ if the bisector $\overline{CE}$ meets $AB$.": ["x", "bisector", "segment CE", "AB"],
    r"In isosceles $\triangle DEF$, find $y$.": ["isosceles triangle DEF", "y"],
    # Greek angle names, a variable glued to its coefficient, a function glued to a label
    r"Find $\tan \beta$ in the right triangle.": ["β", "right triangle"],
    "If $QR = 4b + 1$, find $b$.": ["QR", "b"],
    "In the figure, cosB = 0.6. Find AC.": ["B", "AC"],
    # a letter naming a line; line "c" and point "C" are two things
    "The line a meets the line c at point C.": ["line a", "line c", "point C"],
    # a relation as a predicate; a point that is a position, or drawn
    "The two rays are tangent. Find the angle.": ["rays", "angle"],
    "Which cube is in the center of the image?": ["cube"],
    "The circle has center O and radius 4.": ["circle", "center O", "radius"],
    # statistics of values against a drawn median
    "What is the mean of the values of the red bars?": ["red bars"],
    # who answered a survey; the options the question weighs; a category's name
    "How many voters prefer the candidate shown in green?": ["candidate"],
    "Is the share of Democrats who approve of the plan higher than that of Independents?": [
        "Democrats",
        "Independents",
    ],
    "Is the tree taller or shorter than the house?\n(A) taller\n(B) house": ["tree"],
    "How many people like the item pen?": ["pen"],
    # a function question: its signature, what is asked, how it changes
    "Is the function (g: R to R) surjective?": ["function"],
    "What is the limit as x approaches 2 of the green curve?": ["x", "green curve"],
    "Find the axis of symmetry of the parabola shown.": ["parabola"],
    # a story around a table, and how to answer
    "Maya tracked how many books she read each month. Which month had most?": [
        "Maya",
        "books",
        "month",
    ],
    "What time is it? Answer by writing the hour word.": [],
    # how far / how high asks for a measure; a name before a measure word is kept
    "How far is the boat from the lighthouse?": ["boat", "lighthouse"],
    "When did sales of Brazil peak?": ["sales", "Brazil"],
    "How many lines have positive Growth Rates?": ["lines", "Growth Rates"],
}
CASES += list(BY_KIND.items())


@pytest.mark.parametrize(("question", "expected"), CASES)
def test_extracts_expected_phrases_with_exact_spans(question: str, expected: list[str]) -> None:
    phrases = RulePhraseExtractor()(question)
    assert [p.text for p in phrases] == expected
    for phrase in phrases:
        assert isinstance(phrase, Phrase)
        # The span is the phrase's source; math symbols in it read as the phrase's words.
        assert " ".join(read_math(question[phrase.start : phrase.end]).text.split()) == phrase.text
    starts = [p.start for p in phrases]
    assert starts == sorted(starts)


@pytest.mark.parametrize(("question", "_"), CASES)
def test_no_phrase_is_a_stopword_a_bare_adjective_or_a_number(question: str, _: list) -> None:
    for phrase in RulePhraseExtractor()(question):
        words = phrase.text.lower().split()
        assert phrase.text.lower() not in STOPWORDS
        assert not all(w in ADJECTIVES for w in words)
        assert not phrase.text.replace(".", "").isdigit()


def test_choice_letters_and_markers_are_not_phrases() -> None:
    question = "Which point is the center?\n(A) A\n(B) B\nChoices: C. O"
    assert [p.text for p in RulePhraseExtractor()(question)] == ["point"]


def test_sentence_initial_article_a_is_not_a_point_label() -> None:
    texts = [p.text for p in RulePhraseExtractor()("A circle passes through A and B.")]
    assert texts == ["circle", "A", "B"]


def test_deduplicates_case_insensitively_keeping_the_first() -> None:
    phrases = RulePhraseExtractor()("The Red bar is taller than the red bar next to the red Bar.")
    assert [(p.text, p.start) for p in phrases] == [("Red bar", 4)]


def test_caps_the_number_of_phrases() -> None:
    question = " and ".join(f"point {chr(ord('A') + i)}" for i in range(20))
    phrases = RulePhraseExtractor(max_phrases=5)(question)
    assert [p.text for p in phrases] == ["point A", "point B", "point C", "point D", "point E"]
    assert len(RulePhraseExtractor()(question)) == 12


def test_is_deterministic() -> None:
    question = CASES[1][0]
    runs = [RulePhraseExtractor()(question) for _ in range(3)]
    assert runs[0] == runs[1] == runs[2]


def test_rejects_a_non_positive_cap() -> None:
    with pytest.raises(ValueError, match="max_phrases must be at least 1, got 0"):
        RulePhraseExtractor(max_phrases=0)


def test_registry_returns_the_rules_extractor_and_accepts_new_ones(monkeypatch) -> None:
    # Register into a copy so other tests see the stock registry.
    monkeypatch.setattr(phrases_module, "_EXTRACTORS", dict(phrases_module._EXTRACTORS))
    extractor = get_phrase_extractor("rules")
    assert isinstance(extractor, RulePhraseExtractor)
    assert isinstance(extractor, PhraseExtractor)
    assert extractor.name == "rules"

    class Whole:
        name = "whole-question"

        def __call__(self, question: str) -> list[Phrase]:
            return [Phrase(text=question, start=0, end=len(question))]

    register_phrase_extractor("whole-question", Whole)
    assert "whole-question" in phrase_extractor_names()
    assert get_phrase_extractor("whole-question")("a cat") == [Phrase(text="a cat", start=0, end=5)]


def test_unknown_extractor_names_the_choices() -> None:
    with pytest.raises(
        ConfigError, match=r"unknown phrase extractor 'nltk'; choose one of: .*rules"
    ):
        get_phrase_extractor("nltk")


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What number is written on the cross?", ["cross"]),
        ("Is the red cross larger than the star?", ["red cross", "star"]),
        ("Which shape is directly left of a mark?", ["mark"]),
        ("Lines AB and CD cross at point P.", ["Lines", "AB", "CD", "point P"]),
    ],
)
def test_verb_nouns_are_nouns_after_a_determiner_only(question: str, expected: list[str]) -> None:
    assert [p.text for p in get_phrase_extractor()(question)] == expected


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        # who answered a survey and a statistic of a series are not drawn
        ("What percentage of people like the most popular fruit?", ["most popular fruit"]),
        ("How many apps are used by 40 percent of users?", ["apps"]),
        ("Is Pale Green the low median?", ["Pale Green"]),
        # a superlative with its participle
        ("Which is the least visited city?", ["least visited city"]),
        # a drawn measure, and a measure word that modifies a noun
        ("The pyramid has a slant height of 5. Find its height.", ["pyramid", "slant height"]),
        ("Which age group is the largest?", ["age group"]),
        ("How many colors does the flag have?", ["flag"]),
        ("How many purple shapes are there?", ["purple shapes"]),  # things, not a measure
        # a relation, not a thing; a run that describes the picture; participles
        ("Line PQ is tangent to circle O at point Q.", ["Line PQ", "circle O", "point Q"]),
        ("Find the area of the irregular figure.", []),
        ("What is the period of the sine curve plotted?", ["sine curve"]),
        # a plural list head before names, and a bare noun after its labelled mention
        (
            "Compare the scores of the teams lions and tigers.",
            ["scores", "teams", "lions", "tigers"],
        ),
        ("The graph shows the function h. Where is the function increasing?", ["function h"]),
    ],
)
def test_reads_chart_and_survey_semantics(question: str, expected: list[str]) -> None:
    phrases = get_phrase_extractor()(question)
    assert [p.text for p in phrases] == expected
    assert all(question[p.start : p.end] == p.text for p in phrases)
