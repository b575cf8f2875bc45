"""Answer judges against hand labels: agreement by category, false accepts and rejects.

The corpus is ``tests/answers/judge_corpus*.jsonl``: realistic Qwen3-VL-style responses,
each labelled correct / wrong / no_answer by a human grader before any judge ran. The
first file holds the cases the judge was built on; each later file is one blind batch,
and its score on the judge's first run is a held-out estimate (BENCHMARKS.md). Side by
side on the same cases:

- ``cuekit``: :func:`cuekit.answers.judge` with the dataset fields of each case;
- ``math-verify``: math-verify alone, ``verify(parse(gold), parse(response))`` with its
  default extraction (boxed answers, then the last LaTeX or plain expression);
- ``--previous FILE``: any module file with ``judge(response, gold, choices)`` returning
  an object with ``.correct`` (e.g. an earlier cuekit judge taken from git history).

A judge *agrees* with a case when it calls the response correct exactly when the label
does; a *false accept* calls a wrong or unanswered response correct, a *false reject*
the reverse. For cuekit the three-way outcome (correct / wrong / no answer) is scored
too. Time per response is reported as a ratio to math-verify alone.

    python benchmarks/bench_judge.py [--corpus FILE ...] [--previous old_answers.py]
        [--out judge.json]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import format_table, write_json

from cuekit.answers import judge_with_fields

CORPORA = sorted(
    (Path(__file__).resolve().parents[1] / "tests" / "answers").glob("judge_corpus*.jsonl")
)


def cuekit_judge(case: dict[str, Any]) -> tuple[bool, str]:
    verdict = judge_with_fields(case["response"], case["gold"], case)
    return verdict.correct, verdict.outcome


def math_verify_alone(case: dict[str, Any]) -> tuple[bool, str]:
    import math_verify

    gold = case["gold"] if "$" in case["gold"] else f"${case['gold']}$"
    parsed_gold, parsed = math_verify.parse(gold), math_verify.parse(case["response"])
    if not parsed:
        return False, "no_answer"
    correct = bool(parsed_gold) and bool(math_verify.verify(parsed_gold, parsed))
    return correct, "correct" if correct else "wrong"


def load_previous(path: str) -> Callable[[dict[str, Any]], tuple[bool, str]]:
    spec = importlib.util.spec_from_file_location("previous_judge", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load a module from {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while defined
    spec.loader.exec_module(module)

    def previous(case: dict[str, Any]) -> tuple[bool, str]:
        correct = bool(module.judge(case["response"], case["gold"], case["choices"]).correct)
        return correct, "correct" if correct else "wrong"

    return previous


def score(
    name: str, fn: Callable[[dict[str, Any]], tuple[bool, str]], cases: list[dict[str, Any]]
) -> dict[str, Any]:
    """Agreement overall and per category, false accepts/rejects, and seconds taken."""
    by_category: dict[str, list[bool]] = defaultdict(list)
    false_accepts, false_rejects, outcome_agree = [], [], 0
    start = time.perf_counter()
    for case in cases:
        correct, outcome = fn(case)
        labelled = case["label"] == "correct"
        by_category[case["category"]].append(correct == labelled)
        outcome_agree += outcome == case["label"]
        if correct and not labelled:
            false_accepts.append(case["id"])
        elif labelled and not correct:
            false_rejects.append(case["id"])
    seconds = time.perf_counter() - start
    agree = sum(sum(v) for v in by_category.values())
    return {
        "judge": name,
        "cases": len(cases),
        "agree": agree,
        "agreement": agree / len(cases),
        "outcome_agreement": outcome_agree / len(cases),
        "false_accepts": false_accepts,
        "false_rejects": false_rejects,
        "seconds": seconds,
        "categories": {
            k: {"cases": len(v), "agree": sum(v)} for k, v in sorted(by_category.items())
        },
    }


def _file_summary(result: dict[str, Any], cases: list[dict[str, Any]], name: str) -> str:
    """ "agree/n (pct), FA a, FR r" for the cases of one corpus file."""
    ids = {case["id"] for case in cases if case["corpus"] == name}
    wrong = len(ids & set(result["false_accepts"])), len(ids & set(result["false_rejects"]))
    agree = len(ids) - sum(wrong)
    return f"{agree}/{len(ids)} ({agree / len(ids):.1%}), FA {wrong[0]}, FR {wrong[1]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--corpus",
        action="append",
        help="A corpus file (repeatable); default: every judge_corpus*.jsonl.",
    )
    parser.add_argument("--previous", help="module file with judge(response, gold, choices)")
    parser.add_argument("--out", help="Write the results as JSON here.")
    args = parser.parse_args()
    corpora = args.corpus or [str(path) for path in CORPORA]
    cases = [
        dict(json.loads(line), corpus=Path(path).name)
        for path in corpora
        for line in Path(path).read_text().splitlines()
        if line.strip()
    ]
    judges = {"cuekit": cuekit_judge, "math-verify": math_verify_alone}
    if args.previous:
        judges["previous"] = load_previous(args.previous)
    for fn in judges.values():  # warm imports and caches outside the timing
        fn(cases[0])
    results = [score(name, fn, cases) for name, fn in judges.items()]
    baseline_s = next(r["seconds"] for r in results if r["judge"] == "math-verify")

    labels = defaultdict(int)
    for case in cases:
        labels[case["label"]] += 1
    print(
        f"{len(cases)} hand-labelled responses: "
        + ", ".join(f"{n} {label}" for label, n in sorted(labels.items()))
    )
    print(
        format_table(
            [
                {
                    "judge": r["judge"],
                    "agreement": f"{r['agreement']:.1%}",
                    "3-way (cuekit)": f"{r['outcome_agreement']:.1%}"
                    if r["judge"] == "cuekit"
                    else "",
                    "false accepts": len(r["false_accepts"]),
                    "false rejects": len(r["false_rejects"]),
                    "time vs math-verify": f"{r['seconds'] / baseline_s:.2f}x",
                }
                for r in results
            ],
            [
                "judge",
                "agreement",
                "3-way (cuekit)",
                "false accepts",
                "false rejects",
                "time vs math-verify",
            ],
        )
    )
    print()
    categories = sorted(results[0]["categories"])
    print(
        format_table(
            [
                {
                    "category": c,
                    "cases": results[0]["categories"][c]["cases"],
                    **{r["judge"]: f"{r['categories'][c]['agree']}" for r in results},
                }
                for c in categories
            ],
            ["category", "cases", *(r["judge"] for r in results)],
        )
    )
    if len(corpora) > 1:  # each file apart: the blind batches are the held-out estimates
        print()
        print(
            format_table(
                [
                    {
                        "corpus": Path(path).name,
                        **{r["judge"]: _file_summary(r, cases, Path(path).name) for r in results},
                    }
                    for path in corpora
                ],
                ["corpus", *(r["judge"] for r in results)],
            )
        )
    for r in results:
        if r["false_accepts"]:
            print(f"\n{r['judge']} false accepts: {', '.join(r['false_accepts'])}")
    write_json(args.out, {"corpora": corpora, "results": results})


if __name__ == "__main__":
    main()
