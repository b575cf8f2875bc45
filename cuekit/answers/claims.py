"""Every value a closing statement asserts, and which one it concludes with.

``conclude`` reads the closing sentence by first-match rules; a response that closes in
plain prose ("Dividing both sides by 2, we find that y comes out to 5.", "so it took
forty-five minutes.", "The smallest sector is 'Other' at 8%, less than 'Rent' at 12%.")
often slips past them. This module reads the same sentence the other way round: it
gathers *all* the values the sentence states, each with its position and its role, and
the grader's answer is the **last value in the answer role**.

Values (``Claim.text`` is a spelling ``match_answer`` reads):

- digits with their math: ``-4``, ``1,250``, ``1.25k``, ``8%``, ``2/3``, ``√12``,
  ``4√2``, ``18π − 36``, a point ``(3, -2)``;
- numbers in words: ``forty-five``, ``two and a half``, ``negative three``,
  ``one thousand two hundred fifty``, ``two-thirds``, ``one half``, and ``no objects
  left``/``none`` for zero;
- ratios: ``3 to 4``, ``3:4``, ``1 : 3`` in a sentence about a ratio, ``1 in 6`` in one
  about a probability or chance.

Roles: a value is an **operand** when an operator, ``=`` or ``≈`` follows it (``20/80 =
0.25``: 20 and 80 are the sum's parts, 0.25 its result); **secondary** after a
comparison or a reason that follows the answer (", followed by Model B at 89.1%",
"less than 'Rent' at 12%", ", while ... 3", " since ..."), or in a breakdown after a
colon ("seven cubes in total: four large and three small"); a **qualifier** of a noun
("7 students scored above 80", "the 56° angle"); **ruled out** after a negation ("not 15
but 20"); otherwise **answer**. Ordinals ("the third bar") and the pronoun "one" ("the
green one") are no values; names ("angle 1" before its predicate) are not last.

Also read here: the *verdict* of a yes/no closing statement (a "yes"/"no"/"true"/"false"
it says; a negated statement is no, "It is not symmetric."; an affirmative one gives
none, since only the question tells whether it affirms the question or its opposite)
and the one choice a closing statement names by its text ("so they are perpendicular
to each other").
``judge`` decides with them (see its docstring); nothing here sees the gold.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from cuekit.answers.normalize import plain_text, strip_math_delimiters
from cuekit.answers.reading import NUMBER_WORDS
from cuekit.number_words import NUMBER_SCALES, NUMBER_TENS, words_value

__all__ = ["Claim", "choice_named", "final_claim", "plain_sentence", "read_claims", "verdict_word"]

_FRACTION_WORDS = {
    "half": 2,
    "halves": 2,
    "third": 3,
    "thirds": 3,
    "quarter": 4,
    "quarters": 4,
    "fourth": 4,
    "fourths": 4,
    "fifth": 5,
    "fifths": 5,
    "sixth": 6,
    "sixths": 6,
    "eighth": 8,
    "eighths": 8,
    "tenth": 10,
    "tenths": 10,
}
_WORD = "|".join(sorted([*NUMBER_WORDS, *NUMBER_TENS, *NUMBER_SCALES], key=len, reverse=True))
_NUMBER_WORDS = re.compile(
    r"\b(?P<sign>(?:negative|minus)\s+)?(?P<words>(?:"
    + _WORD
    + r")(?:(?:[\s-]+|\s+and\s+)(?:"
    + _WORD
    + r"))*)(?P<frac>(?:\s+and)?\s+(?:a|one)\s+(?:half|quarter)|[\s-]+(?:"
    + "|".join(_FRACTION_WORDS)
    + r"))?\b(?![-])",
    re.IGNORECASE,
)
_ARTICLE_FRACTION = re.compile(r"\b(?:one|a)\s+(half|third|quarter)\b", re.IGNORECASE)
_ZERO = re.compile(
    r"\bthere\s+(?:are|is|were|would\s+be|will\s+be)\s+no\s+\w+"
    r"|\bleaves?\s+(?:us\s+with\s+)?no\s+\w+|\bnone\s+(?:are\s+)?(?:left|remain)",
    re.IGNORECASE,
)
_ATOM = (
    r"(?:[-−]\s?)?(?:(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?\s?(?:√\s?\d+(?:\.\d+)?|π|[kKM]\b)?"
    r"|√\s?\d+(?:\.\d+)?|π)"
)
_EXPRESSION = re.compile(
    r"(?<![\w.])(?:"
    + _ATOM
    + r"|\("
    + _ATOM
    + r"\))(?:\s?[+\-−×·*/^]\s?(?:"
    + _ATOM
    + r"|\("
    + _ATOM
    + r"\)))*(?:\s?%)?(?![\w.]*\d)"
)
_POINT = re.compile(r"\(\s*[-−]?\d[\d.]*\s*,\s*[-−]?\d[\d.]*\s*\)")
_RATIO_CONTEXT = re.compile(r"\b(?:ratio|proportion|scale|odds)\b|\s:\s", re.IGNORECASE)
_CHANCE_CONTEXT = re.compile(r"\b(?:probability|chance|likelihood|odds)\b", re.IGNORECASE)
_RATIO = re.compile(r"(?<![\w.])(\d+)\s*(?::|\bto\b)\s*(\d+)(?![\w:]|\.\d)")
_IN = re.compile(r"(?<![\w.])(\d+)\s+(?:in|out\s+of)\s+(\d+)(?![\w]|\.\d)")
# "one" is a number after a verb or a preposition ("there is one", "only one"), or first.
_ONE_AS_NUMBER = re.compile(
    r"(?:^|\b(?:is|are|was|were|be|equals|has|have|had|of|at|to|gives|"
    r"only|just|exactly|makes|leaves|remains?)\s+|[=:]\s*)$",
    re.IGNORECASE,
)
_ORDINAL = re.compile(r"^(?:st|nd|rd|th)\b")
# What follows an answer and is not it: a comparison, a contrast or a reason.
_SECONDARY = re.compile(
    r"(?:,|;|\s[—–-])\s*(?:\w+\s+){0,2}(?:followed\s+by|ahead\s+of|behind|compared\s+(?:to|with)|"
    r"versus|vs\.?|while|whereas|than|below|above|just\s+(?:above|below|over|under)|"
    r"since|because|as|given|where|from|out\s+of|with\s+\w+\s+(?:second|next))\b"
    r"|\s(?:since|because|as\s+shown)\b"
    r"|\b(?:less|more|fewer|greater|higher|lower|smaller|larger|bigger)\s+than\b",
    re.IGNORECASE,
)
# A value that qualifies a noun, not the answer: "7 students scored above 80", "bars
# that exceed 50", "at least 3".
_QUALIFIED = re.compile(
    r"\b(?:above|below|over|under|exceeds?|exceeding|than|at\s+(?:least|most)"
    r"|beyond|the)\s+(?:the\s+)?$",
    re.IGNORECASE,
)
_NEGATED = re.compile(
    r"\b(?:not|never|rather\s+than|instead\s+of)\s+(?:(?!but\b)\w+\s+){0,2}$", re.IGNORECASE
)
_FOLLOWED_BY_OPERATOR = re.compile(
    r"^\s*(?:[a-zA-Z°%²³]{0,6}\s*)?(?:[=≈+×·*/^]|[-−]\s*\d|\\approx)"
)


@dataclass(frozen=True)
class Claim:
    """One value a sentence states: ``text`` as ``match_answer`` reads it, where it
    starts, and its ``role`` (answer, operand, secondary, ruled_out)."""

    text: str
    start: int
    end: int
    role: str


def _worded(match: re.Match[str]) -> str | None:
    """The spelling of a number in words: "forty-five" -> "45", "two-thirds" -> "2/3"."""
    value = words_value(re.split(r"[\s-]+", match.group("words").lower()))
    if value is None:
        return None
    sign = "-" if match.group("sign") else ""
    fraction = (match.group("frac") or "").strip().lower()
    if not fraction:
        return f"{sign}{value}"
    last = re.split(r"[\s-]+", fraction)[-1]
    if "and" in fraction or fraction.startswith(("a ", "one ")):  # "two and a half"
        return f"{sign}{value + 1 / _FRACTION_WORDS[last]:g}"
    return f"{sign}{value}/{_FRACTION_WORDS[last]}"  # "two-thirds"


def _values(sentence: str) -> list[tuple[int, int, str]]:
    """``(start, end, text)`` of every value in ``sentence``, leftmost-longest."""
    found: list[tuple[int, int, str]] = []
    taken = [False] * (len(sentence) + 1)

    def add(start: int, end: int, text: str) -> None:
        if not any(taken[start:end]):
            found.append((start, end, text))
            for i in range(start, end):
                taken[i] = True

    for m in _POINT.finditer(sentence):
        if not re.fullmatch(r"\(\d{1,3}(?:,\d{3})+\)", m.group()):  # "(1,250)" is a number
            add(m.start(), m.end(), m.group())
    if _RATIO_CONTEXT.search(sentence):
        for m in _RATIO.finditer(sentence):
            add(m.start(), m.end(), f"{m.group(1)}/{m.group(2)}")
    if _CHANCE_CONTEXT.search(sentence):
        for m in _IN.finditer(sentence):
            add(m.start(), m.end(), f"{m.group(1)}/{m.group(2)}")
    for m in _EXPRESSION.finditer(sentence):
        if _ORDINAL.match(sentence[m.end() :]) or not m.group().strip():
            continue
        add(m.start(), m.end(), re.sub(r"^\((.*)\)$", r"\1", m.group().strip()))
    for m in _NUMBER_WORDS.finditer(sentence):
        text = _worded(m)
        if m.group().lower() == "one" and not _ONE_AS_NUMBER.search(sentence[: m.start()]):
            continue  # "the third one", "the green one": a pronoun
        if text is not None and not re.fullmatch(r"(?i:hundred|thousand|million)", m.group()):
            add(m.start(), m.end(), text)
    for m in _ARTICLE_FRACTION.finditer(sentence):
        add(m.start(), m.end(), f"1/{_FRACTION_WORDS[m.group(1).lower()]}")
    for m in _ZERO.finditer(sentence):
        add(m.start(), m.end(), "0")
    return sorted(found)


def plain_sentence(sentence: str) -> str:
    """The sentence with math delimiters and markup dropped, ``\\sqrt``, ``\\pi``,
    ``\\frac`` and ``\\times`` in their plain spellings."""
    plain = strip_math_delimiters(sentence).replace("**", "").replace("\\%", "%")
    plain = re.sub(r"\\sqrt\{([^{}]+)\}", r"√\1", plain).replace("\\pi", "π")
    plain = re.sub(r"\\(?:times|cdot)", "×", plain).replace("\\approx", "≈")
    return re.sub(r"\\frac\{([^{}]+)\}\{([^{}]+)\}", r"\1/\2", plain)


def read_claims(sentence: str) -> list[Claim]:
    """Every value ``sentence`` states, in order, each with its role (module docstring);
    positions are in ``plain_sentence(sentence)``."""
    plain = plain_sentence(sentence)
    claims: list[Claim] = []
    colon = plain.rfind(": ")
    for start, end, text in _values(plain):
        role = "answer"
        if _FOLLOWED_BY_OPERATOR.match(plain[end:]):
            role = "operand"
        elif _NEGATED.search(plain[:start]):
            role = "ruled_out"
        elif _QUALIFIED.search(plain[:start]) and not (
            re.search(r"\bthe\s+$", plain[:start], re.IGNORECASE)
            and re.fullmatch(r"\W*", plain[end:])
        ):  # "the 56° angle" qualifies; "... is the 10." names the value
            role = "qualifier"
        elif any(c.role == "answer" for c in claims) and _SECONDARY.search(
            plain, claims[-1].start, start
        ):
            role = "secondary"
        elif (
            0 <= colon < start
            and any(c.role == "answer" and c.start < colon for c in claims)
            and re.search(r"\band\b|,", plain[colon:])
        ):
            role = "secondary"  # "seven cubes in total: four large and three small"
        if role == "secondary" or (
            claims
            and claims[-1].role == "secondary"
            and not re.search(r"[.;]\s", plain[claims[-1].start : start])
        ):
            role = "secondary"
        claims.append(Claim(text, start, end, role))
    return claims


def final_claim(sentence: str) -> Claim | None:
    """The value ``sentence`` concludes with: its last claim in the answer role."""
    answers = [c for c in read_claims(sentence) if c.role == "answer"]
    return answers[-1] if answers else None


_YES_NO_WORD = re.compile(
    r"\b(yes|no|yep|yeah|nope|nah|true|false)\b"
    r"(?!\s+(?:\w+\s+)?(?:left|remain|longer|more|one|"
    r"image|figure|\w+s\b))",
    re.IGNORECASE,
)
_UNDECIDED = re.compile(
    r"\b(?:hard|difficult|impossible)\s+to\s+(?:tell|say|determine)|\bunclear"
    r"|\b(?:not\s+possible|impossible|unable)\s+to\b|\bcan(?:'t|not)\s+(?:tell|be\s+sure|determine)|\b(?:may|might|could)\b"
    r"|\bnot\s+(?:sure|certain)|\bdepends?\b|\?",
    re.IGNORECASE,
)
_AFFIRM = re.compile(r"^\W*(?:correct|right|true|indeed)\b", re.IGNORECASE)


def verdict_word(sentence: str) -> str | None:
    """The yes/no a closing statement gives to a yes/no question: a "yes"/"no" it says
    ("so I would say yes"), else its polarity: negated is no ("It is not symmetric."),
    asserted is yes ("so AB is indeed parallel to CD."); None when it voices doubt."""
    plain = strip_math_delimiters(sentence).replace("**", "")
    if _UNDECIDED.search(plain):
        return None
    said = [m.group(1).lower() for m in _YES_NO_WORD.finditer(plain)]
    if said:
        said = ["yes" if w in ("yes", "yep", "yeah", "true") else "no" for w in said]
        return said[-1] if len(set(said)) == 1 else None
    if _AFFIRM.match(plain):
        return "yes"
    clause = re.split(r"\b(?:so|therefore|thus|hence|which\s+means)\b", plain, flags=re.IGNORECASE)[
        -1
    ]
    # A negated closing statement denies ("It is not symmetric."); an affirmative one
    # may affirm the question or its opposite ("so the square's area is larger"), which
    # only the question tells: no verdict.
    return "no" if re.search(r"\b(?:not|never)\b|n't\b", clause, re.IGNORECASE) else None


# A choice named as what another is compared with: "more than the cube's 6", "ahead of
# the pyramid". It is not the one the sentence names as its answer.
_COMPARED_WITH = re.compile(
    r"\b(?:than|ahead\s+of|behind|compared\s+(?:to|with)|versus|vs\.?)\s+(?:\w+\s+){0,2}$",
    re.IGNORECASE,
)


def choice_named(sentence: str, choices: Sequence[str]) -> str | None:
    """The one choice whose words the sentence states and does not rule out ("so they are
    perpendicular to each other"; "the green one") nor compare it with ("... more than the
    cube's 6"), as its letter; None for none or several."""
    said = plain_text(sentence)
    worded = [plain_text(c) for c in choices]
    hits = []
    for i, words in enumerate(worded):
        if not words or not re.search(r"[a-z∠]", words):
            continue
        for m in re.finditer(r"(?<![\w-])" + re.escape(words) + r"(?![\w-])", said):
            before = said[: m.start()]
            if not _NEGATED.search(before) and not _COMPARED_WITH.search(before):
                hits.append(i)
                break
    hits = [i for i in hits if not any(j != i and worded[i] in worded[j] for j in hits)]
    return chr(ord("A") + hits[0]) if len(set(hits)) == 1 else None
