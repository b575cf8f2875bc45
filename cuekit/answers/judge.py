"""``judge``: extract the answer of a response, compare it with the gold, say why."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from cuekit.answers.extract import Extraction, extract, is_refusal
from cuekit.answers.match import choice_letters, match_answer

__all__ = ["OUTCOMES", "Verdict", "judge"]

OUTCOMES = ("correct", "wrong", "no_answer", "unscored")
_NO_ANSWER_CHOICE = re.compile(r"cannot\s+be\s+determined|not\s+enough\s+information|"
                               r"insufficient|none\s+of\s+(?:these|the\s+above)", re.IGNORECASE)


@dataclass(frozen=True)
class Verdict:
    """One decision. ``extracted`` is "" for no answer; ``rule`` is how it was found
    (boxed, phrase, conclusion, last_line, leading, whole, conflict, refusal_choice,
    none); ``match`` is the comparison rule that decided; ``reason`` says all of it in
    one line."""

    extracted: str
    rule: str
    correct: bool
    reason: str
    match: str
    outcome: str  # one of OUTCOMES


def judge(response: str, gold: str | None, choices: Sequence[str] | None = None, *,
          precision: int | None = None, question_type: str | None = None,
          answer_type: str | None = None, unit: str | None = None,
          finished: bool | None = None) -> Verdict:
    """Judge ``response`` against ``gold`` with the dataset's fields where it has them.

    ``choices`` are used for multiple choice (``question_type`` other than free_form);
    ``precision`` (decimal places) and ``answer_type`` (integer, float, list, text)
    steer the numeric comparison; ``unit`` is dropped from answers; ``finished=False``
    marks a response cut off at the token limit.
    """
    if question_type == "free_form":
        choices = None
    found = extract(response, finished=finished)
    how = f"{found.rule}" + (f" ({found.note})" if found.note else "")
    if gold is None or not str(gold).strip():
        return Verdict(found.text, found.rule, False, f"unscored: no gold answer; {how}",
                       "no gold", "unscored")
    if not found.answered and choices and is_refusal(response or ""):
        # "It cannot be determined." answers a question whose options include that
        refusals = [c for c in choices if is_refusal(c) or _NO_ANSWER_CHOICE.search(c)]
        if len(refusals) == 1:
            found = Extraction(refusals[0], "refusal_choice",
                               "the response declines, and one choice says so")
            how = f"{found.rule} ({found.note})"
    if not found.answered:
        return Verdict("", "none", False, f"no answer: {found.note}", "no answer",
                       "no_answer")
    if found.rule == "conflict":
        return Verdict(found.text, found.rule, False,
                       f"wrong: extracted {found.text!r} by boxed, {found.note}",
                       "two different final answers", "wrong")
    if found.rule != "refusal_choice" and is_refusal(found.text) and (
            not choices or choice_letters(found.text, choices)[0] is None):
        return Verdict(found.text, found.rule, False,
                       f"no answer: {found.rule} holds a refusal {found.text!r}", "refusal",
                       "no_answer")
    result = match_answer(found.text, str(gold), choices=choices, precision=precision,
                          answer_type=answer_type, unit=unit, boxes=found.boxes)
    outcome = "correct" if result.correct else "wrong"
    reason = (f"{outcome}: extracted {found.text!r} by {how}; "
              f"{'matched' if result.correct else 'failed'} gold {gold!r} by {result.rule}")
    return Verdict(found.text, found.rule, result.correct, reason, result.rule, outcome)
