"""What the question asks, as a grader uses it to read a response.

The question text is optional; without it ``judge`` reads responses as before. With it:

- **the asked variable** ("Find $x$.", "Find the value of the variable y in the
  figure."): a response that solves for several variables ("So $y = 18$, with $x = 9$",
  "x = 42, y = 138, z = 16", "x = 4 ... Each side is then x + 6 = 10") is read for the
  one asked (``asked_variable``, ``assigned_value``);
- **a yes/no question answered by a statement** ("Are the lines parallel?" answered
  "The two lines are parallel."): a statement that restates the question's proposition
  affirms it; negated, or with the opposite comparison ("more" for "less"), it denies it
  (``statement_verdict``);
- **the subject of a restated "Which ...?" question** ("Which object is farthest to the
  left?" answered "The cube is farthest to the left."): the words before the restated
  predicate (``restated_subject``).
"""

from __future__ import annotations

import re
from fractions import Fraction

from cuekit.answers.normalize import strip_math_delimiters
from cuekit.answers.reading import NUMBER_WORDS
from cuekit.number_words import spelled_number

__all__ = [
    "about_another_quantity",
    "asked_colour",
    "clause_value",
    "filled_blank",
    "labelled_value",
    "stated_precision",
    "asked_subject",
    "asked_time",
    "asked_variable",
    "assigned_value",
    "assignments",
    "counted",
    "counted_sum",
    "is_measure",
    "is_yes_no_question",
    "named_scale",
    "names_subject",
    "names_variable",
    "question_text",
    "restated_subject",
    "acting_subject",
    "restates",
    "sides_verdict",
    "statement_verdict",
    "stated_value",
    "superlative_named",
    "unasked_value",
    "year_value",
]

# "Find $x$.", "Solve for y", "Find the value of the variable $y$ in the figure.", "Find
# x so that m ∥ n.", "Find $x$ to the nearest tenth."; not "Find m∠2" or "Find a formula".
_ASKED = re.compile(
    r"^\W*(?:find|solve\s+for|determine|calculate|compute|what\s+is)\s+(?:the\s+value\s+of\s+)?"
    r"(?:the\s+(?:variable|unknown)\s+)?\$?\s*([a-z])\s*\$?(?=\s*(?:[.?,:;]|$|\s+(?:in|so|to|if|"
    r"when|for|given|using|such|\()\b))",
    re.IGNORECASE,
)
# A value a variable is set to: a number, fraction, root or multiple of π, that ends
# where the expression ends (not "x = 3 + y").
_VALUE = (
    r"[-−]?\s?(?:\\frac\{\d+\}\{\d+\}|(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
    r"(?:\s?(?:\\sqrt(?:\{\d+\}|\d+)|√\s?\d+|\\pi|π))?|\\sqrt(?:\{\d+\}|\d+)|√\s?\d+)"
    r"(?:\s?/\s?\d+(?![\d.]))?"
)
_AFTER_VALUE = (
    r"(?![.,]?\d)(?!\s*(?:[-+/^×·]|\*(?!\*)|\\(?:times|cdot|div|frac|sqrt|sin|cos|tan|log|ln)\b"
    r"|(?:sin|cos|tan|log|ln)\b))"
)
_YES_NO_START = re.compile(
    r"^\W*(?:is|are|was|were|does|do|did|can|could|has|have|had|will|"
    r"would|should|must)\b",
    re.IGNORECASE,
)
_STOP = frozenset(
    """a an the of in on at to for by with from and or is are was were be
    been does do did can could has have had will would should must this that these those it
    its there their than as into number value any all each one both""".split()
)
# Pairs of kinds: what is one is not the other ("three, an odd number" for "even?").
_KIND_PAIRS = {
    "even": "odd",
    "odd": "even",
    "positive": "negative",
    "negative": "positive",
    "vertical": "horizontal",
    "horizontal": "vertical",
    "convex": "concave",
    "concave": "convex",
    "acute": "obtuse",
    "obtuse": "acute",
    "inside": "outside",
    "outside": "inside",
}
# Comparisons with their opposites: a statement of the opposite one denies the question.
_OPPOSITE = {
    "less": "more greater larger higher bigger",
    "fewer": "more greater larger higher",
    "smaller": "larger bigger greater more higher",
    "lower": "higher greater larger more",
    "shorter": "longer taller",
    "more": "less fewer smaller lower",
    "greater": "less fewer smaller lower below under",
    "larger": "smaller less lower fewer",
    "higher": "lower less smaller",
    "bigger": "smaller less",
    "longer": "shorter",
    "taller": "shorter",
    "maximum": "minimum",
    "minimum": "maximum",
    "highest": "lowest smallest least",
    "lowest": "highest largest greatest most",
    "largest": "smallest lowest least",
    "smallest": "largest highest greatest most",
    "most": "least fewest",
    "least": "most",
    "increasing": "decreasing",
    "decreasing": "increasing",
    "above": "below",
    "below": "above",
    "equal": "different unequal",
    "same": "different unequal",
    **_KIND_PAIRS,
}
_NEGATED = re.compile(
    r"\b(?:not|never|no\s+longer|neither|nor)\b|n't\b|\bno\s+(?!doubt\b)\w+", re.IGNORECASE
)
_DOUBT = re.compile(
    r"\b(?:may|might|could|unclear|uncertain|possibly|perhaps|maybe|hard\s+to|"
    r"cannot(?!\s+be\b)|can't(?!\s+be\b)|unable|if|whether)\b|\?",
    re.IGNORECASE,
)


def _plain_question(question: str) -> str:
    """The question itself: without image placeholders ("<image>Find x."), math
    delimiters, and the prompt around it that MathVista's query and MathVerse add
    ("Hint: Please answer ...\nQuestion: ...", "Choices: A: ...")."""
    text = re.sub(r"<image\s*\d*>", " ", question)
    text = re.sub(r"^\s*Hint:[^\n]*\n", "", text)
    text = re.sub(r"^\s*Question:\s*", "", text)
    text = re.split(r"\s*\bChoices\s*:", text)[0]
    # "True or false: the median is greater than the mean." asks whether it is
    text = re.sub(r"^\W*true\s+or\s+false\W*(.*?)\W*$", r"Is \1?", text, flags=re.I | re.S)
    return strip_math_delimiters(text).strip()


def question_text(question: str | None) -> str:
    """The question itself, as the readings here see it (``_plain_question``)."""
    return _plain_question(question or "")


def asked_variable(question: str | None) -> str | None:
    """The single-letter variable the question asks for, or None."""
    if not question:
        return None
    found = _ASKED.match(_plain_question(question))
    if found is None:  # "AB = 6, ... DC = x. Find x.": the question's last sentence asks
        sentences = re.split(r"(?<=[.?!])\s+", _plain_question(question).strip())
        found = _ASKED.match(sentences[-1]) if len(sentences) > 1 else None
    if found is None:  # "Find x and y. What is x?"
        found = re.search(r"\bwhat\s+is\s+([a-z])\s*\?\s*$", _plain_question(question), re.I)
    return found.group(1) if found else None


def assignments(text: str, variable: str) -> list[re.Match[str]]:
    """Every "x = 25" (or "x=25°", or "x = 2(3) + 4 = 10" with its working) in ``text``,
    in order; not "2x = 50" nor "x = 3y"."""
    pattern = (
        r"(?<![\w\\])"
        + re.escape(variable)
        + r"\s*=\s*\$?\s*"
        # "z = \sqrt{4 \cdot 9} = 6": a chain of working, then its value
        + r"(?:(?:\\[a-z]+|\^\\circ|[\d \t+\-−*/^×·(){}√π°]|(?:sin|cos|tan)\b|\.(?=\d)){1,40}"
        + r"(?:=|≈|\\approx)\s*\$?\s*)*("
        + _VALUE
        + r")"
        + _AFTER_VALUE
        + r"(?![\w])"
    )
    return list(re.finditer(pattern, _spelled_assignment(text, variable).replace("\\,", "")))


