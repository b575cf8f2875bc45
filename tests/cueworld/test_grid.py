"""The CueWorld grid benchmark's --quick setting: a complete, consistent table.

It asserts the bookkeeping, never the effect: with two distill steps nothing is learnt.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

GRID_SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "cueworld_grid.py"


def _grid_module():
    spec = importlib.util.spec_from_file_location("cueworld_grid", GRID_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["cueworld_grid"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_bootstrap_resamples_seeds_and_items() -> None:
    grid = _grid_module()
    diffs = np.array([[1.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0]])
    mean, low, high = grid.bootstrap_ci(diffs, resamples=2000)
    assert mean == pytest.approx(0.625)
    assert 0.0 <= low < mean < high <= 1.0
    constant = np.full((3, 5), 0.2)
    assert grid.bootstrap_ci(constant, resamples=200) == pytest.approx((0.2, 0.2, 0.2))


def test_quick_grid_writes_a_complete_consistent_table(tmp_path: Path) -> None:
    grid = _grid_module()
    report = grid.main(["--quick", "--work", str(tmp_path), "--workers", "1"])
    settings = report["settings"]
    assert report["seeds"] == 2 and settings["steps"] == grid.QUICK.steps
    assert len(report["runs"]) == 2 * 3 * 2 * 2  # teachers x privileges x modules x seeds
    cells = {(r["teacher"], r["privilege"], r["module"]) for r in report["table"]}
    assert cells == {
        (t, p, m) for t in grid.TEACHERS for p in grid.PRIVILEGES for m in (True, False)
    }
    before = report["before"]
    assert len(before["ids"]) == settings["test_rows"]
    assert before["accuracy"] == pytest.approx(np.mean(before["correct"]))
    for row in report["table"]:
        assert row["seeds"] == 2
        runs = [
            r
            for r in report["runs"]
            if (r["teacher"], r["privilege"], r["module"])
            == (row["teacher"], row["privilege"], row["module"])
        ]
        per_seed = [np.mean(r["after"]["correct"]) for r in sorted(runs, key=lambda r: r["seed"])]
        assert row["after_per_seed"] == pytest.approx(per_seed)
        assert row["gain"] == pytest.approx(row["after"] - before["accuracy"])
        low, high = row["gain_ci"]
        assert low - 1e-9 <= row["gain"] <= high + 1e-9
        assert row["reverse_kl"] is not None and row["reverse_kl"] >= -1e-6
    for run in report["runs"]:
        assert run["after"]["ids"] == before["ids"]  # paired on the same items
        assert [p["step"] for p in run["curve"]] == [0, settings["steps"]]
    for teacher in grid.TEACHERS:
        assert set(report["teacher_accuracy"][teacher]) == set(grid.PRIVILEGES)
        assert isinstance(report["cue_advantage"][teacher], float)
    assert len(report["contrasts"]) == 8
    saved = json.loads((tmp_path / "cueworld_grid.json").read_text())
    assert saved["table"] == report["table"]
    table = (tmp_path / "cueworld_grid.md").read_text().splitlines()
    assert sum(line.startswith(("| OPSD", "| OPD")) for line in table) == 12
    assert (tmp_path / "cueworld_grid.png").stat().st_size > 0
    _check_family_breakdown(report, tmp_path)
    _check_module_effect(report, tmp_path)
    _check_long_plot(tmp_path)


def _check_family_breakdown(report: dict, work: Path) -> None:
    """benchmarks/cueworld_families.py re-reads the runs' predictions by question family:
    its family accuracies, weighted by family size, give back each run's accuracy."""
    spec = importlib.util.spec_from_file_location(
        "cueworld_families", GRID_SCRIPT.with_name("cueworld_families.py")
    )
    families = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(families)
    summary = families.summarize(report, work)
    folder = next((work / "data").glob("test-*"))
    counts: dict[str, int] = {}
    for name in families.families_of(folder).values():
        counts[name] = counts.get(name, 0) + 1
    total = sum(counts.values())

    def overall(scores: dict) -> float:
        return sum(scores[f] * n for f, n in counts.items()) / total

    assert overall(summary["before"]) == pytest.approx(report["before"]["accuracy"])
    assert len(summary["cells"]) == 12
    for row in summary["cells"]:
        after = next(
            r["after"]
            for r in report["table"]
            if (r["teacher"], r["privilege"], r["module"])
            == (row["teacher"], row["privilege"], row["module"])
        )
        assert overall(row) == pytest.approx(after)
        assert 0.0 <= row["colour_top_answer_share"] <= 1.0
    assert "| base (before) |" in families.markdown(summary)


def _check_module_effect(report: dict, work: Path) -> None:
    """benchmarks/cueworld_module.py re-scores every module-on run without its module: the
    with-module accuracy is the grid's own, and OPSD with no privilege, whose gradient is
    exactly zero, leaves the zero-initialised output projection at zero and every answer as
    it was."""
    spec = importlib.util.spec_from_file_location(
        "cueworld_module", GRID_SCRIPT.with_name("cueworld_module.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = module.main(["--report", str(work / "cueworld_grid.json")])
    on_runs = [r for r in report["runs"] if r["module"]]
    assert len(result["runs"]) == len(on_runs) == 12
    for measured, run in zip(result["runs"], on_runs, strict=True):
        assert measured["accuracy_with"] == pytest.approx(run["after"]["accuracy"])
        assert measured["accuracy_without"] == pytest.approx(np.mean(measured["correct_without"]))
        if (run["teacher"], run["privilege"]) == ("self", "none"):
            assert all(
                value == 0.0 for key, value in measured["norms"].items() if key.endswith(".o")
            )
            assert measured["answers_changed"] == 0.0
            assert measured["correct_with"] == measured["correct_without"]
    assert len(result["table"]) == 6
    for row in result["table"]:
        low, high = row["module_effect_ci"]
        assert row["module_effect"] == pytest.approx(row["accuracy_with"] - row["accuracy_without"])
        assert low - 1e-9 <= row["module_effect"] <= high + 1e-9


def _check_long_plot(work: Path) -> None:
    """benchmarks/cueworld_long_plot.py draws a report's mean curves."""
    spec = importlib.util.spec_from_file_location(
        "cueworld_long_plot", GRID_SCRIPT.with_name("cueworld_long_plot.py")
    )
    plot = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(plot)
    report = json.loads((work / "cueworld_grid.json").read_text())
    steps, accuracy = plot.mean_curve(report, "eval_accuracy")
    assert steps == [point["step"] for point in report["runs"][0]["curve"]]
    expected = np.mean([[p["eval_accuracy"] for p in r["curve"]] for r in report["runs"]], axis=0)
    assert accuracy == pytest.approx(expected)
    plot.main([str(work / "cueworld_grid.json"), "--out", str(work / "long.png")])
    assert (work / "long.png").stat().st_size > 0
