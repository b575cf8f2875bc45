"""Extract throughput before and after a change, side by side.

Runs ``cuekit extract`` from two checkouts (``--before DIR``: the old code, e.g. a
``git archive`` of the base commit; the current one is this file's repository),
interleaved ``--repeats`` times on the same data, and reports samples per second as
the CLI's own summary line states it, median per side, and the ratio after / before.
On a machine shared with other jobs wall-clock rates swing with the load, so it also
reports the CPU seconds each ``cuekit extract`` process used (user + system, start-up
included), which other jobs barely move.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
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
    "cueworld/annotations": [
        "--dataset",
        "cueworld",
        "--split",
        "test",
        "--limit",
        "600",
        "--detector",
        "annotations",
    ],
    "cueworld-train/annotations": [
        "--dataset",
        "cueworld",
        "--split",
        "train",
        "--limit",
        "3000",
        "--detector",
        "annotations",
    ],
}


def _child_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def rate(checkout: Path, args: list[str]) -> tuple[float, float]:
    """(samples per wall second as the CLI reports it, CPU seconds of the process)."""
    cpu_before = _child_cpu_s()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "PYTHONPATH": str(checkout)}
        # cwd=tmp: `python -m` puts the working folder first on sys.path, which would
        # import this checkout's cuekit for both sides.
        done = subprocess.run(
            [sys.executable, "-m", "cuekit", "extract", *args, "-o", "out", "--overwrite"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            cwd=tmp,
        )
    match = RATE.search(done.stdout + done.stderr)
    if match is None:
        raise RuntimeError(f"no rate in the output of {args}: {done.stderr[-500:]}")
    return float(match.group(1)), _child_cpu_s() - cpu_before


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
        cpu: dict[str, list[float]] = {"before": [], "after": []}
        for _ in range(args.repeats):
            for side, checkout in (("before", args.before), ("after", HERE)):
                samples_per_s, cpu_s = rate(checkout, CASES[case])
                runs[side].append(samples_per_s)
                cpu[side].append(round(cpu_s, 3))
        before, after = (statistics.median(runs[k]) for k in ("before", "after"))
        cpu_before, cpu_after = (statistics.median(cpu[k]) for k in ("before", "after"))
        results[case] = {
            "before": before,
            "after": after,
            "ratio": round(after / before, 3),
            "cpu_s_before": cpu_before,
            "cpu_s_after": cpu_after,
            "cpu_ratio": round(cpu_after / cpu_before, 3),
            "runs": runs,
            "cpu": cpu,
        }
        print(
            f"{case}: before {before:.2f} samples/s, after {after:.2f}, "
            f"ratio {after / before:.2f}; CPU s before {cpu_before:.2f}, after "
            f"{cpu_after:.2f}, ratio {cpu_after / cpu_before:.3f}",
            flush=True,
        )
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
