"""Extract throughput before and after a change, side by side.

Runs ``cuekit extract`` from two checkouts (``--before DIR``: the old code, e.g. a
``git archive`` of the base commit; the current one is this file's repository),
interleaved ``--repeats`` times on the same data, and reports samples per second as
the CLI's own summary line states it, median per side, and the ratio after / before.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
RATE = re.compile(r"processed now in [\d.]+s \(([\d.]+) samples/s\)")
CASES = {
    "sample/ocr": ["--dataset", "sample", "--detector", "ocr"],
    "sample/annotations": ["--dataset", "sample", "--detector", "annotations"],
    "cueworld/annotations": ["--dataset", "cueworld", "--split", "test", "--limit", "600",
                             "--detector", "annotations"],
}


def rate(checkout: Path, args: list[str]) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "PYTHONPATH": str(checkout)}
        done = subprocess.run([sys.executable, "-m", "cuekit", "extract", *args, "-o", tmp,
                               "--overwrite"], env=env, capture_output=True, text=True,
                              check=True)
    match = RATE.search(done.stdout + done.stderr)
    if match is None:
        raise RuntimeError(f"no rate in the output of {args}: {done.stderr[-500:]}")
    return float(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=Path, required=True)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cases", nargs="+", default=list(CASES))
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    results = {}
    for case in args.cases:
        runs: dict[str, list[float]] = {"before": [], "after": []}
        for _ in range(args.repeats):
            runs["before"].append(rate(args.before, CASES[case]))
            runs["after"].append(rate(HERE, CASES[case]))
        before, after = (statistics.median(runs[k]) for k in ("before", "after"))
        results[case] = {"before": before, "after": after, "ratio": round(after / before, 3),
                         "runs": runs}
        print(f"{case}: before {before:.2f} samples/s, after {after:.2f}, "
              f"ratio {after / before:.2f}", flush=True)
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