def _spelled_assignment(text: str, variable: str) -> str:
    """ "x equals six" as "x = 6": a value in words assigned to the variable."""

    def as_digits(match: re.Match[str]) -> str:
        spelled = spelled_number(match.group(2))
        if spelled is None or spelled[1]:
            return match.group()
        return f"{match.group(1)} = {spelled[0]}"

    return re.sub(
        r"(?<![\w\\])(" + re.escape(variable) + r")\s+(?:equals|is)\s+([a-z]+(?:[-\s][a-z]+){0,4}?)"
        r"(?=[\s.,;!]|$)",
        as_digits,
        text,
    )


def assigned_value(text: str, variable: str) -> str | None:
    """The value of the last assignment to ``variable`` in ``text``, or None."""
    found = assignments(text, variable)
    return found[-1].group(1).strip() if found else None


def names_variable(text: str, variable: str) -> bool:
    """``text`` states a value for ``variable`` ("x = ...", "x is ...", "value of x")."""
    return (
        re.search(
            r"(?<![\w\\])" + re.escape(variable) + r"\$?\s*(?:=|≈|\\approx|is\b|equals\b|"
            r"measures\b|(?:must|should|would|will|has\s+to|can\s+only)\s+be\b)"
            r"|\bof\s+\$?" + re.escape(variable) + r"(?![\w])",
            text,
        )
        is not None
    )


def is_yes_no_question(question: str | None) -> bool:
    return bool(question) and _YES_NO_START.match(_plain_question(question or "")) is not None


def _words(text: str) -> list[str]:
    return re.findall(
        r"[a-z]+|\d+(?:\.\d+)?", strip_math_delimiters(text).lower().replace("**", "")
    )


def _sides(words: list[str]) -> tuple[set[str], set[str]] | None:
    """The content words before and after "than", or None without it."""
    if "than" not in words:
        return None
    at = words.index("than")
    return (
        {w for w in words[:at] if w not in _STOP},
        {w for w in words[at + 1 :] if w not in _STOP},
    )


def statement_verdict(sentence: str, question: str | None) -> str | None:
    """ "yes" or "no" when ``sentence`` states the proposition of the yes/no ``question``:
    it shares most of the question's content words and its last one (the predicate:
    "parallel", "red", "roughest"); a comparison keeps its sides ("fewer boys than girls"
    for "more boys than girls?"). Negated, or with the opposite comparison word, it
    denies the question. None when it is not that proposition or voices doubt."""
    if not is_yes_no_question(question) or _DOUBT.search(sentence):
        return None
    clause = re.split(
        r"\b(?:so|therefore|thus|hence|which\s+means)\b|→|⇒|=>", sentence, flags=re.IGNORECASE
    )[-1]
    clause = _comparisons(clause)
    through = (
        _on_the_line(clause, question or "")
        or _equality(clause, question or "")
        or _beaten(clause, question or "")
        or _against_number(sentence, question or "")
        or _by_measure(clause, question or "")
        or _by_slopes(clause, question or "")
    )
    if through is not None:
        return through
    plain_question = _comparisons(_plain_question(question or ""))
    renamed = _renamed_subject(clause, plain_question)
    if renamed is not None:
        return renamed
    words = _words(
        re.sub(
            r"\s+(?:in|of|on)\s+the\s+(?:picture|image|photo|figure|diagram|"
            r"chart|graph|plot)\W*$",
            "?",
            plain_question,
        )
    )
    words = [_SAME_WAY.get(w, w) for w in words]
    asked = [w for w in words if w not in _STOP]
    said = [_SAME_WAY.get(w, w) for w in _words(clause)]
    said_set = set(said)
    if len(asked) < 2:
        return None
    compared = [a for a in asked if a in _OPPOSITE]
    flipped = {w for a in compared for w in _OPPOSITE[a].split() if w not in asked}
    opposite = bool(flipped & said_set)
    if opposite and said_set & set(compared) & set(
        _KIND_PAIRS
    ):  # "acute, not obtuse": which is denied
        denied = re.search(r"\b(?:not|never)\s+(?:an?\s+|the\s+)?(\w+)", clause, re.IGNORECASE)
        word = _SAME_WAY.get(denied.group(1).lower(), denied.group(1).lower()) if denied else ""
        return "no" if word in compared else "yes" if word in flipped else None
    if compared and not opposite and not said_set & set(compared):
        return None  # the question compares; the statement does not
    if not [a for a in asked if a in _OPPOSITE] and re.search(
        r"\b(?:than|almost|nearly|close\s+to|not\s+quite|like|approaching)\s+(?:\w+\s+){0,2}"
        + re.escape(asked[-1]),
        strip_math_delimiters(clause),
        re.IGNORECASE,
    ):
        return None  # "slightly less than a right angle" does not say it is one
    present = [w in said_set or (w in compared and opposite) for w in asked]
    sides, said_sides = _sides(words), _sides(said)
    if sides is not None and said_sides is None and compared:
        # "so Web Green is smaller" for "Is Web Green greater than Dark Cyan?": the
        # question's left side compared, its right side left out
        shared = sides[0] & sides[1]
        left, right = sides[0] - set(compared) - shared, sides[1] - shared
        negated = _NEGATED.search(strip_math_delimiters(clause)) is not None
        if left and left <= said_set and not right & said_set:
            return "no" if negated != opposite else "yes"
        if right and right <= said_set and not left & said_set:  # "the square is bigger"
            return "yes" if negated != opposite else "no"
        return None
    if not present[-1] and sum(present[:-1]) >= max(1, round(0.6 * (len(asked) - 1))):
        other = _other_attribute(asked[-1], said_set)
        if (
            other is not None
            and said[-1] == other  # its predicate: "... is green.", not "the blue cube"
            and not _NEGATED.search(strip_math_delimiters(clause))
        ):
            return "no"  # "The object in front of the cube is green." for "... red?"
    if sum(present) < max(2, round(0.6 * len(asked))) or not present[-1]:
        return None
    if sides is not None:  # "Is A less than B?": A stays before "than", B after it
        shared = sides[0] & sides[1]
        left, right = sides[0] - set(compared) - shared, sides[1] - shared
        if said_sides is None:
            return None
        swapped = (
            left & said_sides[1]
            and right & said_sides[0]
            and not left & said_sides[0]
            and not right & said_sides[1]
        )
        if swapped:  # "the blue one is shorter than the red" for "is red longer than blue?"
            opposite = not opposite
        elif (
            not left & said_sides[0]
            or not right & said_sides[1]
            or left & said_sides[1]
            or right & said_sides[0]
        ):
            return None
    negated = _NEGATED.search(strip_math_delimiters(clause)) is not None
    return "no" if negated != opposite else "yes"


# Closed classes of attributes: a thing that is one of them is none of the others.
_ATTRIBUTES = (
    frozenset(
        "red orange yellow green blue purple violet pink brown black white gray grey cyan "
        "magenta gold silver teal".split()
    ),
    frozenset("large big small tiny".split()),
    frozenset("metal metallic rubber matte shiny".split()),
    frozenset("cube sphere cylinder cone pyramid prism ball block".split()),
)


def _other_attribute(asked: str, said: set[str]) -> str | None:
    """The one other attribute of the asked one's class that a statement gives ("green"
    for "red?"), else None."""
    for kind in _ATTRIBUTES:
        if asked in kind:
            others = (said & kind) - {asked} - ({"gray", "grey"} if asked in "grey gray" else set())
            return others.pop() if len(others) == 1 and asked not in said else None
    return None


# Verbs of comparison, as the comparison words the questions use: "the sum exceeds the
# largest bar" states "the sum is greater than the largest bar".
_COMPARISON_VERBS = (
    (r"\b(?:exceed(?:s|ed)?|surpass(?:es|ed)?|outnumbers?|outnumbered)\b", "is greater than"),
    (r"\b(?:does|do|did)\s+not\s+(?:exceed|surpass|outnumber)\b", "is not greater than"),
    (r"\bfalls?\s+short\s+of\b|\bfell\s+short\s+of\b", "is less than"),
    (
        r"\b(?:rises|rising|rose|grows|growing|grew|climbs|climbing|climbed|goes\s+up|went\s+up"
        r"|increases)\b",
        "is increasing",
    ),
    (
        r"\b(?:falls(?!\s+short)|falling|fell(?!\s+short)|drops|dropping|dropped|declines|declining|declined"
        r"|goes\s+down|went\s+down|decreases)\b",
        "is decreasing",
    ),
)


