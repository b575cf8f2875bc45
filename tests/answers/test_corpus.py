"""The hand-labelled corpus: every response judged as its human label says.

Each line of ``judge_corpus*.jsonl`` is one realistic Qwen3-VL-style response with the
dataset fields the judge gets (choices, precision, question_type, answer_type, unit) and
the label a human grader gave it *before* the judge was run: correct, wrong, or
no_answer (the response commits to no answer). ``benchmarks/bench_judge.py`` prints the
agreement by category, beside math-verify alone.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from cuekit.answers import judge

# judge_corpus.jsonl, then each later blind batch (judge_corpus_b15.jsonl, ...), written
# and labelled before the judge first ran on it.
CORPORA = sorted(Path(__file__).parent.glob("judge_corpus*.jsonl"))
CASES = [json.loads(line) for path in CORPORA for line in path.read_text().splitlines()
         if line.strip()]
# The kinds of answer the issue asks the corpus to cover, each with right and wrong cases.
REQUIRED = {"revised", "truncated", "loop", "refusal", "precision", "escaped", "run_on",
            "choice_text", "unicode", "tuple", "multi_select", "latex", "units", "degrees",
            "percent", "negative", "thousands", "yes_no", "case", "list", "several_boxes",
            "empty"}


def test_corpus_covers_every_kind() -> None:
    assert len(CASES) >= 200
    assert len({case["id"] for case in CASES}) == len(CASES)
    categories = Counter(case["category"] for case in CASES)
    assert REQUIRED <= set(categories), REQUIRED - set(categories)
    labels = Counter(case["label"] for case in CASES)
    assert set(labels) == {"correct", "wrong", "no_answer"}
    assert min(labels.values()) >= 30


# Cases of a blind batch the judge still gets wrong, kept as they were labelled: each is
# a kind not yet handled. strict: a fix makes the test fail until the entry is removed.
KNOWN_MISSES = {
    "b15-choice_text-013": "'The biggest object is the gray cube.': a 7-word closing "
                           "sentence with an article is read as a description",
    "b15-choice_text-032": "'Only (C) satisfies the condition.' closes a paragraph of "
                           "several sentences with no concluding word",
    "b15-text-000": "'the Pacific Ocean' for gold 'Pacific': extra words around a text "
                    "answer are not accepted",
    "b16-mc-009": "'Angle A looks smaller than angle B.' for the choice 'smaller than': a "
                  "comparison is not read as the choice it states",
    "b16-float-001": "'ends just above 6, around 6.1.' (wrong) is read as no answer: the "
                     "refinement 'around 6.1' is not taken (3-way outcome only)",
    "b16-text-001": "'colored dark blue, with green second.' (wrong) is read as no answer "
                    "(3-way outcome only)",
    "b16-mc-006": "'Both B and D are possible' (a hedge, wrong) is read as no answer (3-way "
                  "outcome only)",
    "b17-point-002": "'Intersection: x = 2, y = 3' for the point (2, 3): coordinates given "
                     "as equations are read as the last one",
    "b17-chart_long-006": "'Four bars exceed 50.': a count in words beside a number in "
                          "digits gives the digits",
    "b17-percent-004": "'25 chose soccer: 50%.' (wrong) is read as no answer (3-way only)",
    "b17-chart_long-009": "'is $\\frac{13}{52}$... which is about $\\frac{1}{3} \\approx "
                          "0.33$.' (wrong) is read as no answer (3-way only)",
    "b17-short-009": "'The ball is reddish-orange, closer to orange.' (wrong) is read as no "
                     "answer (3-way only)",
    "b18-closing-033": "'dropped to negative five degrees': a negative number in words",
    "b18-mv-006": "'just past 8, about 8.2 kg.' (wrong) is read as no answer (3-way only)",
    "b18-odd-006": "'... 42? No: 40 + 12 = 52. Final: 52' (wrong) is read as no answer: "
                   "'Final:' counts as a label only at the start of a line (3-way only)",
}


def _param(case: dict) -> object:
    miss = KNOWN_MISSES.get(case["id"])
    marks = [pytest.mark.xfail(reason=miss, strict=True)] if miss else []
    return pytest.param(case, id=case["id"], marks=marks)


@pytest.mark.parametrize("case", [_param(case) for case in CASES])
def test_judge_agrees_with_the_human_label(case: dict) -> None:
    verdict = judge(case["response"], case["gold"], choices=case["choices"],
                    precision=case["precision"], question_type=case["question_type"],
                    answer_type=case["answer_type"], unit=case["unit"])
    assert (verdict.outcome, verdict.correct) == (case["label"], case["label"] == "correct"), \
        verdict.reason
