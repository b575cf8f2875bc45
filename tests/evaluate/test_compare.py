"""Paired bootstrap and the comparison of two eval runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from cuekit.errors import ConfigError
from cuekit.evaluate.compare import compare_runs, format_comparison, paired_bootstrap
from cuekit.evaluate.eval import PREDICTIONS_FILE


def _reference_bootstrap(
    a: list[float], b: list[float], resamples: int, confidence: float, seed: int
) -> tuple[float, float]:
    """The textbook loop: resample pairs, average their differences, take quantiles."""
    rng = np.random.default_rng(seed)
    diff = np.asarray(b) - np.asarray(a)
    picks = rng.integers(0, diff.size, size=(resamples, diff.size))
    means = diff[picks].mean(axis=1)
    tail = (1 - confidence) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return float(low), float(high)


def test_paired_bootstrap_matches_reference_and_is_seeded() -> None:
    rng = np.random.default_rng(3)
    a = rng.integers(0, 2, 50).astype(float).tolist()
    b = rng.integers(0, 2, 50).astype(float).tolist()
    result = paired_bootstrap(a, b, resamples=2000, confidence=0.9, seed=7)
    assert result.samples == 50
    assert result.mean_a == pytest.approx(np.mean(a))
    assert result.mean_b == pytest.approx(np.mean(b))
    assert result.difference == pytest.approx(np.mean(b) - np.mean(a))
    assert (result.ci_low, result.ci_high) == pytest.approx(
        _reference_bootstrap(a, b, 2000, 0.9, 7)
    )
    diff = np.asarray(b) - np.asarray(a)
    assert (result.b_only_correct, result.a_only_correct) == (
        int((diff > 0).sum()),
        int((diff < 0).sum()),
    )
    again = paired_bootstrap(a, b, resamples=2000, confidence=0.9, seed=7)
    assert again == result
    # With continuous scores the interval's ends depend on the seed.
    scores_a, scores_b = rng.random(50).tolist(), rng.random(50).tolist()
    seeded = [paired_bootstrap(scores_a, scores_b, resamples=500, seed=s) for s in (0, 0, 1)]
    assert seeded[0] == seeded[1]
    assert seeded[0].ci_low != seeded[2].ci_low


def test_paired_bootstrap_blocks_do_not_change_the_draws() -> None:
    # 3000 pairs -> 666 resamples per block: several blocks must equal one big draw.
    rng = np.random.default_rng(0)
    a, b = rng.random(3000).tolist(), rng.random(3000).tolist()
    result = paired_bootstrap(a, b, resamples=1500, seed=1)
    assert (result.ci_low, result.ci_high) == pytest.approx(
        _reference_bootstrap(a, b, 1500, 0.95, 1)
    )


def test_identical_runs_have_a_zero_interval() -> None:
    result = paired_bootstrap([1, 0, 1, 1], [1, 0, 1, 1], resamples=100)
    assert (result.difference, result.ci_low, result.ci_high) == (0.0, 0.0, 0.0)


@pytest.mark.parametrize(
    ("a", "b", "kwargs", "message"),
    [
        ([1, 0], [1], {}, "equal length"),
        ([], [], {}, "no paired samples"),
        ([1], [0], {"confidence": 1.0}, "0 < confidence < 1"),
        ([1], [0], {"resamples": 0}, "resamples >= 1"),
    ],
)
def test_paired_bootstrap_rejects_bad_input(a, b, kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        paired_bootstrap(a, b, **kwargs)


def _write_predictions(folder: Path, rows: list[tuple[str, str, str | None, bool]]) -> Path:
    folder.mkdir(parents=True)
    pl.DataFrame(
        [{"id": i, "source": s, "answer": ans, "correct": c} for i, s, ans, c in rows]
    ).write_parquet(folder / PREDICTIONS_FILE)
    return folder


def test_compare_runs_pairs_by_id_and_splits_by_source(tmp_path: Path) -> None:
    shared = [("s1", "geo", "1"), ("s2", "geo", "2"), ("s3", "chart", "3"), ("s4", "chart", "4")]
    a_correct = [False, True, False, True]
    run_a = _write_predictions(
        tmp_path / "a",
        [(*row, c) for row, c in zip(shared, a_correct, strict=True)]
        + [("only_a", "geo", "5", True), ("noans", "geo", None, True)],
    )
    # B holds the shared samples in reverse order, all correct: pairs are matched by id.
    run_b = _write_predictions(
        tmp_path / "b", [(*row, True) for row in reversed(shared)] + [("only_b", "geo", "6", False)]
    )
    result = compare_runs(run_a, run_b, resamples=500, seed=0)
    overall = result["overall"]
    # paired on s1..s4 in id order: A = [0, 1, 0, 1], B = [1, 1, 1, 1]
    assert overall["samples"] == 4
    assert (overall["mean_a"], overall["mean_b"], overall["difference"]) == (0.5, 1.0, 0.5)
    assert (overall["b_only_correct"], overall["a_only_correct"]) == (2, 0)
    reference = paired_bootstrap([0, 1, 0, 1], [1, 1, 1, 1], resamples=500, seed=0)
    assert (overall["ci_low"], overall["ci_high"]) == (reference.ci_low, reference.ci_high)
    assert sorted(result["per_source"]) == ["chart", "geo"]
    assert result["per_source"]["geo"]["samples"] == 2
    assert (result["only_in_a"], result["only_in_b"]) == (1, 1)
    table = format_comparison(result)
    assert "overall" in table and "+50.0%" in table
    assert "1 only in A, 1 only in B" in table


def test_compare_runs_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found: --compare takes two"):
        compare_runs(tmp_path / "missing", tmp_path / "missing")
    run_a = _write_predictions(tmp_path / "a", [("x", "s", "1", True)])
    run_b = _write_predictions(tmp_path / "b", [("y", "s", "1", True)])
    with pytest.raises(ConfigError, match="share no sample ids"):
        compare_runs(run_a, run_b)


def test_compare_command_equals_eval_compare(tmp_path: Path) -> None:
    """`cuekit compare A B` is the command; `eval --compare A B` stays as its alias."""
    from click.testing import CliRunner

    from cuekit.cli import cli

    run_a = _write_predictions(
        tmp_path / "a", [("s1", "geo", "1", False), ("s2", "geo", "2", True)]
    )
    run_b = _write_predictions(tmp_path / "b", [("s1", "geo", "1", True), ("s2", "geo", "2", True)])
    outputs = []
    for args in (
        ["compare", str(run_a), str(run_b)],
        ["eval", "--compare", str(run_a), str(run_b)],
    ):
        result = CliRunner().invoke(
            cli, [*args, "--resamples", "200", "-o", str(tmp_path / args[0])]
        )
        assert result.exit_code == 0, result.output
        outputs.append(result.output.replace(str(tmp_path / args[0]), "OUT"))
    assert outputs[0] == outputs[1] and "+50.0%" in outputs[0]
    assert (tmp_path / "compare" / "compare.json").read_bytes() == (
        tmp_path / "eval" / "compare.json"
    ).read_bytes()