# What a kind of angle measures, in degrees: "right" is 90, "acute" below it, ...
_ANGLE_KINDS = {
    "right": lambda x: x == 90,
    "acute": lambda x: 0 < x < 90,
    "obtuse": lambda x: 90 < x < 180,
    "straight": lambda x: x == 180,
    "reflex": lambda x: 180 < x < 360,
}


def _by_measure(clause: str, question: str) -> str | None:
    """Yes/no for "Is angle ABC a right angle?" or "Are the lines perpendicular?" answered
    by the one angle the clause measures ("∠ABC = 90°", "they meet at 75°")."""
    plain_question = _plain_question(question)
    kind = re.search(r"\b(right|acute|obtuse|straight|reflex)\s+angle\b", plain_question, re.I)
    perpendicular = re.search(r"\bperpendicular\b", plain_question, re.IGNORECASE)
    # "looks like 90° but the markings show it is 88°": what it concludes after "but"
    clause = re.split(r"\b(?:but|however|yet)\b", clause, flags=re.IGNORECASE)[-1]
    measures = re.findall(
        r"(?<![\d.])(\d+(?:\.\d+)?)\s*(?:°|\^\s*\{?\\circ\}?|\s+degrees?\b)",
        strip_math_delimiters(clause),
    )
    if len(set(measures)) != 1 or (kind is None and perpendicular is None):
        return None
    value = float(measures[0])
    fits = _ANGLE_KINDS[kind.group(1).lower()](value) if kind else value == 90
    return "yes" if fits else "no"


_SLOPE = r"(-?\d+(?:\.\d+)?(?:/[1-9]\d*)?)"  # "2", "-1/2", "0.5"; no "/0"


def _by_slopes(clause: str, question: str) -> str | None:
    """Yes/no for "Are the lines perpendicular / parallel?" answered by the slopes ("the
    slopes are 2 and -1/2") or their product ("their product is 1 rather than −1"):
    perpendicular when the product is −1, parallel when the slopes are equal."""
    relation = re.search(r"\b(perpendicular|parallel)\b", _plain_question(question), re.I)
    if relation is None:
        return None
    plain = strip_math_delimiters(clause).replace("−", "-")
    product = re.search(r"\bproduct\b[^.;]*?\b(?:is|=|equals)\s+" + _SLOPE, plain, re.I)
    slopes = re.search(r"\bslopes\s+(?:are|of)\s+" + _SLOPE + r"\s+and\s+" + _SLOPE, plain, re.I)
    perpendicular = relation.group(1).lower() == "perpendicular"
    if perpendicular and product is not None:
        return "yes" if Fraction(product.group(1)) == -1 else "no"
    if slopes is None:
        return None
    first, second = Fraction(slopes.group(1)), Fraction(slopes.group(2))
    fits = first * second == -1 if perpendicular else first == second
    return "yes" if fits else "no"


def _against_number(clause: str, question: str) -> str | None:
    """Yes/no for "Is the perimeter greater than 20?" answered "P = 22 > 20": the
    response's value against the number the question compares with."""
    asked = re.search(
        r"\b(greater|more|larger|higher|less|fewer|smaller|lower)\s+than\s+(\d+(?:\.\d+)?)",
        _plain_question(question),
        re.IGNORECASE,
    )
    said = re.search(
        r"(\d+(?:\.\d+)?)\s*(>|<)\s*(\d+(?:\.\d+)?)\W*$", strip_math_delimiters(clause)
    )
    if asked is None or said is None or said.group(3) != asked.group(2):
        return None
    up = asked.group(1).lower() in ("greater", "more", "larger", "higher")
    return "yes" if (said.group(2) == ">") == up else "no"


def _equality(clause: str, question: str) -> str | None:
    """Yes/no for "Is the number of X equal to the number of Y?" stated of both ("so they
    are equal", "the same number", "the two counts differ"); None otherwise."""
    # "congruent", "identical": the same in every measure, so measures that differ deny it
    if not re.search(
        r"\b(?:equal\s+to|the\s+same\s+as|congruent|identical)\b", question, re.IGNORECASE
    ):
        return None
    plain = strip_math_delimiters(clause)
    number = re.search(r"\bequal\s+to\s+(\d+(?:\.\d+)?)", question, re.IGNORECASE)
    stated = re.findall(r"\b(?:is|equals|=)\s*(\d+(?:\.\d+)?)", plain)
    if number is not None and stated:  # "their sum is 180°" for "equal to 180 degrees?"
        return "yes" if float(stated[-1]) == float(number.group(1)) else "no"
    if re.search(
        r"\b(?:they|both|the\s+two|the\s+counts|the\s+numbers)\b[^.]{0,20}?\b(?:are|is)\s+"
        r"(?:not\s+equal|different|unequal)\b|\b(?:differs?(?!\s+only\b)|are\s+not\s+the\s+same)\b",
        plain,
        re.IGNORECASE,
    ):
        return "no"
    if _NEGATED.search(plain):
        return None
    if re.search(
        r"\b(?:they|both|the\s+two|the\s+counts|the\s+numbers)\b[^.]{0,20}?\b(?:are|is)\s+"
        r"(?:equal|the\s+same)\b|\bthe\s+same\s+(?:number|count|amount)\b",
        plain,
        re.IGNORECASE,
    ):
        return "yes"
    return None


# Comparison words that say the same: "fewer" is "less", "bigger" is "greater".
_SAME_WAY = {
    "fewer": "less",
    "smaller": "less",
    "lower": "less",
    "bigger": "greater",
    "larger": "greater",
    "higher": "greater",
    "more": "greater",
}
# Relations written as symbols: "△ABC ~ △DEF", "AB ∥ CD", "35 < 60".
_SYMBOLS = (
    (r"△|\\triangle\s*", "triangle "),
    (r"\s*(?:∼|~|\\sim)\s*", " is similar to "),
    (r"\s*(?:≅|\\cong)\s*", " is congruent to "),
    (r"\s*(?:∥|\\parallel)\s*", " is parallel to "),
    (r"\s*(?:⊥|\\perp)\s*", " is perpendicular to "),
)


def _comparisons(text: str) -> str:
    """``text`` with its comparison verbs and relation symbols in the words questions use."""
    for verb, words in reversed(_COMPARISON_VERBS):
        text = re.sub(verb, words, text, flags=re.IGNORECASE)
    for symbol, words in _SYMBOLS:
        text = re.sub(symbol, words, text)
    # "there are fewer than 2 bikes behind it": the number of bikes is less than 2
    text = re.sub(
        r"\bthere\s+(?:are|is|were|was)\s+(fewer|less|more|greater)\s+than\s+(\S+)\s+(.+?)\W*$",
        r"the number of \3 is \1 than \2",
        text,
        flags=re.IGNORECASE,
    )
    # "which is below 60": less than 60
    text = re.sub(r"\b(is|are|was|were)\s+below\b", r"\1 less than", text, flags=re.I)
    text = re.sub(r"\b(is|are|was|were)\s+above\b", r"\1 greater than", text, flags=re.I)
    if not re.search(r"\bthan\b", text):  # "Web Green ≈ 35 < Dark Cyan ≈ 60"
        text = re.sub(r"\s(?:<|\\lt)\s", " is less than ", text, count=1)
        text = re.sub(r"\s(?:>|\\gt)\s", " is greater than ", text, count=1)
    return text


# "Is the quadrilateral a parallelogram?": a figure named by its kind, which a response
# names by its letters ("ABCD is a parallelogram") or as "it".
_KIND = re.compile(
    r"^\W*(?:is|are)\s+the\s+(?:given\s+|shaded\s+|following\s+)?(?:quadrilateral|"
    r"triangle|polygon|shape|figure|lines?|angle|segment|graph|function|rectangle|"
    r"trapezoid|parallelogram|rhombus|square|pentagon|hexagon|region|area|part|object|solid|"
    r"curve)\s+(?:an?\s+)?(?P<predicate>"
    r"[a-z][\w-]*(?:\s+[a-z][\w-]*)?)\W*$",
    re.IGNORECASE,
)


