"""``judge``: extract the answer of a response, compare it with the gold, say why.

Explicit commitments (a box, "Answer: X", a tag) are read gold-blind by ``extract`` and
compared with the gold. A finished response that ends in prose is read twice, as a
careful grader checks it: by ``conclude``'s first-match rules, and by ``claims`` (all
the values of the closing statement with their roles, and the last answer among them;
for a yes/no question its verdict, for worded choices the one it names). The gold then
only decides between the two readings (``_verify_closing``): the claims are accepted
when they conclude with the gold and the first reading found nothing, or no clean
answer; a gold that appears only in a restatement, in the arithmetic, or beside a
different final value is not accepted. A claimed value that is not the gold never
turns "no answer" into "wrong".

With the question text (optional), a response is read first for what the question asks
(``_question_reading``, ``cuekit.answers.question``): the asked variable among several,
the value stated for the quantity, angle or segment the question names, the count a
"How many" question asks for, the verdict of a statement that restates a yes/no
question. These readings are gold-blind, like ``extract``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from cuekit.answers.claims import (
    choice_named,
    final_claim,
    plain_sentence,
    read_claims,
    verdict_word,
)
from cuekit.answers.conclude import closing_sentences
from cuekit.answers.extract import Extraction, extract, is_refusal, prepare, retracts
from cuekit.answers.kinds import (
    asks_name,
    figure_for_a_name,
    gold_with_question_words,
    names_another,
    of_another_kind,
    one_name,
    where_for_a_value,
)
from cuekit.answers.match import Match, choice_letters, match_answer
from cuekit.answers.normalize import plain_text, strip_math_delimiters
from cuekit.answers.question import (
    about_another_quantity,
    acting_subject,
    asked_colour,
    asked_subject,
    asked_time,
    asked_variable,
    assigned_value,
    assignments,
    clause_value,
    counted,
    counted_sum,
    filled_blank,
    is_measure,
    labelled_value,
    named_scale,
    names_subject,
    names_variable,
    restated_subject,
    restates,
    sides_verdict,
    stated_precision,
    stated_value,
    statement_verdict,
    superlative_named,
    unasked_value,
    year_value,
)
from cuekit.answers.reading import ANSWER_PHRASE, PARALLEL, looks_finished, offered_values

__all__ = [
    "FIELDS",
    "OUTCOMES",
    "JudgedQuestion",
    "Verdict",
    "judge",
    "judge_question",
    "judge_with_fields",
]

OUTCOMES = ("correct", "wrong", "no_answer", "unscored")
_NO_ANSWER_CHOICE = re.compile(
    r"cannot\s+be\s+determined|not\s+enough\s+information|"
    r"insufficient|none\s+of\s+(?:these|the\s+above)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Verdict:
    """One decision. ``extracted`` is "" for no answer; ``rule`` is how it was found
    (boxed, phrase, conclusion, last_line, leading, whole, conflict, refusal_choice,
    claim, asked_variable, statement, none); ``match`` is the comparison rule that decided;
    ``reason`` says all of it in
    one line."""

    extracted: str
    rule: str
    correct: bool
    reason: str
    match: str
    outcome: str  # one of OUTCOMES


_WEAK = frozenset({"conclusion", "last_line", "whole", "leading"})
_UNREAD_CUT = "stops mid-sentence before committing to an answer"
# Readings of a response without an explicit commitment (its closing statement, its
# opening, the whole of it): one of another kind than the question asks is no answer.
_CLOSING = frozenset(
    {"conclusion", "last_line", "claim", "statement", "asked_subject", "whole", "leading"}
)
_UNREAD = frozenset({"commits to no answer", _UNREAD_CUT})


def _true_false(gold: str, choices: Sequence[str] | None) -> bool:
    if plain_text(gold) in {"true", "false"}:
        return True
    return choices is not None and {plain_text(c) for c in choices} == {"true", "false"}


def _yes_no(gold: str, choices: Sequence[str] | None) -> bool:
    if plain_text(gold) in {"yes", "no"} or _true_false(gold, choices):
        return True
    return choices is not None and {plain_text(c) for c in choices} == {"yes", "no"}


# The value is stated: "is 3", "= 48", "≈ 7.1", ": 2/3".
_STATES = re.compile(
    r"(?:\b(?:is|are|was|equals|be)|[=≈:])\s*(?:about|approximately|roughly|"
    r"around|exactly)?\s*$",
    re.IGNORECASE,
)
_STEP = re.compile(r"^(?:[-*•]\s|\d+[.)]\s|\**step\b)", re.IGNORECASE)
# A closing bullet that states the result: bold, or under a "Result"/"Answer" heading.
_RESULT_STEP = re.compile(
    r"\*\*|^#+.*\b(?:result|answer|conclusion|final|summary)", re.IGNORECASE | re.MULTILINE
)
_GOES_ON = re.compile(
    r"^\W*(?:let(?:'s|\s+me|\s+us)|now|next|we\s+need|to\s+find|first)\b", re.IGNORECASE
)
# "maybe 8, maybe 9", "6 or 7"; not ", or 90 minutes in all", which restates
_HEDGED = re.compile(r"(?<!,)\s(?:or|either)\b|\b(?:maybe|perhaps|possibly)\b", re.IGNORECASE)


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _last_lines(text: str) -> str:
    """The closing block: the last line and the lines above it up to a blank line or a
    heading, the heading included."""
    block = text.strip().split("\n\n")[-1]
    heading = text.strip().rsplit("\n#", 1)
    return (
        block
        if len(heading) == 1 or "\n\n" in heading[1].split("\n", 1)[-1]
        else block + "\n#" + heading[1].split("\n", 1)[0]
    )


def _closing_reading(
    text: str, gold: str, choices: Sequence[str] | None, ended: bool
) -> Extraction | None:
    """The answer the closing statement asserts, read from all its values (``claims``).
    ``ended``: the text looks finished; otherwise only a value that ends it counts."""
    sentences = closing_sentences(text)
    if not sentences or sentences[0].rstrip("*$ ").endswith("?"):
        return None
    if _yes_no(gold, choices):
        word = (
            verdict_word(sentences[0])
            if ended
            or re.fullmatch(r"\W*(?:yes|no|yep|yeah|nope|nah)\W*", sentences[0], re.IGNORECASE)
            else None
        )
        return Extraction(word, "claim", "the verdict of the closing statement") if word else None
    if not re.search(r"\d", gold) and not choices:
        return None  # a worded gold ("Model C"): the values of the sentence are not it
    if not ended:  # "The number of cylinders that are left is 3": it ends on its value
        final = final_claim(sentences[0])
        plain = plain_sentence(sentences[0])
        if (
            final is None
            or not re.search(_STATES, plain[: final.start])
            or re.search(r"\d\s*[+×·*/−-]\s*\d", final.text)
            or not re.fullmatch(r"[\s°%.*)]*(?:[A-Za-z]+[\s.²³^]*){0,3}", plain[final.end :])
        ):
            return None
        return Extraction(final.text, "claim", "the value the response ends on")
    if _STEP.match(_last_line(text)) and not _RESULT_STEP.search(_last_lines(text)):
        return None  # a step of reasoning or a bullet, not its conclusion
    if choices:
        letter = choice_named(sentences[0], choices)
        if letter is not None:
            return Extraction(letter, "claim", "the one choice the closing statement names")
    for index, sentence in enumerate(sentences):
        if index and (sentence.rstrip("*$ ").endswith("?") or _GOES_ON.match(sentences[0])):
            return None  # "x = 7? Let me recompute.": the reasoning goes on
        # "So housing is 35%... no, housing is the 25% slice.": what it corrects to
        sentence = _SELF_CORRECTED.split(sentence)[-1]
        sentence = re.sub(r"^\W*\d{1,2}[.)]\s+", "", sentence)  # "3. green": a list label
        claims = read_claims(sentence)
        answers = [c for c in claims if c.role == "answer"]
        if len(answers) >= 2 and _HEDGED.search(
            plain_sentence(sentence), answers[-2].end, answers[-1].start
        ):
            return Extraction(
                f"{answers[-2].text} or {answers[-1].text}",
                "claim",
                "the closing statement hedges between two values",
            )
        if len(answers) >= 2 and PARALLEL.match(
            plain_sentence(sentence), answers[-2].end, answers[-1].start
        ):
            return None  # "The hour hand points to 3 and the minute hand to 12.": two facts
        if answers:
            return Extraction(
                answers[-1].text, "claim", "the last value the closing statement asserts"
            )
        if claims:
            return None
    return None


_SELF_CORRECTED = re.compile(
    r"(?:\.{3}|…|,|—)\s*(?:no|wait|sorry|I\s+mean|rather|correction)\b[,:]?\s*", re.IGNORECASE
)
# A weak reading that is no clean answer: a computation ("4 · (4 + 16.25)") or a clause
# ("10 is the diameter"), not a value.
_UNCLEAN = re.compile(
    r"\d\s*[+×·*/−-]\s*(?!10\s*\^)[\d(]|\)\s*[+×·*/−-]|\b(?:is|are|was|were|has|have)\b"
)  # "5.97 × 10^{24}" is a value in scientific notation, not a computation
# Comparison rules that show the weak reading is not even an answer of the gold's kind.
_NOT_OF_ITS_KIND = (
    "names no choice",
    "not a yes/no answer",
    "not the gold number",
    "different answers",
    "no answer",
)


def _exact_before(answer: str, text: str) -> str | None:
    """The exact form ("4√2", "36π", "22/3") the closing statement of ``text`` states
    before its decimal ``answer`` ("Side = 4√2. Rounded, that's 5.66, so about 5.7."): the
    last one in an answer role; None when ``answer`` is no decimal or none comes before."""
    if re.fullmatch(r"[-−]?\d[\d,]*\.\d+", answer.strip()) is None:
        return None
    sentences = closing_sentences(text)[::-1]  # in reading order
    claims = [c for sentence in sentences for c in read_claims(sentence)]
    at = max((i for i, c in enumerate(claims) if c.text == answer.strip()), default=None)
    exact = [
        c.text
        for c in claims[: at or 0]
        if c.role == "answer" and re.search(r"[√π/]", c.text) and not re.search(r"\d\.\d", c.text)
    ]
    return exact[-1] if exact else None


def _no_claim(found: Extraction, text: str) -> bool:
    """The closing statement holds ``found`` only as a qualifier of a noun ("the 56°
    angle", "bars above 50") or a value it rules out ("not 15"): no answer. (Its other
    roles, after a comparison or a reason, are read less surely.)"""
    sentences = closing_sentences(text)
    roles = (
        {c.role for c in read_claims(sentences[0]) if c.text == found.text.strip()}
        if sentences
        else set()
    )
    return bool(roles) and roles <= {"qualifier", "ruled_out"}


def _verify_closing(
    found: Extraction,
    response: str,
    gold: str,
    choices: Sequence[str] | None,
    question: str | None = None,
    **fields: object,
) -> tuple[Extraction, Match | None]:
    """Check the first-match reading of a closing statement (``found``) against the
    reading by claims, as a grader checks a response that ends in prose:

    - with no first-match answer, the claims' answer counts when it is the gold (a
      different value leaves the response without an answer, as the first reading said);
    - when both give the gold, or the claims give none, ``found`` stands;
    - when only ``found`` gives the gold, it stands unless it is no clean answer (a
      clause, "10 is the diameter", a computation, or, with the ``question``, where the
      asked value is: "at x = 6"), then the claims decide;
    - when only the claims give the gold, they decide when ``found`` is not an answer of
      the gold's kind (a number for a yes/no question, words for a number), a
      computation, or a piece of the claimed value ("36" of "18π − 36"); a clean
      different value ("x = 5, and AB = BC = 10" read as 5) stands.

    Returns the reading that stands with its comparison with the gold when one was made
    (``judge`` then does not compare it again).
    """
    text = prepare(response)
    if is_refusal(text):
        return found, None
    reading = _closing_reading(text, gold, choices, looks_finished(text))
    if reading is None:
        return found, None
    claimed = match_answer(reading.text, gold, choices=choices, **fields)  # type: ignore[arg-type]
    if not found.answered:  # verified: it concludes with the gold; otherwise still none
        return (reading, claimed) if claimed.correct else (found, None)
    first = match_answer(found.text, gold, choices=choices, **fields)  # type: ignore[arg-type]
    unclean = _UNCLEAN.search(strip_math_delimiters(found.text)) is not None or bool(
        question  # "The peak, at x = 6, is 120.": where the asked value is, not the value
        and where_for_a_value(found.text, (closing_sentences(text) or [""])[0], question)
    )
    # the claims' reading, said instead of the first one
    instead = Extraction(
        reading.text,
        "claim",
        f"{reading.note}; the first reading {found.text!r} ({found.rule}) is no clean answer",
    )
    if first.correct:  # "the 70° angle ...: thirty-five degrees" does not answer 70
        if (unclean or _no_claim(found, text)) and not claimed.correct:
            return instead, claimed
        return found, first
    if not claimed.correct:
        return found, first
    piece = found.text.strip() in reading.text and found.text.strip() != reading.text.strip()
    if unclean or piece or first.rule.startswith(_NOT_OF_ITS_KIND) or _no_claim(found, text):
        return instead, claimed
    return found, first


_EXPLICIT = frozenset({"boxed", "phrase", "tagged"})
_RETRACTED = re.compile(r"retracts|changes its mind")
_ASSIGNS = re.compile(r"^\W*([a-z])\s*=")
# "If x = 5, ...", "Try x = 5": a trial value, not a result
_TRIAL = re.compile(
    r"\b(?:if|try|trying|suppose|assume|assuming|when|test(?:ing)?|plug\w*|"
    r"substitut\w*|check(?:ing)?|let)\W+(?:\w+\W+){0,2}$",
    re.IGNORECASE,
)


def _asked_value(found: Extraction, text: str, variable: str) -> str | None:
    """The value of the asked ``variable`` when ``found`` does not give it: an explicit
    answer that lists several variables ("x = 42, y = 138, z = 16"), a closing statement
    that assigns several ("So y = 18, with x = 9"), or one about something else after
    the variable was solved ("x = 4 ... Each side is then x + 6 = 10")."""
    if found.rule in _EXPLICIT:
        other = _ASSIGNS.match(strip_math_delimiters(found.text))
        value = assigned_value(found.text, variable)
        if value is not None:
            return value
        if other is None or other.group(1) == variable:
            return None
        at = text.rfind(found.text)  # "Answer: x = 42, y = 138" read as "x = 42": its line
        line = text[text.rfind("\n", 0, at) + 1 :] if at >= 0 else ""
        return assigned_value(line.split("\n", 1)[0], variable)
    if _RETRACTED.search(found.note):
        return None  # the closing statement replaces a retracted answer: it stands
    sentences = closing_sentences(text)
    closing = sentences[0] if sentences else ""
    # "x = 5 would make it degenerate, so x must be 7": the concluding clause first
    clause = re.split(r"\b(?:so|therefore|thus|hence)\b", closing, flags=re.IGNORECASE)[-1]
    if len(assignments(closing, variable)) >= 2:
        return None  # "x = −1 and x = 3": the solutions, read as a list already
    if names_variable(clause, variable):
        return assigned_value(clause, variable)
    value = assigned_value(closing, variable)
    if value is not None or names_variable(closing, variable):
        return value
    if any(s.rstrip("*$ ").endswith("?") or _GOES_ON.match(s) for s in sentences):
        return None  # "x = 7? Let me recompute.": the reasoning goes on
    last = strip_math_delimiters(_last_line(text)).replace("**", "").strip(" .")
    if re.fullmatch(r"[a-z]\s*=\s*[^=\s]+", last):
        return None  # "**b = 9**" alone on the last line: it answers with another variable
    solved = _solved_value(text, variable)
    if solved is not None and _a_rounding_of(found.text, solved):
        return None  # "x = 8.66 … Rounded to the nearest tenth: 8.6": the closing rounds it
    return solved


def _near(value: float, target: float) -> bool:
    """Within 5% of ``target``: the same value rounded, not another value."""
    return abs(value - target) <= 0.05 * max(abs(target), 1e-9)


def _a_rounding_of(final: str, solved: str) -> bool:
    """``final`` is a plain number within 5% of the number ``solved`` ends on: the same
    value, rounded (correctly or not), not a further quantity."""
    numbers = [
        re.findall(r"[-−]?\d+(?:\.\d+)?", strip_math_delimiters(side).replace(",", ""))
        for side in (final, solved)
    ]
    if len(numbers[0]) != 1 or not numbers[1]:
        return False
    said, value = (float(found[-1].replace("−", "-")) for found in numbers)
    return said != value and _near(said, value)


def _solved_value(text: str, variable: str) -> str | None:
    """The value of the last assignment to ``variable`` that is not a trial ("If x = 5")."""
    found_all = [
        m
        for m in re.finditer(r"(?<![\w\\])" + re.escape(variable) + r"\s*=", text)
        if not _TRIAL.search(text, max(0, m.start() - 30), m.start())
    ]
    return assigned_value(text[found_all[-1].start() :], variable) if found_all else None


def _subject_value(
    found: Extraction, text: str, question: str, subject: str, specific: bool
) -> str | None:
    """The value the response states for what the question names ("the difference ... is
    45, and the average is 35"): in the closing statement; when the closing statement is
    about something else, in the sentence before it ("... the exterior angle is 60°. The
    sum of the exterior angles is 360°."), and for a specific name ("angle 1", "AB") in
    any earlier sentence ("Angle 1 measures 40°. The other two are 60° and 80°.")."""
    if _RETRACTED.search(found.note):
        return None
    sentences = closing_sentences(text)
    closing = sentences[0] if sentences else ""
    if names_subject(closing, subject) or (not specific and len(sentences) < 2):
        return stated_value(closing, subject, question)
    if not specific:  # "... the exterior angle is 60°. The sum of the exterior angles is 360°."
        return stated_value(sentences[1], subject, question)
    if any(s.rstrip("*$ ").endswith("?") or _GOES_ON.match(s) for s in sentences):
        return None
    for sentence in reversed(re.split(r"(?<=[.!?])\s+|\n+", text)):
        value = stated_value(sentence, subject, question)
        if value is not None:
            return value
    return None


def _question_reading(
    found: Extraction,
    response: str,
    question: str,
    yes_no: bool,
    choices: Sequence[str] | None = None,
) -> Extraction:
    """Read ``found`` again with the question (``cuekit.answers.question``): the value of
    the asked variable, the verdict of a statement that restates a yes/no question, the
    subject of a restated "Which ...?" question."""
    text = prepare(response)
    variable = asked_variable(question)
    weak = (
        found.rule in _WEAK
        or found.rule == "claim"
        or (found.rule == "none" and found.note in _UNREAD)
    )
    if weak and not looks_finished(text):
        return found
    if variable is not None and (weak or found.rule in _EXPLICIT):
        value = _asked_value(found, text, variable)
        if value is not None and value != found.text.strip():
            rule = found.rule if found.rule in _EXPLICIT else "asked_variable"
            return Extraction(
                value,
                rule,
                f"the value of {variable}, which the question asks for, in {found.text!r}"
                if found.answered
                else f"the value of {variable}, which the question asks for",
                found.boxes,
            )
        return found
    if not weak or is_refusal(text):
        return found
    sentences = closing_sentences(text)
    if not sentences:
        return found
    subject = asked_subject(question)
    value = _subject_value(found, text, question, *subject) if subject is not None else None
    if (
        value is not None
        and value != found.text.strip()
        and not _a_rounding_of(found.text, value)  # "Average = 23.75 ... one decimal: 23.7"
    ):
        return Extraction(
            value, "asked_subject", "the value the response states for what the question asks"
        )
    # no clean first reading ("the most popular at 45%"), or a year of the question picks
    # the clause ("In 2015 renewables were 22%; by 2020 they reached 29%.")
    unclean = not found.answered or len(found.text.split()) > 2
    year = _other_year(sentences[0], found.text, question)
    asks_figure = not yes_no and not asks_name(question)
    yearly = year_value(sentences[0], question) if (unclean or year) and asks_figure else None
    if yearly is not None and yearly != found.text:  # "... 8.9% in 2011, then 8.1% in 2012."
        return Extraction(yearly, "asked_subject", "the figure the response gives the asked year")
    # "The 'Very likely' slice is 23%, the 'Somewhat likely' slice is 41%.": the last
    # clause is about another named thing
    elsewhere = names_another(re.split(r",\s+|;\s+", sentences[0])[-1], question)
    part = (
        clause_value(sentences[0], question)
        if (unclean or year or elsewhere) and not yes_no
        else None
    )
    if part is not None and part != found.text:
        return Extraction(part, "asked_subject", "the value of the clause that names the subject")
    if len(sentences) >= 2 and not yes_no and names_another(sentences[0], question):
        # "The 'Very likely' slice is 23%. The 'Somewhat likely' slice is 41%.": the
        # closing sentence is a further fact about another thing
        before = clause_value(f"{sentences[1]}; {sentences[0]}", question)
        if before is not None and before != found.text and before in sentences[1]:
            return Extraction(
                before,
                "asked_subject",
                "the value of the sentence that names the subject; the closing one names another",
            )
    blank = filled_blank(sentences[0], question)
    if blank is not None and blank != found.text:  # "It is (_) past six." -> "quarter"
        return Extraction(blank, "asked_subject", "what the response puts in the question's blank")
    listed = labelled_value(text, question)
    if listed is not None and listed != found.text:  # "Very satisfied: 34%\nNot ...: 25%"
        return Extraction(listed, "asked_subject", "the value of the label the question names")
    fall = re.search(
        r"\b(?:dropped|fell|decreased|declined|went\s+down|lost)\s+by\s+(\d+(?:\.\d+)?)",
        strip_math_delimiters(sentences[0]),
    )
    if (
        fall is not None
        and re.search(r"\bchange\b", question, re.I)
        and found.text.strip()
        in (
            "",
            fall.group(1),
        )
    ):  # "The temperature dropped by 9 °C." for "What is the change ...?": −9
        return Extraction(f"-{fall.group(1)}", "asked_subject", "a fall, as a signed change")
    axis = re.search(r"\b([xy])-coordinate\b", question, re.I)
    point = re.fullmatch(r"\(\s*([^,()]+?)\s*,\s*([^,()]+?)\s*\)", found.text.strip())
    if axis is not None and point is not None:  # "(2, 4)" for "What is the y-coordinate ...?"
        return Extraction(
            point.group(1 if axis.group(1).lower() == "x" else 2),
            "asked_subject",
            f"the {axis.group(1).lower()}-coordinate of {found.text!r}, which the question asks",
        )
    crossings = _intercepts(sentences[0], question)
    if crossings is not None and crossings != found.text:  # "(−1, 0) and (4, 0)": −1 and 4
        return Extraction(crossings, "asked_subject", "the intercepts of the points it gives")
    plain_closing = strip_math_delimiters(sentences[0])
    y_value = re.search(r"\by\s*(?:=|≈|\\approx)\s*([-−]?\d[\d,]*(?:\.\d+)?)", plain_closing)
    if (
        y_value is not None
        and re.search(r"\bx\s*=", plain_closing)
        and re.search(r"\bvalue\b", question, re.I)
        and not re.search(r"\bx\b", _plain(question))
        and found.text != y_value.group(1)
    ):  # "at around x = 6, where y ≈ 120" for "What is the value of the peak?"
        return Extraction(y_value.group(1), "asked_subject", "the value (y) of the point it names")
    quoted = set(re.findall(r"['‘\"“]([^'’\"”]{1,30})['’\"”]", sentences[0]))
    if (
        re.match(r"^\W*which\b", _plain(question), re.I)
        and len(quoted) == 1
        and (not found.answered or restates(found.text, question))
    ):  # "The bar labelled 'Books' reaches exactly 25." for "Which ... has a value of 25?"
        return Extraction(
            quoted.pop(), "asked_subject", "the one name the closing statement quotes"
        )
    colour = asked_colour(sentences[0], question)
    if colour is not None and colour != found.text:  # "the green one at the back"
        return Extraction(colour, "asked_subject", "the one colour the closing statement names")
    time = asked_time(sentences[0], question)
    if time is not None and time not in found.text:  # "In which month ...?": the month
        return Extraction(time, "asked_subject", "the one time the closing statement names")
    total = counted_sum(sentences[0], question)
    if total is not None and total != found.text:  # "4 small triangles plus the large one"
        return Extraction(total, "asked_subject", "the count it gives as a sum of its parts")
    asks_count = re.search(
        r"\bhow\s+many\s+(\w+)|\bthe\s+number\s+of\s+(\w+s)\b", _plain(question), re.I
    )
    items = _listed_items(found.text, sentences[0]) if asks_count else None
    if asks_count and items is None and (not found.answered or restates(found.text, question)):
        items = _numbered_items(text, asks_count.group(1) or asks_count.group(2))
    if items is not None:  # "The years above 500 are 2016, 2018, 2019 and 2021.": four
        return Extraction(
            str(len(items)), "asked_subject", f"the number of items it lists: {items}"
        )
    number = counted(sentences[0], question)
    if number is not None and (
        not found.answered
        or not re.search(r"\d", found.text)  # "It's an octagon." for "How many sides ...?"
        or restates(found.text, question)
        or is_measure(found.text, sentences[0])  # "six sides, each 3 units long"
        or len(found.text.split()) > 3  # "12 dots: three rows with 4 dots in each row"
    ):
        return Extraction(
            number,
            "asked_subject",
            "the count of what the question asks for"
            + (
                f"; {found.text!r} restates the question"
                if restates(found.text, question)
                else f"; {found.text!r} is no count"
                if found.answered
                else ""
            ),
        )
    other = unasked_value(sentences[0], question) if not found.answered else None
    if other is not None and not yes_no:
        return Extraction(
            other,
            "asked_subject",
            "the one value of the closing statement that the question does not give",
        )
    if yes_no and plain_text(found.text) not in {"yes", "no", "true", "false"}:
        verdict = statement_verdict(sentences[0], question)
        sides = sides_verdict(text, sentences[0], question) if verdict is None else None
        if sides is not None:  # "Smallest bars: 18 + 27 = 45. Largest: 41. 45 > 41."
            return Extraction(
                sides, "statement", "the two numbers it compares stand for the question's sides"
            )
        if verdict is not None:
            return Extraction(
                verdict,
                "statement",
                "the closing statement restates the "
                f"question and {'affirms' if verdict == 'yes' else 'denies'} it",
            )
        return found
    named = (
        restated_subject(sentences[0], question)
        or acting_subject(sentences[0], question)
        or (
            superlative_named(sentences[0], question)
            if not found.answered or figure_for_a_name(found.text, question)
            else None
        )
    )
    if named is not None and named != found.text:
        return Extraction(
            named, "statement", "the subject of the closing statement, which restates the question"
        )
    single = (
        one_name(sentences[0], question)
        if not choices and (not found.answered or figure_for_a_name(found.text, question))
        else None
    )
    if single is not None:  # "The highest value is 42, for Canada." for "Which country ...?"
        return Extraction(single, "asked_subject", "the one name the closing statement gives")
    return found


def _other_year(sentence: str, value: str, question: str) -> bool:
    """The clause of ``sentence`` that holds ``value`` names a year the question does not
    ("In 2015 renewables were 22%" for "... in 2020?")."""
    if not value.strip() or not re.search(r"\b(?:1[89]|20)\d{2}\b", _plain(question)):
        return False
    for clause in re.split(r",\s+|;\s+", strip_math_delimiters(sentence)):
        if value.strip() in clause:
            years = re.findall(r"\b(?:1[89]|20)\d{2}\b", clause)
            return any(not restates(y, question) for y in years)
    return False


def _intercepts(sentence: str, question: str) -> str | None:
    """For "What are the x-intercepts?" (or the roots, the zeros; the y-intercept): the
    points the sentence gives on that axis, as their coordinates ("(−1, 0) and (4, 0)"
    -> the set of −1 and 4); None unless every point it gives lies on the axis."""
    axis = re.search(r"\b([xy])-intercepts?\b|\b(roots|zeros|zeroes)\b", _plain(question), re.I)
    if axis is None:
        return None
    on_x = (axis.group(1) or "x").lower() == "x"
    points = re.findall(
        r"\(\s*([-−]?\d[\d.]*)\s*,\s*([-−]?\d[\d.]*)\s*\)", strip_math_delimiters(sentence)
    )
    if not points or any(float(p[1 if on_x else 0].replace("−", "-")) != 0 for p in points):
        return None
    values = [p[0 if on_x else 1] for p in points]
    return values[0] if len(values) == 1 else "\\{" + ", ".join(values) + "\\}"  # no order


def _plain(question: str) -> str:
    """The question without MathVista's hint line."""
    return re.sub(r"^\s*Hint:[^\n]*\n\s*(?:Question:\s*)?", "", question)


def _listed_items(found: str, sentence: str) -> list[str] | None:
    """The items a closing statement lists for a "How many" question: the answer read
    ("2016, 2018, 2019 and 2021") or the words after a closing colon ("Countries above
    3%: India, Vietnam."), two or more items of at most three words; else None."""
    plain = strip_math_delimiters(sentence)
    after_colon = re.search(r":\s+((?-i:[A-Z])[^:\d]*?)\W*$", plain)
    # "The value exceeded 50 in 2016, 2018 and 2020.": the list that ends the sentence
    name = r"(?:(?:1[89]|20)\d{2}|[A-Z][\w'-]*)"  # a year or a name: "in 2017 and 2019"
    ending = re.search(rf"((?:{name},\s+)*{name},?\s+and\s+{name})\W*$", plain)
    for text, joined in (
        (found, r"\band\b"),
        (after_colon.group(1) if after_colon else "", ","),
        (ending.group(1) if ending else "", r"\band\b"),
    ):
        items = [i for i in re.split(r",\s+(?:and\s+)?|\s+and\s+", text.strip()) if i]
        if (
            len(items) >= 2
            and re.search(joined, text)
            and all(0 < len(item.split()) <= 3 for item in items)
            and not any(re.match(r"\d+\s+[A-Za-z]", item) for item in items)  # "3 cubes"
        ):
            return items
    return None


_NUMBERED_ITEM = re.compile(r"^\W{0,3}(\d{1,2})[.)]\s+(.+)$")


def _numbered_items(text: str, noun: str) -> list[str] | None:
    """The items of a numbered list that answers "How many <noun> ...?" by listing: 1 to
    N, short, right after a lead-in that names the noun and ends in a colon ("Items with
    a bar above 5:"), with at most a closing remark after it. None for steps of reasoning
    ("Steps:\n1. ...") or anything else."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    end = len(lines) - 1 if len(lines) > 1 and not _NUMBERED_ITEM.match(lines[-1]) else len(lines)
    start = end
    while start > 0 and _NUMBERED_ITEM.match(lines[start - 1]):
        start -= 1
    items = [_NUMBERED_ITEM.match(line) for line in lines[start:end]]
    if (
        len(items) < 2
        or start == 0
        or not lines[start - 1].rstrip("*").endswith(":")
        or not re.search(r"\b" + re.escape(noun.lower().rstrip("s")), lines[start - 1].lower())
        or [int(m.group(1)) for m in items if m] != list(range(1, len(items) + 1))
        or any(len(m.group(2).split()) > 6 for m in items if m)
    ):
        return None
    return [m.group(2).strip() for m in items if m]


_EXACT_ASKED = re.compile(r"\bexact\s+(?:value|form|answer|area|length)\b|\bexactly\b", re.I)


# An exact value in simplest form: "6√2", "4\\pi", "\\frac{3}{4}", "2\\sqrt{3}"; not an
# unevaluated expression such as "π·7²".
_SIMPLE_EXACT = re.compile(
    r"[-−]?\d*(?:√\d+|\\sqrt\{\d+\}|π|\\pi)(?:/\d+)?|[-−]?\\frac\{[^{}]+\}\{[^{}]+\}|[-−]?\d+/\d+"
)


def _decimal_only(answer: str, gold: str) -> bool:
    """The answer's final value is a decimal ("A = π·7² ≈ 153.94") for a gold that is not
    one (49π): a rounding where the question asks for the exact value."""
    parts = re.split(r"=|≈|\\approx", strip_math_delimiters(answer))
    if len(parts) > 1 and _SIMPLE_EXACT.fullmatch(parts[-2].strip().replace(" ", "")):
        return False  # "6√2 ≈ 8.49": the exact form is given, its rounding only beside it
    final = parts[-1].strip()
    return (
        re.fullmatch(r"[-−]?\d[\d,]*\.\d+(?:\s*[A-Za-z²³]*)?", final) is not None
        and re.fullmatch(r"[-−]?\d[\d,]*(?:\.\d+)?", gold.strip()) is None
    )


# A closing that leaves the answer to a condition it does not settle: "it depends on
# whether sunglasses count", "the answer could be 15 or 29", "B if the angles are
# alternate interior angles, otherwise none", "with them Yes, without them No".
_UNDECIDED = re.compile(
    r"\b(?:it|this|that|the\s+answer)\s+(?:really\s+)?depends\s+on\b"
    r"|\bdepend(?:s|ing)\s+on\b|\beither\s+\S{1,30}\s+or\s+"
    r"|\b(?:is|be)\s+(?-i:\(?[A-H]\)?\s+or\s+\(?[A-H]\)?)(?!\w)"
    r"|\b(?:is|are)\s+(?:also|equally)\s+(?:possible|plausible|valid|likely)\b"
    r"|\b(?:could|might|may)\s+be\s+(?:either\s+)?[^.;\n]{1,30}?\s+or\s+"
    r"|\bif\b[^.\n]{3,120}?[,;]\s*(?:but\s+|and\s+)?(?:otherwise|else)\b"
    r"|\bwith\s+(?:them|it|this|that)\b[^.\n]{0,60}\bwithout\s+(?:them|it|this|that)\b",
    re.IGNORECASE,
)
_COMMITS = re.compile(r"\\boxed\b|<answer>|" + ANSWER_PHRASE.pattern, re.IGNORECASE)


# "So x = −12 or x = 5.": both solutions left standing where one value is asked
_BOTH_ROOTS = re.compile(r"(?<![\w\\])([a-z])\s*=\s*[^\s,;]+\s*,?\s+or\s+\1\s*=")


def _undecided(text: str, *, one_value: bool = False) -> str | None:
    """The clause of the closing paragraph that leaves the answer open, when nothing after
    it settles the answer; None for a response that decides. ``one_value``: the gold is one
    value, so two solutions offered for it are open too."""
    paragraph = re.split(r"\n\s*\n", text.strip())[-1]
    markers = [*_UNDECIDED.finditer(paragraph), *offered_values(paragraph)]
    if one_value:
        markers += list(_BOTH_ROOTS.finditer(paragraph))
    if not markers:
        return None
    marker = max(markers, key=lambda match: match.end())
    end = re.search(r"[.;!?](?:\s|$)", paragraph[marker.end() :])
    stop = marker.end() + end.end() if end else len(paragraph)
    after = paragraph[stop:]
    if _COMMITS.search(after) or (  # "x could be 6 or −6; since it is a length, x = 6."
        re.search(r"(?:=|\bis\b)\s*\S", after) and not re.search(r"\bif\b|\botherwise\b", after)
    ):
        return None
    clause = re.split(r"(?<=[.;!?])\s", paragraph[: marker.start()])[-1]
    return (clause + paragraph[marker.start() : stop]).strip()


# Where a response settles for an option it did not find: "the closest option is D",
# "the closest is D", "D is the nearest", "None of the choices match"; not "the nearest
# tenth" nor "the point closest to A".
_CLOSEST = re.compile(
    r"\b(?:closest|nearest)(?:\s+(?:option|choice|answer|match|one|value)s?\b|\s+is\b|\W*$)"
    r"|\bis\s+(?:the\s+)?(?:closest|nearest)\b"
    r"|\bnone\s+of\s+the\s+(?:options|choices|answers)\s+(?:\w+\s+)?(?:match|fit|equal|agree)"
    # "70° is not one of the options", "isn't an option", "not among the choices"
    r"|\b(?:is|are)\s*(?:not|n't)\s+(?:one\s+of\s+|among\s+|in\s+|listed\s+in\s+)?the\s+"
    r"(?:options|choices|answer\s+choices)|\bisn't\s+an?\s+(?:option|choice)\b",
    re.IGNORECASE | re.MULTILINE,
)


def _far_guess(text: str, answer: str, choices: Sequence[str] | None) -> str | None:
    """A choice picked as "the closest option" to a value of the response's own that is
    more than 5% away from it: a guess, not the answer it found. None otherwise."""
    # the last one: an earlier "closest option" may have been given up since
    closest = next(reversed(list(_CLOSEST.finditer(text))), None)
    if closest is None or not choices:  # checked first: choice_letters may call math-verify
        return None
    if retracts(text[closest.end() :]):  # "The closest is D. Wait, I made an error ... B"
        return None
    letters, _ = choice_letters(answer, choices)
    if not letters or len(letters) != 1:
        return None
    named = re.search(
        r"\b(?-i:[A-H])\b", text[closest.end() : closest.end() + 40].replace("boxed", "")
    )
    if named is not None and named.group() not in letters:
        return None  # "The closest option is A. ... Wait — ... The correct answer is B."
    own = [
        float(n.replace(",", ""))
        for n in re.findall(r"\d[\d,]*(?:\.\d+)?", text[: closest.start()])
    ]
    picked = re.fullmatch(  # an option's number, with its degree sign or unit
        r"\s*(\d+(?:\.\d+)?)\s*(?:°|\^\s*\{?\\circ\}?|%|[a-z]{1,3})?\s*",
        choices[ord(next(iter(letters))) - ord("A")],  # type: ignore[index]
    )
    if not own or picked is None:
        return None
    value, option = own[-1], float(picked.group(1))
    if _near(value, option):
        return None
    later = re.findall(r"(?:=|≈|\\approx)\s*\$?\s*(\d+(?:\.\d+)?)", text[closest.end() :])
    if any(_near(float(n), option) for n in later):
        return None  # "118 is not among the choices, I'll reconsider: ... m∠3 = 62°"
    return f"it picks the closest option to its own {value:g}"


def _leading_choice(text: str, choices: Sequence[str]) -> str | None:
    """The choice a finished response opens with, as an answer set apart by punctuation
    before its evidence ("Science, with 75.6B tokens, ahead of Code"), as its letter."""
    if not looks_finished(text):
        return None
    opening = text.strip().lstrip("*#").strip()
    for index, choice in enumerate(choices):
        words = plain_text(choice)
        if re.search(r"[a-z]", words) and re.match(
            re.escape(words) + r"\**\s*(?:[,;:—–]|\.\s|\s-\s)", opening, re.IGNORECASE
        ):
            return chr(ord("A") + index)
    return None


# "... corresponds to option B.\n\n\boxed{B": a box the output stopped inside.
_OPEN_BOX = re.compile(r"\\boxed\s*\{\s*([A-H]|[-−]?\d+(?:\.\d+)?)\s*$")


def _before_open_box(text: str, finished: bool | None) -> Extraction | None:
    """For a response that stops inside a box holding one letter or number: the answer of
    the text before the box when that answer is the box's, else None (cut off)."""
    opened = _OPEN_BOX.search(text.rstrip())
    if opened is None:
        return None
    before = extract(text[: opened.start()], finished=finished)
    same = before.answered and plain_text(before.text).strip("() ") == opened.group(1).lower()
    return replace(before, note=f"{before.note}; the box it stops inside agrees") if same else None


# "Therefore, the area ... is approximately **18.85** square units.": a concluding
# sentence that sets its value in bold commits to it as plainly as a box does.
_BOLD_CONCLUSION = re.compile(
    r"(?:^|[.!]\s+|\n)\W*(?:therefore|thus|hence|so)\b[^.\n]{0,100}?\*\*\$?([^*\n$]{1,30}?)\$?\*\*"
    r"(?=[^.\n]{0,40}(?:\.\s|\.$|$))",
    re.IGNORECASE,
)


def _bold_conclusion(text: str) -> Extraction | None:
    """For a response cut off after it concluded: the bold value of its last concluding
    sentence, when nothing after it retracts or commits again; else None."""
    concluded = [*_BOLD_CONCLUSION.finditer(text)]
    if not concluded:
        return None
    after = text[concluded[-1].end() :]
    if retracts(after) or _COMMITS.search(after) or "**" in after:
        return None
    return Extraction(
        concluded[-1].group(1).strip(),
        "phrase",
        "the bold value of its concluding sentence, before the output stops",
    )


_LABELLED = re.compile(r"^\(?([A-H])\)?(?:[.):]\s*|\s+)(.+)$")


# "drama, i.e. (C)", "6, that is option B": the option a closing names beside its answer
_NAMED_AFTER = re.compile(
    r"(?:,|\()\s*(?:i\.e\.|that\s+is|which\s+is)\s*,?\s*(?:(?:option|choice)\s+\(?|\()"
    r"(?-i:([A-H]))\b\)?\W*$",
    re.IGNORECASE,
)
# "\boxed{\pi}, which gives \boxed{6.283}": two boxes given as the same value
_LINKED = re.compile(r"^\W*(?:which\s+gives|gives|i\.e\.|that\s+is|or|=|≈|\\approx)\W*$", re.I)


def _letter_against_text(text: str, found: str, choices: Sequence[str]) -> str | None:
    """The option a closing sentence names after its answer ("drama, i.e. (C)") when the
    answer is another option's text: two picks, None otherwise."""
    closing = text.strip().splitlines()[-1] if text.strip() else ""
    named = _NAMED_AFTER.search(closing)
    if named is None:
        return None
    letters, _ = choice_letters(found, choices)
    if letters is None or len(letters) != 1 or named.group(1) in letters:
        return None
    return f"it names option {named.group(1)} beside choice {next(iter(letters))}"


def _linked_boxes_differ(text: str, boxes: Sequence[str], **fields: Any) -> bool:
    """The last two boxes are joined as one value ("\\boxed{\\pi}, which gives
    \\boxed{6.283}") but do not agree."""
    if len(boxes) < 2:
        return False
    starts = [m.start() for m in re.finditer(r"\\boxed\s*\{", text)]
    if len(starts) < 2:
        return False
    between = text[starts[-2] : starts[-1]]
    gap = between[between.find(boxes[-2]) + len(boxes[-2]) + 1 :] if boxes[-2] in between else ""
    if not _LINKED.match(gap.replace("$", "").replace("\\(", "").replace("\\)", "")):
        return False
    return not match_answer(boxes[-2], boxes[-1], **fields).correct


def _closing_choice(text: str, choices: Sequence[str]) -> str | None:
    """The letter of a last line that is one of the choices: its label with its text
    ("B. increase", "(A) Solution A") or the text alone ("quarter"). Not the last line of
    a list of the options, which walks through them rather than picks one."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if not lines or (len(lines) > 1 and _LABELLED.match(lines[-2].strip().strip("*#>- "))):
        return None
    line = strip_math_delimiters(lines[-1]).strip().strip("*#> ").rstrip(".").strip()
    texts = [plain_text(choice).rstrip(".") for choice in choices]
    labelled = _LABELLED.match(line)
    if labelled is not None:
        index = ord(labelled.group(1)) - ord("A")
        said = plain_text(labelled.group(2)).rstrip(".")
        return labelled.group(1) if index < len(texts) and said == texts[index] else None
    named = [index for index, words in enumerate(texts) if words == plain_text(line)]
    return chr(ord("A") + named[0]) if len(named) == 1 else None


def judge(
    response: str,
    gold: str | None,
    choices: Sequence[str] | None = None,
    *,
    precision: int | None = None,
    question_type: str | None = None,
    answer_type: str | None = None,
    unit: str | None = None,
    finished: bool | None = None,
    question: str | None = None,
) -> Verdict:
    """Judge ``response`` against ``gold`` with the dataset's fields where it has them.

    ``choices`` are used for multiple choice (``question_type`` other than free_form);
    ``precision`` (decimal places) and ``answer_type`` (integer, float, list, text)
    steer the numeric comparison; ``unit`` is dropped from answers; ``finished=False``
    marks a response cut off at the token limit; ``question`` (optional) tells which
    variable is asked and what a yes/no statement affirms (``cuekit.answers.question``).
    """
    if question_type == "free_form":
        choices = None
    # a dataset's precision fixes the places an answer must give; without one, an exact
    # form before its coarser rounding counts ("9π ≈ 28.3" for 28.27)
    exact_form = precision is None
    if precision is None:  # "Round to the nearest tenth.": the question states it
        precision = stated_precision(question)
    found = extract(response, finished=finished)
    text = prepare(response)  # what a grader reads, prepared once for every check below
    how = f"{found.rule}" + (f" ({found.note})" if found.note else "")
    if gold is None or not str(gold).strip():
        return Verdict(
            found.text, found.rule, False, f"unscored: no gold answer; {how}", "no gold", "unscored"
        )
    if not found.answered and choices and is_refusal(response or ""):
        # "It cannot be determined." answers a question whose options include that
        refusals = [c for c in choices if is_refusal(c) or _NO_ANSWER_CHOICE.search(c)]
        if len(refusals) == 1:
            found = Extraction(
                refusals[0], "refusal_choice", "the response declines, and one choice says so"
            )
            how = f"{found.rule} ({found.note})"
    if choices and (found.rule in _WEAK or found.rule == "none") and found.rule != "whole":
        opening = _leading_choice(text, choices)
        if opening is not None and opening != found.text:
            found = Extraction(opening, "leading", "the response opens with the text of a choice")
            how = f"{found.rule} ({found.note})"
    if found.rule == "none" and found.note in _UNREAD:
        agreed = _before_open_box(text, finished)
        if agreed is not None:
            found = agreed
            how = f"{found.rule} ({found.note})"
    if found.rule == "none" and found.note == _UNREAD_CUT:
        concluded = _bold_conclusion(text)
        if concluded is not None:  # "... is **18.85** square units. Note that if ..., giving"
            found = concluded
            how = f"{found.rule} ({found.note})"
    if choices and found.rule == "none" and found.note in _UNREAD and finished is not False:
        picked = _closing_choice(text, choices)
        if picked is not None:  # "...so the rabbit population would grow.\n\nB. increase"
            found = Extraction(picked, "last_line", "the last line is one of the choices")
            how = f"{found.rule} ({found.note})"
    letter = bool(choices) and re.fullmatch(r"\(?[A-Z]\)?", found.text.strip()) is not None
    if question and finished is not False and not letter:
        # a choice letter is the response's pick among the options, whatever value it
        # states beside it ("30, which matches option C"): the question does not re-read it
        reread = _question_reading(found, response, question, _yes_no(str(gold), choices), choices)
        if reread is not found:
            found = reread
            how = f"{found.rule} ({found.note})"
        scale = named_scale(question)
        if scale is not None and re.search(rf"\d\s*{scale}", found.text, re.IGNORECASE):
            # "61.9 thousand" for a question asked in thousands is 61.9
            found = replace(
                found, text=re.sub(rf"\s*{scale}s?\b", "", found.text, flags=re.IGNORECASE)
            )
    checked: tuple[Extraction, Match] | None = None  # a closing reading already compared
    if finished is not False and (
        found.rule in _WEAK or (found.rule == "none" and found.note in _UNREAD)
    ):
        found, match = _verify_closing(
            found,
            response,
            str(gold),
            choices,
            question,
            precision=precision,
            answer_type=answer_type,
            unit=unit,
            exact_form=exact_form,
        )
        checked = (found, match) if match is not None else None
        how = f"{found.rule}" + (f" ({found.note})" if found.note else "")
    # with choices, a figure may be the value of the option picked
    other_kind = (
        of_another_kind(found.text, question) if found.rule in _CLOSING and not choices else None
    )
    if other_kind is None and found.rule in ("conclusion", "last_line") and not choices:
        closing = (closing_sentences(text) or [""])[0]
        if _no_claim(found, text):  # "... hold the students above 80."
            other_kind = f"{found.text!r} only qualifies a noun of the closing statement"
        elif question:  # "The peak is at x = 6." for "What is the value of the peak?"
            other_kind = where_for_a_value(found.text, closing, question)
    if other_kind is not None:  # "The highest point is 9.6%." for "Which year ...?"
        found = Extraction("", "none", other_kind)
    if not found.answered:
        return Verdict("", "none", False, f"no answer: {found.note}", "no answer", "no_answer")
    if found.rule == "conflict" and about_another_quantity(
        (closing_sentences(text) or [""])[0], question
    ):  # "... = \boxed{36}. So the area is 54." for the perimeter: a further fact
        found = Extraction(found.text, "boxed", "the closing statement is about another quantity")
    if found.rule == "conflict":
        return Verdict(
            found.text,
            found.rule,
            False,
            f"wrong: extracted {found.text!r} by boxed, {found.note}",
            "two different final answers",
            "wrong",
        )
    if (
        found.rule != "refusal_choice"
        and is_refusal(found.text)
        and (not choices or choice_letters(found.text, choices)[0] is None)
    ):
        return Verdict(
            found.text,
            found.rule,
            False,
            f"no answer: {found.rule} holds a refusal {found.text!r}",
            "refusal",
            "no_answer",
        )
    result = (
        checked[1]
        if checked is not None and checked[0] is found
        else match_answer(
            found.text,
            str(gold),
            choices=choices,
            precision=precision,
            answer_type=answer_type,
            unit=unit,
            boxes=found.boxes,
            exact_form=exact_form,
        )
    )
    exact = (
        _exact_before(found.text, text)
        if not result.correct and exact_form and found.rule in _CLOSING
        else None
    )
    if exact is not None:  # "= 4√2. Rounded, that's 5.66, so the side is about 5.7."
        rounded = match_answer(
            f"{exact} ≈ {found.text}", str(gold), precision=precision, unit=unit, exact_form=True
        )
        if rounded.correct:
            result = Match(True, f"{rounded.rule} (the response states {exact} before it)")
    if not result.correct and result.rule == "different answers" and question:
        around = gold_with_question_words(found.text, str(gold), question)
        if around is not None:  # "the Pacific Ocean" for "Pacific" asked "Which ocean ...?"
            result = Match(True, around)
    if result.correct and _EXACT_ASKED.search(question or "") and _decimal_only(found.text, gold):
        result = replace(
            result, correct=False, rule=f"{result.rule}; but the question asks it exactly"
        )
    if result.correct and choices:
        two_picks = _letter_against_text(text, found.text, choices)
        if two_picks is not None:  # "So the item ... is drama, i.e. (C)."
            result = replace(result, correct=False, rule=f"{result.rule}; but {two_picks}")
    if (
        result.correct
        and found.rule == "boxed"
        and _linked_boxes_differ(text, found.boxes, precision=precision, unit=unit)
    ):  # "\boxed{\pi}, which gives \boxed{6.283}": two boxes that do not agree
        result = replace(
            result, correct=False, rule=f"{result.rule}; but its last two boxes disagree"
        )
    open_end = (
        _undecided(text, one_value=not re.search(r"[,;]|\b(?:or|and)\b", str(gold)))
        if result.correct
        else None
    )
    if open_end is not None:  # "It depends on whether ...: with them Yes, without them No"
        result = replace(
            result,
            correct=False,
            rule=f"{result.rule}; but the response leaves it undecided: {open_end[:80]!r}",
        )
    guess = _far_guess(text, found.text, choices) if result.correct else None
    if guess is not None:  # "P = 32. The closest option is 24." picks what it did not find
        result = replace(result, correct=False, rule=f"{result.rule}; but {guess}")
    outcome = "correct" if result.correct else "wrong"
    reason = (
        f"{outcome}: extracted {found.text!r} by {how}; "
        f"{'matched' if result.correct else 'failed'} gold {gold!r} by {result.rule}"
    )
    return Verdict(found.text, found.rule, result.correct, reason, result.rule, outcome)


# The dataset fields ``judge`` reads, by the names sample records and the corpus use.
FIELDS = ("choices", "precision", "question_type", "answer_type", "unit", "question")


def judge_with_fields(
    response: str, gold: str | None, fields: Mapping[str, Any], *, finished: bool | None = None
) -> Verdict:
    """``judge`` with the dataset fields taken from a record (a corpus case, a sample's
    ``extra_info``): a missing or empty field is one the source does not have."""
    given = {name: fields.get(name) for name in FIELDS}
    return judge(
        response,
        gold,
        given["choices"] or None,
        precision=given["precision"],
        question_type=given["question_type"],
        answer_type=given["answer_type"],
        unit=given["unit"],
        finished=finished,
        question=given["question"],
    )


class JudgedQuestion(Protocol):
    """What the judge reads of a question: a :class:`~cuekit.schemas.Sample` or an eval item."""

    @property
    def question(self) -> str: ...
    @property
    def answer(self) -> str | None: ...
    @property
    def choices(self) -> list[str] | None: ...
    @property
    def precision(self) -> int | None: ...
    @property
    def question_type(self) -> str | None: ...
    @property
    def answer_type(self) -> str | None: ...
    @property
    def unit(self) -> str | None: ...


def judge_question(
    response: str, question: JudgedQuestion, *, finished: bool | None = None
) -> Verdict:
    """``judge`` of ``response`` against ``question.answer`` with every field the question's
    source gives. `cuekit eval` and distill's held-out accuracy both call this, so they
    count the same answers as correct."""
    fields = {name: getattr(question, name) for name in FIELDS}
    return judge_with_fields(response, question.answer, fields, finished=finished)
