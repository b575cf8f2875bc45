"""Plot the long CueWorld runs: the no-cue student's held-out accuracy and reverse KL
during distillation, mean over seeds, one line per grid report.

    python benchmarks/cueworld_long_plot.py \\
        benchmarks/results/cueworld_long_test_cue.json \\
        benchmarks/results/cueworld_long_test_none.json \\
        --out docs/cueworld_learning_curve_long.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def mean_curve(report: dict, key: str) -> tuple[list[int], np.ndarray]:
    """Steps and the mean over a report's runs of one curve value."""
    runs = report["runs"]
    steps = [point["step"] for point in runs[0]["curve"]]
    values = np.asarray([[point[key] for point in run["curve"]] for run in runs])
    return steps, values.mean(axis=0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("reports", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for path in args.reports:
        report = json.loads(path.read_text())
        run = report["runs"][0]
        label = f"privilege {run['privilege']} ({len(report['runs'])} seed(s))"
        for axis, key in zip(axes, ("eval_accuracy", "eval_reverse_kl"), strict=True):
            steps, values = mean_curve(report, key)
            axis.plot(steps, values, label=label)
    axes[0].set_ylabel("student accuracy, val (sampled, no cue)")
    axes[1].set_ylabel("held-out reverse KL to its teacher")
    for axis in axes:
        axis.set_xlabel("distill step")
        axis.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle("CueWorld, OPSD, forward KL (top-k), lr 3e-4, cue module on", fontsize=10)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