def _renamed_subject(clause: str, question: str) -> str | None:
    """Yes/no for "Is the quadrilateral a parallelogram?" stated of the figure's letters
    or "it": "ABCD is a parallelogram", "it is not isosceles"."""
    asked = _KIND.match(question)
    if asked is None:
        return None
    said = re.search(
        r"(?:\b(?-i:[A-Z]{2,6})|△\s*(?-i:[A-Z]{3})|\bit)\s+(?:is|are|(?=can))\s*"
        r"(not\s+|n't\s+|cannot\s+be\s+|can't\s+be\s+)?"
        r"(?:an?\s+|indeed\s+an?\s+|indeed\s+)?" + re.escape(asked.group("predicate")) + r"\b",
        strip_math_delimiters(clause),
        re.IGNORECASE,
    )
    if said is None:
        return None
    return "no" if said.group(1) else "yes"


# "Does the line pass through (1, 3)?": the point, which a response says lies on it.
_THROUGH = re.compile(
    r"^\W*(?:does|do)\s+(?:the\s+)?.{1,60}?\s+pass(?:es)?\s+through\s+(?:the\s+point\s+)?"
    r"(?P<point>[^?]+?)\W*$",
    re.IGNORECASE,
)


def _on_the_line(clause: str, question: str) -> str | None:
    """Yes/no for "Does the line pass through P?" stated as "P lies on the line" or "the
    point does not lie on the line"; None for any other question or statement."""
    asked = _THROUGH.match(_plain_question(question))
    if asked is None:
        return None
    plain = strip_math_delimiters(clause)
    point = re.sub(r"\s+", "", strip_math_delimiters(asked.group("point")))
    evaluated = _evaluated_at(plain.replace("−", "-"), point)
    if evaluated is not None:  # "f(0) = 2 ≠ 0." for "... through the origin?"
        return evaluated
    if point not in re.sub(r"\s+", "", plain) and not re.search(r"\bthe\s+point\b", plain, re.I):
        return None
    said = re.search(
        r"\b(?:(?:lies|lie|is|are)\s+(not\s+)?on\b|(?:does|do)(\s+not|n't)\s+lie\s+on\b"
        r"|(not\s+|n't\s+)?pass(?:es)?\s+through\b)",
        plain,
        re.IGNORECASE,
    )
    if said is None:
        return None
    return "no" if any(said.groups()) else "yes"


def _evaluated_at(clause: str, point: str) -> str | None:
    """Yes/no for passing through ``point`` ("(2, 5)", "the origin") by the function's
    value the clause gives there ("f(2) = 5", "f(0) = 2 ≠ 0"); None without one."""
    origin = re.fullmatch(r"(?i:the)?origin", point)
    coords = (
        ("0", "0") if origin else re.fullmatch(r"\((-?\d+(?:\.\d+)?),(-?\d+(?:\.\d+)?)\)?", point)
    )
    if coords is None:
        return None
    x, y = coords if isinstance(coords, tuple) else coords.groups()
    value = re.search(
        r"\b[a-z]\(\s*" + re.escape(x) + r"\s*\)\s*=\s*(?:[^=,;]*?=\s*)?(-?\d+(?:\.\d+)?)(?!\.?\d)",
        clause,
    )
    if value is None:
        return None
    return "yes" if float(value.group(1)) == float(y) else "no"


# "Which object is farthest to the left?": the verb, then the predicate the answer restates.
_WHICH = re.compile(
    r"^\W*(?:which|what|who)\b(?:\s+[\w'-]+){0,3}?\s+(is|are|was|were|has|have|"
    r"had|shows?|contains?)\s+(.+?)\W*$",
    re.IGNORECASE,
)


def restated_subject(sentence: str, question: str | None) -> str | None:
    """The subject of a closing sentence that restates a "Which ...?" question's
    predicate ("The cube is farthest to the left." -> "The cube"), or None."""
    asked = _WHICH.match(_plain_question(question or ""))
    if asked is None:
        return None
    verb, predicate = asked.group(1).lower(), _words(asked.group(2))
    plain = strip_math_delimiters(sentence).replace("**", "").strip().rstrip(".!")
    split = re.search(r"\s(" + verb + r")\s", plain, re.IGNORECASE)
    if split is None or not predicate:
        return None
    rest = _words(plain[split.end() :])
    if rest[: len(predicate)] != predicate or len(rest) > len(predicate) + 3:
        return None
    subject = plain[: split.start()].strip()
    return subject if 0 < len(subject.split()) <= 4 else None


_WHO_DOES = re.compile(r"^\W*(?:which|who|what)\b\s+(.+?)\W*$", re.IGNORECASE)
# Words a restated predicate never starts with: a determiner belongs to the question's noun
# ("Which item sold the most"), and copulas and auxiliaries are ``restated_subject``'s.
_NOT_A_VERB = frozenset(
    "the a an of in on at to for with most least is are was were has have had do does did "
    "be been".split()
)
_NOT_A_SUBJECT = frozenset("it this that they there which who he she we i".split())
_CLAUSE_OPENER = frozenset("so therefore thus hence then and".split())


def acting_subject(sentence: str, question: str | None) -> str | None:
    """The subject of the closing clause that repeats a "Which ... <verb> ...?" question's
    predicate with any verb ("so Lead sold the most units" for "Which item sold the most
    units?" -> "Lead"), or None. The predicate is the question's words after at most three
    words of its noun; a superlative or a "who" question keeps this from reading "what"
    questions about quantities ("What percentage of students chose soccer?")."""
    asked = _WHO_DOES.match(_plain_question(question or ""))
    if asked is None:
        return None
    wanted = _words(asked.group(1))
    if question is not None and re.match(r"^\W*what\b", _plain_question(question), re.I):
        if not re.search(r"\b" + _SUPERLATIVE + r"\b", question, re.IGNORECASE):
            return None
    plain = strip_math_delimiters(sentence).replace("**", "").strip().rstrip(".!")
    tokens = list(re.finditer(r"[a-z]+|\d+(?:\.\d+)?", plain.lower()))
    words = [token.group() for token in tokens]
    # the whole predicate first, then shorter runs from its verb ("The Lions scored the
    # most points" for "... scored the most points in the season?")
    spans = [
        (skip, end)
        for skip in range(0, min(4, len(wanted) - 1))
        for end in range(len(wanted), skip + 1, -1)
        if end == len(wanted) or (skip >= 1 and end - skip >= 3)  # a run starts at a verb
    ]
    for skip, end in spans:
        predicate = wanted[skip:end]
        if predicate[0] in _NOT_A_VERB or re.fullmatch(_SUPERLATIVE, predicate[0]):
            continue
        for at in range(len(words) - len(predicate), 0, -1):
            if words[at : at + len(predicate)] != predicate:
                continue
            if len(words) - at - len(predicate) > 3:
                break  # the clause goes on about something else
            first = at
            while first > 0 and words[first - 1] not in _CLAUSE_OPENER:
                gap = plain[tokens[first - 1].end() : tokens[first].start()]
                if re.search(r"[,;:]", gap):
                    break
                first -= 1
            named = words[first:at]
            content = [word for word in named if word not in _NOT_A_VERB]
            if (
                not 0 < len(named) <= 4
                or named[0] in _NOT_A_SUBJECT
                or named[-1] in _NOT_A_VERB  # "The continent with the largest ..."
                or not content
                or set(content) & set(wanted)  # the question's own noun, not a name
            ):
                return None
            return plain[tokens[first].start() : tokens[at - 1].end()].strip(" \"'“”")
    return None


