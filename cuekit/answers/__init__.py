"""Judge free-form VLM answers as a careful human grader would.

- ``extract``: the answer a response commits to, and the rule that found it;
- ``conclude``: the closing statement of a response without an explicit commitment;
- ``claims``: every value a closing statement asserts, with its role, and the last one;
- ``reading``: one phrase: the answer it holds, refusals, whether text looks finished;
- ``match``: does it equal the gold (choices, yes/no, lists, numbers, math-verify);
- ``numbers``: numeric values, precision and rounding;
- ``normalize``: LaTeX, unicode and escapes to one spelling;
- ``symbolic``: math-verify, the symbolic back end;
- ``question``: what the question asks (the variable, the quantity named, a yes/no
  proposition), when the caller passes the question text;
- ``judge``: them together, returning a ``Verdict`` with its reason; a response that ends
  in prose is checked against the gold by its claims (``judge`` docstring).

Used by ``cuekit eval`` and by distill's held-out accuracy.
"""

from cuekit.answers.extract import Extraction, extract, find_boxed
from cuekit.answers.judge import (
    FIELDS,
    OUTCOMES,
    JudgedQuestion,
    Verdict,
    judge,
    judge_question,
    judge_with_fields,
)
from cuekit.answers.match import Match, match_answer

__all__ = [
    "FIELDS",
    "OUTCOMES",
    "Extraction",
    "Match",
    "Verdict",
    "extract",
    "find_boxed",
    "judge",
    "judge_question",
    "judge_with_fields",
    "JudgedQuestion",
    "match_answer",
]
