"""Phrase precision and recall on the hand-labelled questions, per half and per style.

Scores whichever cuekit is importable (``PYTHONPATH=<old checkout>`` for the code before
a change) with this checkout's scorer (``cuekit/cues/quality.py``, loaded by path so
the old code needs no copy of it), and times the extractor. ``--misses`` lists every
question whose phrases differ from the labels.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOLD = (
    ROOT / "tests" / "cues" / "phrase_gold.jsonl",
    ROOT / "tests" / "cues" / "phrase_gold_c.jsonl",
    ROOT / "tests" / "cues" / "phrase_gold_d.jsonl",
    ROOT / "tests" / "cues" / "phrase_gold_e.jsonl",
)


def _quality() -> object:
    spec = importlib.util.spec_from_file_location(
        "phrase_quality", ROOT / "cuekit" / "cues" / "quality.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["phrase_quality"] = module  # dataclasses look their module up there
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--misses", action="store_true")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    from cuekit.cues import get_phrase_extractor

    quality = _quality()
    rows = [
        json.loads(line) for path in GOLD for line in path.read_text().splitlines() if line.strip()
    ]
    extractor = get_phrase_extractor()
    results = {}
    for half in ("A", "B", "AB", "C", "D", "E"):
        for style in ("all", "geometry3k", "mathvista", "mathverse", "clevr", "chartqa"):
            cases = [
                quality.PhraseCase(r["id"], r["question"], tuple(r["gold"]), r["style"])
                for r in rows
                if r["half"] in half and style in ("all", r["style"])
            ]
            scores = quality.score_extractor(extractor, cases)
            if not cases:
                continue
            results[f"{half}/{style}"] = {
                "questions": len(cases),
                "precision": round(scores.precision, 3),
                "recall": round(scores.recall, 3),
            }
            print(
                f"half {half:2} {style:10} n={len(cases):3} P={scores.precision:.3f} "
                f"R={scores.recall:.3f}"
            )
            if args.misses and style == "all" and half in ("AB", "C", "D", "E"):
                for miss in scores.misses:
                    print("   ", miss)
    questions = [r["question"] for r in rows]
    start = time.perf_counter()
    for _ in range(20):
        for question in questions:
            extractor(question)
    per_question = (time.perf_counter() - start) / (20 * len(questions))
    results["microseconds_per_question"] = round(per_question * 1e6, 1)
    print(f"{per_question * 1e6:.1f} µs per question")
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