# The quantity a question asks for, by name: "What is the difference between ...",
# "Find the area of the trapezoid.", "Find m∠1", "Find AB.", "the measure of arc BC".
_QUANTITY = re.compile(
    r"^\W*(?:what\s+(?:is|was)|what's|find|calculate|compute|determine)\s+the\s+"
    r"(?:measure\s+of\s+(?:the\s+|each\s+|an?\s+|one\s+)?)?(?:total\s+)?"
    r"(difference|sum|average|mean|median|ratio|area|perimeter|volume|circumference|radius|"
    r"diameter|height|width|slope|probability|product|range|"
    r"(?:interior|exterior|central|inscribed|base|vertex)\s+angle|peak)\b(?!s)",
    re.IGNORECASE,
)
_ANGLE = re.compile(r"(?:\\angle|∠|\bangle)\s*([A-Z]{1,3}|\d{1,2})(?![\w}])")
_ARC = re.compile(r"(?:\\widehat\{|\barc\s+)([A-Z]{2,3})\b")
_SEGMENT = re.compile(
    r"^\W*(?i:find|what\s+is)\s+(?i:the\s+length\s+of\s+)?(?:\\overline\{)?"
    r"([A-Z]{2})\}?\W*$"
)
# "Find the value of the square in the figure.": a shape or symbol that stands for a number
_NAMED_VALUE = re.compile(
    r"^\W*(?:find|what\s+is)\s+the\s+value\s+of\s+(?:the|each|one)\s+([a-z]+)"
    r"(?=\s+(?:in|shown)\b|\W*$)",
    re.IGNORECASE,
)
_COUNT = re.compile(
    r"^\W*(?:in\s+|on\s+|for\s+|at\s+)?how\s+many\s+"
    r"([a-z]+s|people|children|men|women|sheep|fish|deer|mice|geese|feet)\b",
    re.IGNORECASE,
)
_NUMBER_WORD = "|".join(NUMBER_WORDS)


def asked_subject(question: str | None) -> tuple[str, bool] | None:
    """A pattern for what the question asks for by name, as a response names it, and
    whether the name is specific (an angle, an arc, a segment: "angle 1" names one thing;
    "the area" may name a part's); None for anything else."""
    plain = _plain_question(question or "")
    segment = _SEGMENT.match(plain)
    if segment is not None:
        return r"(?<![A-Za-z\\])(?:\\overline\{)?" + segment.group(1) + r"\}?(?![A-Za-z])", True
    for kind, pattern in (("arc", _ARC), ("angle", _ANGLE)):
        named = pattern.search(plain)
        if named is not None and re.match(r"^\W*(?:find|what\s+is)\b", plain, re.IGNORECASE):
            name = named.group(1)
            return (
                r"(?:\\widehat\{|\barc\s+)" if kind == "arc" else r"(?:\\angle|∠|\bangle)\s*"
            ) + name + r"(?![\w])\}?", True
    named = _NAMED_VALUE.match(plain)
    if named is not None:  # "Find the value of the square in the figure."
        return r"\b" + named.group(1).lower() + r"\b(?!\s*(?:of|in)\b)", True
    quantity = _QUANTITY.match(plain)
    return (r"\b" + quantity.group(1).lower() + r"\b(?!s)", False) if quantity else None


_STATES = re.compile(r"\b(?:is|are|was|measures|equals|of)\b|=")
_UNIT = r"(?:°|\^\s*\{?\\circ\}?|%|[A-Za-z]+(?:\s?[A-Za-z]+)?[²³]?)?"


def stated_value(sentence: str, subject: str, question: str | None = None) -> str | None:
    """The value ``sentence`` states for the subject ("the difference between them is 45",
    "Angle 1 measures 40°", "arc BC is the rest of the semicircle, which is 112 degrees",
    "the perimeter is 2(4 + 6) = 20 cm": the result of its working): the rest of the
    clause after a statement about it must be only a value, maybe with a unit. The last
    such value; None when there is none or the statement is negated. With the question,
    a subject qualified by a number it does not give ("the 2020 average") is another
    one."""
    plain = strip_math_delimiters(sentence)
    values = []
    for named in re.finditer(r"(?i:" + subject + r")", plain):
        if re.search(r"\d\s*$", plain[: named.start()]):
            continue  # "2∠R = 90°" is twice the angle, not its value
        owner = re.search(r"\b(\w+)'s\s+$", plain[: named.start()])
        if re.search(r"\bwhose\s+$", plain[: named.start()], re.IGNORECASE) or (
            owner and question and not re.search(rf"\b{owner.group(1)}\b", question, re.I)
        ):
            continue  # "the circle, whose area is 36π", "the circle's area": another thing's
        qualifier = re.search(
            r"(?<![\w.,])(\d+(?:\.\d+)?)\s+(?:(?!(?:and|or|but|so|then|while)\b)[A-Za-z]+\s+)?$",
            plain[max(0, named.start() - 20) : named.start()],
        )
        if question and qualifier and not restates(qualifier.group(1), question):
            continue  # "the 2020 average is 40.0" for the average of the 2019 bars
        window = re.split(r"[.;](?:\s|$)", plain[named.end() : named.end() + 80])[0]
        for states in _STATES.finditer(window):
            if states.group() == "of" and (
                window[: states.start()].strip()
                or not re.search(r"\b(?:a|an)\s+$", plain[: named.start()], re.IGNORECASE)
            ):
                continue  # only "a difference of 8.4", not "the sum of 3 and 4 is 7"
            before = window[: states.start()]
            operands = re.fullmatch(r"\s*of\s+[^,;=]{1,40}?\s*", before) is not None
            if re.search(r"\b(?:not|never)\b|n't", before) or (
                re.search(r"\d", before) and not operands  # "the average of 55 and 70 is"
            ):
                break  # another value or a negation comes first
            rest = re.split(
                r"[,;]\s|\s(?:and|so|or|which|but|while|since|because|as|in(?!\s+\d{1,3}\b)|at|on|before|after|during)\s",
                window[states.end() :],
            )[0]
            value = re.fullmatch(
                r"\s*(?:about|approximately|exactly)?\s*\**\s*("
                + _VALUE
                + r")\s*"
                + _UNIT
                + r"\**\s*",
                rest.rsplit("=", 1)[-1],
            )
            if value is not None:
                values.append(value.group(1).strip())
                break
    return values[-1] if values else None


def names_subject(sentence: str, subject: str) -> bool:
    return re.search(subject, strip_math_delimiters(sentence), re.IGNORECASE) is not None


def counted(sentence: str, question: str | None) -> str | None:
    """For "How many <things> ...?": the one number the sentence puts before those things
    ("Two objects (stove and twist) are ...", "Four bars exceed 50."), else None."""
    asked = _COUNT.match(_plain_question(question or ""))
    if asked is None:
        return None
    noun = asked.group(1).lower()
    plain = strip_math_delimiters(sentence)
    if re.search(
        r"\b(?:none\s+of\s+the|no)\s+(?:[\w-]+\s+){0,2}?" + re.escape(noun) + r"\b"
        r"|\bthere\s+(?:are|is)\s+none\b",
        plain,
        re.IGNORECASE,
    ):
        return "0"  # "None of the bars is smaller than 6."
    pattern = (
        r"(?<![\w.-])(\d+|" + _NUMBER_WORD + r")\s+(?:[\w-]+\s+){0,2}?" + re.escape(noun) + r"\b"
    )
    # "There are 12 dots: three rows with 4 dots in each row.": the count before its
    # breakdown after a colon
    for part in (plain.split(": ", 1)[0], plain):
        found = re.findall(pattern, part, re.IGNORECASE)
        if found:
            return found[0] if len(set(found)) == 1 else None
    return _polygon_sides(plain, noun)


# A polygon named for its number of sides: "It's an octagon." answers "How many sides?".
_POLYGONS = {
    "triangle": 3,
    "quadrilateral": 4,
    "pentagon": 5,
    "hexagon": 6,
    "heptagon": 7,
    "octagon": 8,
    "nonagon": 9,
    "decagon": 10,
    "dodecagon": 12,
}


def _polygon_sides(sentence: str, noun: str) -> str | None:
    """The sides (vertices, angles, corners) of the one polygon ``sentence`` names, for
    a count of those; None otherwise ("hexagonal prism" names a solid, not a polygon)."""
    if noun.lower() not in ("sides", "vertices", "angles", "corners"):
        return None
    named = {
        m.lower()
        for m in re.findall(r"\b(" + "|".join(_POLYGONS) + r")\b(?![-\w])", sentence, re.I)
    }
    return str(_POLYGONS[named.pop()]) if len(named) == 1 else None


def _count_value(word: str) -> int:
    """A count in digits, in words, or an article ("the large one" is one)."""
    word = word.lower()
    if word in ("the", "a", "an"):
        return 1
    return int(word) if word.isdigit() else NUMBER_WORDS.index(word)


