"""What the cue recovery module learnt in a CueWorld grid: its weights, and its effect.

For every run of a grid report that trained a module, this reads the saved module
(``RUN/student/cue_module.safetensors``) and measures:

- how far it moved from its start: the norm of each layer's output projection ``o``
  (it starts at exactly zero, so a non-zero ``o`` means the module received gradient),
  and of ``q``, ``k``, ``v`` against their init norm (``init_std * d``);
- what it changes: the student is scored again by ``cuekit eval`` on the same split with
  the module files left out (the same backbone weights), and compared with the run's own
  predictions: accuracy with and without, and the share of greedy answers that differ.

A module that moved but changes no answer carries no usable cue; one whose removal costs
accuracy is what SinkTrack is for.

    python benchmarks/cueworld_module.py --report runs/cueworld-grid/cueworld_grid.json \\
        --out benchmarks/results/cueworld_module.json
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

# benchmarks/ is on the path, as for common
from cueworld_grid import GridSettings, bootstrap_ci, run_name

from cuekit.distill.cue_module import CUE_CONFIG_FILE, CUE_WEIGHTS_FILE


def module_norms(student: Path) -> dict[str, float]:
    """Frobenius norm of each saved module weight, keyed ``<layer>.<q|k|v|o>``."""
    from safetensors.torch import load_file

    state = load_file(str(student / CUE_WEIGHTS_FILE))
    return {
        name.removeprefix("blocks.").removesuffix(".weight"): float(tensor.norm())
        for name, tensor in state.items()
        if name.startswith("blocks.")
    }


def without_module(student: Path, scratch: Path) -> Path:
    """A copy of the student folder with the module files left out."""
    target = scratch / student.parent.name
    shutil.copytree(
        student, target, ignore=shutil.ignore_patterns(CUE_WEIGHTS_FILE, CUE_CONFIG_FILE)
    )
    return target


def measure_run(run_dir: Path, eval_folder: Path, max_new_tokens: int) -> dict[str, Any]:
    """Module norms, and accuracy with and without the module, of one run."""
    import polars as pl

    from cuekit.cueworld.ship import greedy_eval

    student = run_dir / "student"
    with_module = pl.read_parquet(run_dir / "eval" / "predictions.parquet").sort("id")
    with tempfile.TemporaryDirectory() as scratch:
        bare = without_module(student, Path(scratch))
        _, without = greedy_eval(
            str(bare), eval_folder, Path(scratch) / "eval", max_new_tokens=max_new_tokens
        )
    if with_module["id"].to_list() != without["id"].to_list():
        raise RuntimeError(f"{run_dir}: the two evals scored different items")
    changed = (with_module["response"] != without["response"]).mean()
    config = json.loads((student / CUE_CONFIG_FILE).read_text())
    return {
        "norms": module_norms(student),
        "init_qkv_norm": config["init_std"] * config["hidden_size"],
        "accuracy_with": float(with_module["correct"].mean()),
        "accuracy_without": float(without["correct"].mean()),
        "correct_with": with_module["correct"].cast(pl.Int8).to_list(),
        "correct_without": without["correct"].cast(pl.Int8).to_list(),
        "answers_changed": float(changed),
    }


def summarize(measured: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean over seeds per (teacher, privilege) cell."""
    cells: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in measured:
        cells[(row["teacher"], row["privilege"])].append(row)
    table = []
    for (teacher, privilege), rows in cells.items():
        layers = sorted({name.split(".")[0] for name in rows[0]["norms"]}, key=int)
        # with - without, paired over items and seeds, as the grid's contrasts are.
        diffs = np.asarray(
            [np.subtract(r["correct_with"], r["correct_without"]) for r in rows], dtype=np.float64
        )
        effect, low, high = bootstrap_ci(diffs)
        table.append(
            {
                "teacher": teacher,
                "privilege": privilege,
                "seeds": len(rows),
                "o_norm": {
                    layer: float(np.mean([r["norms"][f"{layer}.o"] for r in rows]))
                    for layer in layers
                },
                "accuracy_with": float(np.mean([r["accuracy_with"] for r in rows])),
                "accuracy_without": float(np.mean([r["accuracy_without"] for r in rows])),
                "answers_changed": float(np.mean([r["answers_changed"] for r in rows])),
                "module_effect": effect,
                "module_effect_ci": [low, high],
            }
        )
    return table


def markdown(table: list[dict[str, Any]], loss: str) -> str:
    lines = [
        f"Cue recovery module after distillation ({loss}; mean over seeds)",
        "",
        "| teacher | privilege | ‖o‖ per module layer | acc. with module | without | "
        "with − without [95% CI] | answers changed |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in table:
        low, high = row["module_effect_ci"]
        norms = ", ".join(f"{layer}: {value:.2f}" for layer, value in row["o_norm"].items())
        lines.append(
            f"| {row['teacher']} | {row['privilege']} | {norms} | "
            f"{100 * row['accuracy_with']:.1f} | {100 * row['accuracy_without']:.1f} | "
            f"{100 * row['module_effect']:+.1f} [{100 * low:+.1f}, {100 * high:+.1f}] | "
            f"{100 * row['answers_changed']:.1f}% |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--report", type=Path, default=Path("runs/cueworld-grid/cueworld_grid.json")
    )
    parser.add_argument(
        "--work",
        type=Path,
        default=None,
        help="the grid's --work folder [default: the report's folder]",
    )
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)

    report = json.loads(args.report.read_text())
    work = args.work or args.report.parent
    settings = GridSettings(**report["settings"])
    runs_dir = next((work / "runs").glob(f"{report['eval_split']}-*"))
    eval_folder = work / "data" / runs_dir.name.split("-", 1)[1]
    measured = []
    for run in report["runs"]:
        if not run["module"]:
            continue
        name = run_name(run["teacher"], run["privilege"], True, run["seed"], run["lr"], settings)
        row = measure_run(runs_dir / name, eval_folder, settings.max_new_tokens)
        measured.append(
            {"teacher": run["teacher"], "privilege": run["privilege"], "seed": run["seed"], **row}
        )
        print(
            f"{name}: with {100 * row['accuracy_with']:.1f} without "
            f"{100 * row['accuracy_without']:.1f}, {100 * row['answers_changed']:.1f}% changed",
            flush=True,
        )
    result = {
        "report": str(args.report),
        "loss": settings.loss,
        "runs": measured,
        "table": summarize(measured),
    }
    table = markdown(result["table"], settings.loss)
    print(table)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1) + "\n")
        args.out.with_suffix(".md").write_text(table + "\n")
    return result


if __name__ == "__main__":
    main()
