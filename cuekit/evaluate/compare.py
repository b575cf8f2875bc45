"""Paired comparison of two eval runs on the same samples (``cuekit eval --compare A B``).

The statistic is the mean paired difference ``d_i = correct_B(i) - correct_A(i)`` over
the samples both runs scored, i.e. accuracy(B) - accuracy(A). Its confidence interval is
a percentile bootstrap: resample the n pairs with replacement (seeded), take the mean
of each resample, and read the (1 - c)/2 and (1 + c)/2 quantiles. Pairing removes the
between-sample variance that an unpaired comparison of two accuracies would carry.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from cuekit.errors import ConfigError
from cuekit.evaluate.eval import PREDICTIONS_FILE

COMPARE_FILE = "compare.json"


@dataclass(frozen=True)
class PairedComparison:
    samples: int
    mean_a: float
    mean_b: float
    difference: float  # mean_b - mean_a
    ci_low: float
    ci_high: float
    confidence: float
    resamples: int
    seed: int
    b_only_correct: int  # discordant pairs: B right, A wrong
    a_only_correct: int  # discordant pairs: A right, B wrong


def paired_bootstrap(
    scores_a: Sequence[float],
    scores_b: Sequence[float],
    *,
    resamples: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> PairedComparison:
    """Mean of ``b - a`` with a seeded percentile-bootstrap confidence interval."""
    a = np.asarray(scores_a, dtype=np.float64)
    b = np.asarray(scores_b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(
            f"scores must be two 1-D sequences of equal length, got shapes {a.shape} and {b.shape}"
        )
    if a.size == 0:
        raise ValueError("no paired samples to compare")
    if resamples < 1 or not 0 < confidence < 1:
        raise ValueError(
            f"need resamples >= 1 and 0 < confidence < 1, got {resamples} and {confidence}"
        )
    diff = b - a  # (n,)
    rng = np.random.default_rng(seed)
    # (resamples, n) indices drawn in blocks, so memory stays bounded for large n.
    means = np.empty(resamples, dtype=np.float64)
    block = max(1, 2_000_000 // diff.size)
    for start in range(0, resamples, block):
        stop = min(resamples, start + block)
        picks = rng.integers(0, diff.size, size=(stop - start, diff.size))
        means[start:stop] = diff[picks].mean(axis=1)
    tail = (1 - confidence) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return PairedComparison(
        samples=int(diff.size),
        mean_a=float(a.mean()),
        mean_b=float(b.mean()),
        difference=float(diff.mean()),
        ci_low=float(low),
        ci_high=float(high),
        confidence=confidence,
        resamples=resamples,
        seed=seed,
        b_only_correct=int((diff > 0).sum()),
        a_only_correct=int((diff < 0).sum()),
    )


def _predictions(run: str | Path) -> pl.DataFrame:
    path = Path(run) / PREDICTIONS_FILE
    if not path.is_file():
        raise ConfigError(f"{path} not found: --compare takes two `cuekit eval --output` folders")
    frame = pl.read_parquet(path).filter(pl.col("answer").is_not_null())
    if frame["id"].n_unique() != frame.height:
        raise ConfigError(f"{path} has repeated sample ids; cannot pair samples")
    return frame.select("id", "source", "correct")


def compare_runs(
    run_a: str | Path,
    run_b: str | Path,
    *,
    resamples: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, Any]:
    """Pair two eval runs by sample id and compare their accuracy, overall and per source."""
    a, b = _predictions(run_a), _predictions(run_b)
    joined = a.join(b, on="id", how="inner", suffix="_b").sort("id")
    if joined.height == 0:
        raise ConfigError(
            f"{run_a} and {run_b} share no sample ids: compare runs on the same samples"
        )

    def compared(frame: pl.DataFrame) -> dict[str, Any]:
        return asdict(
            paired_bootstrap(
                frame["correct"].cast(pl.Float64).to_list(),
                frame["correct_b"].cast(pl.Float64).to_list(),
                resamples=resamples,
                confidence=confidence,
                seed=seed,
            )
        )

    return {
        "run_a": str(run_a),
        "run_b": str(run_b),
        "overall": compared(joined),
        "per_source": {
            src: compared(joined.filter(pl.col("source") == src))
            for src in sorted(joined["source"].unique().to_list())
        },
        "only_in_a": a.height - joined.height,
        "only_in_b": b.height - joined.height,
    }


def write_comparison(result: dict[str, Any], output: str | Path) -> Path:
    folder = Path(output)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / COMPARE_FILE
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path


def format_comparison(result: dict[str, Any]) -> str:
    """A terminal table: accuracy of A and B, B - A and its confidence interval."""
    rows = [*result["per_source"].items(), ("overall", result["overall"])]
    width = max(len("source"), *(len(name) for name, _ in rows))
    level = f"{result['overall']['confidence']:.0%} CI"
    lines = [
        f"A = {result['run_a']}",
        f"B = {result['run_b']}",
        f"{'source':<{width}}  {'n':>5}  {'acc A':>7}  {'acc B':>7}  {'B - A':>7}  {level}",
    ]
    for name, c in rows:
        lines.append(
            f"{name:<{width}}  {c['samples']:>5}  {c['mean_a']:>7.1%}  "
            f"{c['mean_b']:>7.1%}  {c['difference']:>+7.1%}  "
            f"[{c['ci_low']:+.1%}, {c['ci_high']:+.1%}]"
        )
    if result["only_in_a"] or result["only_in_b"]:
        lines.append(
            f"unpaired samples left out: {result['only_in_a']} only in A, "
            f"{result['only_in_b']} only in B"
        )
    return "\n".join(lines)