def counted_sum(sentence: str, question: str | None) -> str | None:
    """For "How many <things> ...?": a count given as a sum of its parts ("4 small
    triangles plus the large one", "three red cubes and 2 blue ones"): their total;
    None for anything else (parts of two kinds, "3 cubes and 2 spheres", are no sum)."""
    asked = _COUNT.match(_plain_question(question or ""))
    if asked is None:
        return None
    plural = asked.group(1).lower()
    noun = re.escape(plural[:-1] if plural.endswith("s") else plural) + "s?"  # "one short bar"
    count = r"(\d+|" + _NUMBER_WORD + r"|the|an?)"
    found = re.search(
        rf"(?<![\w.-]){count}\s+(?:[\w-]+\s+){{0,2}}?{noun}\s+(?:plus|and)\s+{count}\s+"
        rf"(?:[\w-]+\s+){{0,2}}?(?:{noun}|ones?)\b(?!\s+of\b)",
        strip_math_delimiters(sentence),
        re.IGNORECASE,
    )
    if found is None or found.group(1).lower() in ("the", "a", "an"):
        return None  # "the squares and ..." counts nothing

    return str(_count_value(found.group(1)) + _count_value(found.group(2)))


_MEASURE_AFTER = re.compile(
    r"^\s*(?:square\s+)?(?:units?|cm|mm|km|m|in(?:ches)?|inch|ft|feet|foot|meters?|"
    r"degrees?|°|long|wide|tall|high)\b",
    re.IGNORECASE,
)
_MEASURE_BEFORE = re.compile(
    r"\b(?:length|lengths|long|measuring|measures|width|height|side|sides)\s+(?:of\s+)?"
    r"(?:about\s+|approximately\s+|roughly\s+)?$",
    re.IGNORECASE,
)


def is_measure(value: str, sentence: str) -> bool:
    """``value`` is a length or a size in ``sentence`` ("each about 3 units long", "five
    sides of length 6"), not a count."""
    plain = strip_math_delimiters(sentence)
    for found in re.finditer(r"(?<![\w.])" + re.escape(value.strip()) + r"(?!\w|\.\d)", plain):
        if _MEASURE_AFTER.match(plain[found.end() :]) or _MEASURE_BEFORE.search(
            plain[: found.start()]
        ):
            return True
    return False


_NUMBER = re.compile(
    r"(?<![\w.,])[-−]?\d[\d,]*(?:\.\d+)?(?:\s?(?:thousand|million|billion|%))?"
    r"(?![\w.,]\d)"
)


def unasked_value(sentence: str, question: str | None) -> str | None:
    """The one number of a sentence that restates the question's own numbers ("The line
    shows 61.9 thousand dollars for 2018." for "... income in 2018?"), else None."""
    numbers = [m.group().strip() for m in _NUMBER.finditer(strip_math_delimiters(sentence))]
    kept = [n for n in numbers if not restates(n, question)]
    return kept[0] if len(kept) == 1 and len(numbers) > 1 else None


def named_scale(question: str | None) -> str | None:
    """The scale the question counts in ("What was the income (in thousands)?"): an
    answer's "61.9 thousand" then means 61.9."""
    scale = re.search(r"\bin\s+(thousand|million|billion)s?\b", question or "", re.IGNORECASE)
    return scale.group(1).lower() if scale else None


def restates(value: str, question: str | None) -> bool:
    """``value`` is a number the question itself gives ("more than 7 people")."""
    number = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*", value)
    if number is None:
        return False
    pattern = r"(?<![\d.])" + re.escape(number.group(1)) + r"(?![\d.])"
    return re.search(pattern, _plain_question(question or "")) is not None


_SUPERLATIVE = (
    r"(?:highest|lowest|largest|smallest|tallest|shortest|most|least|greatest|"
    r"biggest|longest|fewest|maximum|minimum)"
)


def superlative_named(sentence: str, question: str | None) -> str | None:
    """For "Which month had the highest rainfall?": the name a sentence gives its
    superlative ("The tallest bar in the chart is July, at about 180 mm"), else None. Not
    for a question that asks for the value itself ("What is the highest value ...?")."""
    if re.match(
        r"^\W*what\s+(?:is|was)\s+the\s+\w+\s+(?:value|number|amount|score|price|"
        r"temperature|level|rate|percentage|count)\b",
        _plain_question(question or ""),
        re.IGNORECASE,
    ):
        return None
    if not re.match(
        r"^\W*(?:which|what)\b.*\b" + _SUPERLATIVE + r"\b",
        _plain_question(question or ""),
        re.IGNORECASE,
    ):
        return None
    plain = strip_math_delimiters(sentence).replace("**", "")
    named = re.search(
        r"(?i:\bthe\s+" + _SUPERLATIVE + r")\b[^,.;\d]{0,40}?\b"
        r"(?i:is|was|corresponds\s+to|belongs\s+to|represents)\s+"
        # "is the one labeled olive drab", "corresponds to July"
        r"(?:(?i:in|the|one|bar|slice|line|labell?ed|marked|named|called|for|of)\s+){0,4}"
        r"([A-Z][\w'-]*(?:\s+[A-Z][\w'-]*){0,2}|\d{4}|"
        # a name written in lower case, set apart from its figure: "is asia, at 42%"
        r"(?!(?:about|around|approximately|roughly|nearly|over|under|at|with)\b)"
        r"[a-z][\w'-]*(?:\s+[a-z][\w'-]*){0,2}(?=\s*(?:,|\(|\s(?:at|with)\s)))\b",
        plain,
    )
    asks_which = re.match(r"^\W*(?:which|who)\b", _plain_question(question or ""), re.I)
    if named is None and asks_which:  # "Chad has the lowest life expectancy at 52.5 years"
        named = re.match(
            r"^\W*((?!(?:It|This|That|There|The)\b)[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*){0,2})\s+"
            r"(?:has|had|shows|showed|records|recorded|holds|held)\s+the\s+(?i:"
            + _SUPERLATIVE
            + r")\b",
            plain,
        )
    asked_word = re.search(r"\b" + _SUPERLATIVE + r"\b", question or "", re.IGNORECASE)
    if named is None and asks_which and asked_word is not None:
        # "Services accounted for 54% of the total, the largest share, ...": the question's
        # superlative set after the clause as an aside names its subject
        named = re.search(
            r"(?:^|,\s+)((?!(?:It|This|That|There|The|In)\b)[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*){0,2})"
            r"\s+[a-z][^,;.]*?,\s+(?:the|its)\s+(?i:" + re.escape(asked_word.group()) + r")\b",
            plain,
        )
    high = not re.search(r"\b(?:lowest|smallest|least|fewest|minimum)\b", question or "", re.I)
    if named is None and asks_which and high:  # "In Q4, Laptops led with 420 units"
        named = re.search(
            r"(?:^|,\s+)((?!(?:It|This|That|There|The)\b)[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*){0,2})\s+"
            r"(?:led|leads|topped|tops|came\s+first|ranked\s+first|ranks\s+first)\b",
            plain,
        )
    if named is not None:
        return named.group(1)
    # "The line peaks in 2010 at about 9.6%": a verb that is the superlative of the
    # question ("highest", "maximum"), and the time or name after it
    low = re.search(r"\b(?:lowest|smallest|least|fewest|minimum)\b", question or "", re.IGNORECASE)
    verb = (
        r"(?:bottom(?:s|ed)?\s+out|(?:hits?|reach(?:es|ed)?)\s+(?:its|a|the)\s+(?:lowest|minimum|low)"
        r"|is\s+lowest|was\s+lowest|dips?\s+to\s+its\s+lowest)"
        if low
        else r"(?:peak(?:s|ed)?|top(?:s|ped)?\s+out|(?:hits?|reach(?:es|ed)?)\s+(?:its|a|the)\s+"
        r"(?:highest|maximum|peak|high)|is\s+highest|was\s+highest)"
    )
    named = re.search(
        r"(?i:\b" + verb + r")(?:\s+(?i:\w+)){0,3}?\s+(?i:in|at|on|during)\s+(?:(?i:the)\s+)?"
        r"([A-Z][\w'-]*(?:\s+[A-Z][\w'-]*){0,2}|\d{4})\b",
        plain,
    )
    return named.group(1) if named else None


_MONTHS = (
    "January|February|March|April|May|June|July|August|September|October|November|December|"
    "Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec"
)
_DAYS = "Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday"


