"""Per-family accuracy and answer collapse of every run of a CueWorld grid report.

``cueworld_grid.py`` reports one accuracy per run. This reads the same runs' saved
predictions (``RUN/eval/predictions.parquet``) and the eval split's question families,
and reports for each grid cell, averaged over seeds:

- accuracy per question family (colour, compare, reading, spatial);
- the **top-answer share** on colour questions: the share of colour questions answered
  with the single most common colour. Six colours are about equally likely, so a model
  that reads the image sits near 1/6-1/3; one that answers the same colour whatever the
  image shows sits near 100%.

    python benchmarks/cueworld_families.py --report runs/cueworld-grid/cueworld_grid.json \\
        --out benchmarks/results/cueworld_families.json
"""

from __future__ import annotations

import argparse
import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from cueworld_grid import GridSettings, run_name  # benchmarks/ is on the path, as for common

FAMILIES = ("colour", "compare", "reading", "spatial")


def families_of(folder: Path) -> dict[str, str]:
    from cuekit.pipelines.extract.layout import read_extracted

    return {
        record.sample.id: str(record.sample.metadata.get("family"))
        for record in read_extracted(folder)
    }


def score_predictions(path: Path, family: dict[str, str]) -> dict[str, float]:
    """Accuracy per family and the colour top-answer share of one predictions file."""
    import polars as pl

    frame = pl.read_parquet(path, columns=["id", "response", "correct"])
    hits: dict[str, list[bool]] = defaultdict(list)
    colours: Counter[str] = Counter()
    for row in frame.iter_rows(named=True):
        name = family[row["id"]]
        hits[name].append(bool(row["correct"]))
        if name == "colour":
            colours[str(row["response"]).strip().lower()] += 1
    scores = {name: sum(flags) / len(flags) for name, flags in sorted(hits.items())}
    scores["colour_top_answer_share"] = (
        colours.most_common(1)[0][1] / sum(colours.values()) if colours else 0.0
    )
    return scores


def summarize(report: dict[str, Any], work: Path) -> dict[str, Any]:
    """Scores of the base (``before``) and of each (teacher, privilege, module) cell."""
    split = report["eval_split"]
    runs_dir = next((work / "runs").glob(f"{split}-*"))
    folder = work / "data" / runs_dir.name.split("-", 1)[1]
    family = families_of(folder)
    settings = GridSettings(**{"loss": "k1", **report["settings"]})  # older reports: no loss
    before = score_predictions(
        work / "refs" / runs_dir.name / "before" / "predictions.parquet", family
    )
    cells: dict[tuple[str, str, bool, float], list[dict[str, float]]] = defaultdict(list)
    for run in report["runs"]:
        name = run_name(
            run["teacher"], run["privilege"], run["module"], run["seed"], run["lr"], settings
        )
        cells[(run["teacher"], run["privilege"], run["module"], run["lr"])].append(
            score_predictions(runs_dir / name / "eval" / "predictions.parquet", family)
        )
    rows = []
    for (teacher, privilege, module, lr), scores in cells.items():
        keys = scores[0].keys()
        rows.append(
            {
                "teacher": teacher,
                "privilege": privilege,
                "module": module,
                "lr": lr,
                "seeds": len(scores),
                **{k: sum(s[k] for s in scores) / len(scores) for k in keys},
            }
        )
    return {
        "eval_split": split,
        "loss": report["settings"].get("loss", "k1"),
        "before": before,
        "cells": rows,
    }


def markdown(summary: dict[str, Any]) -> str:
    head = (
        "| teacher | privilege | module | lr | "
        + " | ".join(FAMILIES)
        + " | colour top-answer share |\n|---|---|---|---|"
        + "---|" * (len(FAMILIES) + 1)
    )

    def line(label: list[str], scores: dict[str, float]) -> str:
        values = [f"{100 * scores.get(f, 0.0):.1f}" for f in FAMILIES]
        return (
            "| "
            + " | ".join(label + values)
            + f" | {100 * scores['colour_top_answer_share']:.0f}% |"
        )

    lines = [head, line(["base (before)", "–", "–", "–"], summary["before"])]
    for row in summary["cells"]:
        lines.append(
            line(
                [
                    row["teacher"],
                    row["privilege"],
                    "on" if row["module"] else "off",
                    f"{row['lr']:g}",
                ],
                row,
            )
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--report", type=Path, required=True, help="a cueworld_grid JSON")
    parser.add_argument(
        "--work",
        type=Path,
        default=Path("runs/cueworld-grid"),
        help="the grid's --work folder (its runs and data)",
    )
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    summary = summarize(json.loads(args.report.read_text()), args.work)
    table = markdown(summary)
    print(table)
    if args.out:
        args.out.write_text(json.dumps(summary, indent=1) + "\n")
        args.out.with_suffix(".md").write_text(table + "\n")


if __name__ == "__main__":
    main()