def asked_time(sentence: str, question: str | None) -> str | None:
    """For "In which month ...?" / "Which year ...?" / "On which day ...?": the one
    month, year or weekday the sentence names ("they cross in April, where both sold 120
    units"), else None."""
    asked = re.search(
        r"\b(?:which|what)\s+(month|year|day)\b", _plain_question(question or ""), re.IGNORECASE
    )
    if asked is None:
        return None
    kind = asked.group(1).lower()
    pattern = {
        "month": r"\b(?:" + _MONTHS + r")\b",
        "year": r"(?<![\d.,])(?:1[89]|20)\d{2}(?![\d%]|[.,]\d)",
    }.get(kind, r"\b(?:" + _DAYS + r")\b")
    if sentence.lstrip().startswith("|"):
        return None  # a row of a table, not a statement
    found = set(re.findall(pattern, strip_math_delimiters(sentence)))
    return found.pop() if len(found) == 1 else None


_LABELLED_LINE = re.compile(
    r"^\W{0,3}(?P<label>[A-Za-z][\w '&/-]{0,40}?)\**\s*[:：]\s*\**\s*(?P<value>[-−]?\$?\d[\d,]*"
    r"(?:\.\d+)?\s?(?:%|[kKMB]\b)?)\**\W*$"
)
_SCALE_LETTER = {"k": "thousand", "K": "thousand", "M": "million", "B": "billion"}


def labelled_value(text: str, question: str | None) -> str | None:
    """For a response that ends on a list of labelled values ("Very satisfied: 34%\n
    Somewhat satisfied: 41%"): the value of the one label the question names, else
    None."""
    asked = " " + re.sub(r"[^\w%]+", " ", _plain_question(question or "").lower()) + " "
    rows = []
    lines = text.strip().splitlines()
    last = lines[-1].split(", ") if lines else []
    # a list on one line ("Q1: $3.2M, Q2: $3.9M, Q3: $4.7M") or one label a line
    for line in reversed(last if len(last) >= 2 else lines):
        row = _LABELLED_LINE.match(strip_math_delimiters(line.strip()).replace("**", ""))
        if row is None:
            break
        rows.append(row)
    if len(rows) < 2:
        return None
    named = [
        r["value"].strip()
        for r in rows
        if " " + re.sub(r"[^\w%]+", " ", r["label"].lower()).strip() + " " in asked
    ]
    given = re.search(r"\bvalue\s+of\s+(\d+(?:\.\d+)?)\b", asked)
    if not named and given is not None and re.match(r"\s*which\b", asked):
        # "Books: 25, Toys: 18" for "Which category has a value of 25?": the label
        labels = [r["label"].strip() for r in rows if r["value"].strip() == given.group(1)]
        return labels[0] if len(labels) == 1 else None
    position = re.search(r"\b(leftmost|first|rightmost|last)\b", asked)
    if not named and position is not None:  # "Mon: 34, Tue: 28" for the leftmost bar
        named = [rows[-1 if position.group(1) in ("leftmost", "first") else 0]["value"].strip()]
    if len(named) != 1:
        return None
    value = named[0]
    scale = _SCALE_LETTER.get(value[-1])
    if scale is not None and scale == named_scale(question):  # "$4.7M" asked in millions
        value = value[:-1]
    return value


_PLACES = {"tenth": 1, "hundredth": 2, "thousandth": 3, "one": 1, "two": 2, "three": 3}


def stated_precision(question: str | None) -> int | None:
    """The decimal places the question asks to round to ("Round to the nearest tenth.",
    "... with two decimal places"), or None: a dataset without a ``precision`` field
    (Geometry3K) says it in the question."""
    text = question or ""
    nearest = re.search(
        r"\bnearest\s+(tenth|hundredth|thousandth|whole\s+number|integer|degree|unit)\b",
        text,
        re.IGNORECASE,
    )
    if nearest is not None:
        return _PLACES.get(nearest.group(1).lower(), 0)
    places = re.search(r"\b(one|two|three|[123])\s+decimal\s+places?\b", text, re.IGNORECASE)
    if places is not None:
        word = places.group(1).lower()
        return int(word) if word.isdigit() else _PLACES[word]
    return None


_BLANK = re.compile(r"\(\s*_+\s*\)|_{2,}")


def filled_blank(sentence: str, question: str | None) -> str | None:
    """For a fill-in question ("It is (_) past six."): what ``sentence`` puts in the
    blank, read between the question's words around it ("So it is quarter past six." ->
    "quarter"), else None."""
    plain = _plain_question(question or "")
    blank = _BLANK.search(plain)
    if blank is None:
        return None
    # the words around the blank, within its own sentence
    before = re.findall(r"[\w']+", re.split(r"[.?!:]\s", plain[: blank.start()])[-1])[-3:]
    after = re.findall(r"[\w']+", re.split(r"[.?!]", plain[blank.end() :])[0])[:2]
    if not before and not after:
        return None
    pattern = (
        (r"\b" + r"\W+".join(map(re.escape, before)) + r"\W+" if before else r"^\W*")
        + r"(\S(?:.{0,30}?\S)?)"
        + (r"\W+" + r"\W+".join(map(re.escape, after)) + r"\b" if after else r"\W*$")
    )
    filled = re.search(pattern, strip_math_delimiters(sentence).replace("**", ""), re.IGNORECASE)
    return filled.group(1) if filled else None


# Words of a question that frame it rather than name its subject.
_FRAME = _STOP | frozenset(
    """what which how many much who when where percentage percent value values number
    people share proportion total amount respondents prefer preferred said say says chart
    graph bar bars figure image shown show shows according""".split()
)


# A question for an amount of something it names: "What is the percentage of people who
# prefer tea?", "How much did the East region grow?"
_ASKS_AMOUNT = re.compile(
    r"^\W*(?:what\s+(?:is|was|are|were)\s+the\s+(?:percentage|percent|share|value|number|"
    r"amount|proportion|price|cost|rate|revenue|population|score)\b|how\s+(?:much|many)\b"
    r"|what\s+(?:percentage|percent|share|fraction|proportion)\b)",
    re.IGNORECASE,
)


def clause_value(sentence: str, question: str | None) -> str | None:
    """The value of the one clause of ``sentence`` that names the question's subject
    ("Coffee is the most popular at 45%, tea comes second with 28%, ..." for "What
    percentage prefer tea?" -> "28%"): the question's own words that stand in exactly
    one clause all stand in the same clause, and it holds one number. Else None."""
    if not _ASKS_AMOUNT.match(_plain_question(question or "")):
        return None
    asked = {
        w
        for w in _words(_plain_question(question or ""))
        if w not in _FRAME
        and len(w) >= 3
        and (not w[0].isdigit() or re.fullmatch(r"(?:1[89]|20)\d{2}", w))
    }
    # "... at 35 and the blue bar at 50": "and" before a new subject opens a clause too
    clauses = re.split(
        r",\s+(?:and\s+)?(?=[A-Za-z])|;\s+|\s+(?:while|whereas)\s+|\s+and\s+(?=(?:the|its)\s)",
        strip_math_delimiters(sentence),
    )
    if len(clauses) < 2 or not asked:
        return None
    said = [set(_words(clause)) for clause in clauses]
    # names first ("Candidate B", "Q3"): the clause of the one name the question gives
    names = {
        w.lower()
        for w in re.findall(
            r"(?<!^)\b(?:[A-Z][a-z]*\d*|[A-Z]\d*)\b", _plain_question(question or "")
        )
    } - _FRAME
    by_name = {
        i
        for n in names
        if sum(n in words for words in said) == 1
        for i, words in enumerate(said)
        if n in words
    }
    if len(by_name) == 1:
        asked = names
    named = {
        i
        for w in asked
        if sum(w in words for words in said) == 1
        for i, words in enumerate(said)
        if w in words
    }
    if len(named) != 1:
        return None
    clause = clauses[named.pop()]
    numbers = [
        m.group().strip()
        for m in _NUMBER.finditer(clause)
        # not "in 2020" of the question, nor a qualifier: "just above the 3 mark"
        if not restates(m.group().strip(), question)
        and not re.search(r"\b(?:the|above|below|over|under)\s+$", clause[: m.start()])
    ]
    return numbers[0] if len(numbers) == 1 else None


_LOW_WORDS = frozenset("lower smaller less fewer shorter".split())
_HIGH_WORDS = frozenset("higher larger greater bigger more taller longer".split())
_SUPERLATIVE_ASKED = re.compile(
    r"^\W*(?:does|is)\s+(?P<x>.+?)\s+(?:have\s+the|the)\s+(?P<sup>lowest|smallest|least|"
    r"minimum|highest|largest|greatest|most|maximum)\b",
    re.IGNORECASE,
)


def _beaten(clause: str, question: str) -> str | None:
    """ "no" for "Does Light Salmon have the lowest value?" answered by a comparison that
    puts something below it ("Olive Drab is lower than Light Salmon") or puts it above
    something; None for anything else."""
    asked = _SUPERLATIVE_ASKED.match(_plain_question(question))
    said = re.search(
        r"(?P<a>.+?)\s+(?:is|are|was|were)\s+(?:\w+\s+)?(?P<cmp>\w+)\s+than\s+(?P<b>.+)",
        strip_math_delimiters(clause),
    )
    if asked is None or said is None:
        return None
    low = asked.group("sup").lower() in ("lowest", "smallest", "least", "minimum")
    same, other = (_LOW_WORDS, _HIGH_WORDS) if low else (_HIGH_WORDS, _LOW_WORDS)
    subject = {w for w in _words(asked.group("x")) if w not in _STOP}
    comparative = said.group("cmp").lower()
    if subject and subject <= set(_words(said.group("b"))) and comparative in same:
        return "no"  # something is lower than it
    if subject and subject <= set(_words(said.group("a"))) and comparative in other:
        return "no"  # it is higher than something
    return None


_QUANTITIES = (
    "area|perimeter|volume|circumference|radius|diameter|height|width|slope|sum|difference|"
    "average|mean|median|ratio|probability|product|range"
)


def about_another_quantity(sentence: str, question: str | None) -> bool:
    """``sentence`` states a quantity other than the one the question asks for ("So the
    area is 54." for "Find the perimeter."): a further fact, not a second answer."""
    asked = _QUANTITY.match(_plain_question(question or ""))
    if asked is None:
        return False
    named = {m.lower() for m in re.findall(r"\b(" + _QUANTITIES + r")\b", sentence, re.I)}
    return bool(named) and asked.group(1).lower() not in named


_COLOURS = (
    "red|orange|yellow|green|blue|purple|violet|pink|brown|black|white|gray|grey|cyan|"
    "magenta|gold|silver|teal|maroon|navy|beige|turquoise"
)


def asked_colour(sentence: str, question: str | None) -> str | None:
    """For "What color is ...?": the one colour the sentence names ("The smallest cube is
    the green one at the back."), else None."""
    if not re.search(r"\bwhat\s+colou?r\b", _plain_question(question or ""), re.IGNORECASE):
        return None
    found = {c.lower() for c in re.findall(r"\b(" + _COLOURS + r")\b", sentence, re.IGNORECASE)}
    return found.pop() if len(found) == 1 else None


_YEAR = r"(?:1[89]|20)\d{2}"
_YEAR_FIGURE = r"([-−]?\$?\d(?:[\d,]*\d)?(?:\.\d+)?(?:\s?(?:%|thousand|million|billion))?)"
# Words between the year and its figure that do not tie them: a second figure ("to 55",
# "up from 22%") or a qualifier ("just above the 3 mark").
_UNTIED = (
    r"(?:to|from|than|the|above|below|over|under|up|down|and|then|with|compared|versus|vs"
    r"|since|after|before)"
)


def year_value(sentence: str, question: str | None) -> str | None:
    """For a question about one year ("What was the rate in 2012?"): the figure the
    sentence gives for that year, just before it ("fell to 8.9% in 2011, then 8.1% in
    2012", "29% of the mix in 2020") or a few words after it ("in 2012 the rate was
    8.1%"), else None."""
    asked = _plain_question(question or "")
    years = set(re.findall(rf"(?<![\d.]){_YEAR}(?!\d)", asked))
    if len(years) != 1 or re.search(r"\b(?:which|what)\s+(?:year|month|day)\b", asked, re.I):
        return None  # no year, a change between two, or a question for a time
    year = years.pop()
    plain = strip_math_delimiters(sentence).replace("**", "")
    if len(re.findall(rf"(?<![\d.]){year}(?!\d)", plain)) != 1:
        return None
    calculated = r"(?!\s*(?:[×*^·]|\\times|\\cdot))"  # "3.2 \times 10^6": not the figure
    before = re.search(
        _YEAR_FIGURE
        + calculated
        + r"(?:\s+[A-Za-z'-]+){0,5}?\s+(?:in|for|during|by|as\s+of)\s+(?:the\s+year\s+)?"
        + rf"{year}(?!\d)",
        plain,
        re.IGNORECASE,
    )
    after = re.search(
        rf"\b(?:in|for|during|by)\s+{year},?\s+(?:(?!{_UNTIED}\b)[A-Za-z'-]+\s+){{0,4}}?"
        + _YEAR_FIGURE
        + calculated
        + rf"(?![\d.,]\d)(?!\s+(?:in|for|during|by)\s+{_YEAR})",  # not "55 in 2019"
        plain,
        re.IGNORECASE,
    )
    for found in (before, after):
        if found is not None and not re.fullmatch(_YEAR, found.group(1)):
            return found.group(1).strip()
    return None


_COMPARED_NUMBERS = re.compile(
    r"([-−]?\d+(?:\.\d+)?)\s*(?:[A-Za-z%°]+\s*)?"
    r"(>|<|≥|≤|\\gt\b|\\lt\b|\b(?:is\s+)?(?:greater|more|larger|higher|bigger|less|smaller|"
    r"lower|fewer)\s+than)\s*([-−]?\d+(?:\.\d+)?)"
)
_UP = re.compile(r">|≥|\\gt|greater|more|larger|higher|bigger")


def _stems(text: str) -> set[str]:
    return {w.rstrip("s") for w in _words(text) if w not in _STOP and not w[0].isdigit()}


def _label_of(value: str, text: str) -> set[str]:
    """The words a response states ``value`` with, where it first gives it: from the
    start of that statement ("Smallest bars: 18 + 27 = 45", "pyramid: 5 faces") to it."""
    found = re.search(rf"(?<![\d.]){re.escape(value)}(?!\.?\d|\s*[-+×*/])", text)
    if found is None:
        return set()
    start = max(text.rfind(mark, 0, found.start()) for mark in (". ", "; ", "\n", ", "))
    return _stems(text[start + 1 : found.start()])


def sides_verdict(text: str, closing: str, question: str | None) -> str | None:
    """Yes/no for "Is <A> greater than <B>?" answered by two numbers compared ("45 is
    greater than 41.", "6 > 5."): each number is told to stand for a side by the words
    the response first states it with ("Smallest bars: 18 + 27 = 45. Largest: 41."); the
    verdict is the comparison of the sides. None when the numbers do not map one to
    each side."""
    plain_question = _plain_question(question or "")
    asked = re.search(
        r"\b(greater|more|larger|higher|bigger|less|fewer|smaller|lower)\b", plain_question, re.I
    )
    sides = _sides(_words(plain_question))
    said = _COMPARED_NUMBERS.search(strip_math_delimiters(closing).replace("−", "-"))
    if not is_yes_no_question(question) or asked is None or sides is None or said is None:
        return None
    left, right = ({w.rstrip("s") for w in side} - {asked.group(1).lower()} for side in sides)
    earlier = strip_math_delimiters(text)[: strip_math_delimiters(text).rfind(said.group(1))]
    scores = []
    for value in (said.group(1), said.group(3)):
        label = _label_of(value, earlier)
        scores.append(len(label & left) - len(label & right))
    if not (scores[0] > 0 > scores[1] or scores[0] < 0 < scores[1]):
        return None
    first, second = float(said.group(1)), float(said.group(3))
    if first == second:
        return None
    a, b = (first, second) if scores[0] > 0 else (second, first)  # the left side's first
    up = _UP.search(asked.group(1)) is not None
    return "yes" if (a > b) == up else "no"
