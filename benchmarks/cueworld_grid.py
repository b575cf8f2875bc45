"""CueWorld: the ViCuR experiment in miniature, through cuekit's own extract → shard →
distill → eval → audit, on two CPU cores.

Grid: teacher (``self`` = OPSD, ``cueworld-teacher`` = OPD) x privilege (none, answer,
cue) x cue recovery module (on, off) x seeds, every run with the same steps and
hyper-parameters. For each run it measures, on the test split and with the student's
prompt carrying no cue, the student's accuracy after distillation, against the base
model's accuracy before. It also measures each teacher's accuracy under each privilege
(``cuekit eval --privilege``), the audit's cue advantage, and the held-out reverse KL.

CIs are paired bootstrap 95% intervals over items and seeds: each resample draws the
seeds and the test items with replacement and averages ``after - before`` (or the
difference between two settings) over both.

    python benchmarks/cueworld_grid.py                 # the full grid (~45 min, 2 cores)
    python benchmarks/cueworld_grid.py --quick         # a complete, tiny grid (~2 min)
    python benchmarks/cueworld_grid.py --eval-split val --teachers self --privileges cue \\
        --lr 1e-4 3e-4 --seeds 1                       # choose hyper-parameters on val

The JSON holds every run; the markdown table is shaped like the paper's main table.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import shutil
import sys
import time
from dataclasses import asdict, dataclass, replace
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine_info  # noqa: E402

STUDENT = "cueworld-base"
TEACHERS = {"self": "OPSD", "cueworld-teacher": "OPD"}
PRIVILEGES = ("none", "answer", "cue")


@dataclass(frozen=True)
class GridSettings:
    """What every run of the grid shares; chosen on val (see ``--eval-split``)."""

    train_rows: int = 4000
    val_rows: int = 200
    test_rows: int = 600
    steps: int = 120
    batch_size: int = 16
    rollouts_per_prompt: int = 2
    lr: float = 1e-4  # chosen on val from 1e-4, 3e-4, 1e-3 (BENCHMARKS.md)
    module_lr: float = 2e-3
    cue_interval: int = 2  # modules after layers 0 and 2 of the 4-layer student
    max_new_tokens: int = 4
    loss: str = "k1"  # the paper's per-token reverse KL; --loss for the diagnostics
    eval_every: int = 40
    eval_batches: int = 4


QUICK = GridSettings(
    train_rows=48,
    val_rows=16,
    test_rows=24,
    steps=2,
    batch_size=4,
    rollouts_per_prompt=2,
    eval_every=2,
    eval_batches=1,
)


# ---------------------------------------------------------------- data


def prepare_data(work: Path, settings: GridSettings, seed: int = 0) -> dict[str, Path]:
    """Extract train/val/test with the annotations backend, shard train and val."""
    from cuekit.datasets.sources import SourceSpec
    from cuekit.grounding.base import DetectorOptions
    from cuekit.pipelines.extract.run import ExtractConfig, run_extract
    from cuekit.pipelines.shard.run import ShardSettings, shard

    paths: dict[str, Path] = {}
    sizes = {"train": settings.train_rows, "val": settings.val_rows, "test": settings.test_rows}
    for split, rows in sizes.items():
        folder = work / "data" / f"{split}-{rows}"
        run_extract(
            ExtractConfig(
                source=SourceSpec("cueworld", split=split, seed=seed),
                output=folder,
                detectors=("annotations",),
                detector=DetectorOptions(),
                limit=rows,
            )
        )
        paths[split] = folder
        if split != "test":
            shards = work / "data" / f"{split}-{rows}-shards"
            if not (shards / "shards.parquet").is_file():
                shard(folder, shards, ShardSettings(maxcount=500))
            paths[f"{split}_shards"] = shards
    return paths


# ---------------------------------------------------------------- one job


def _eval(
    model: str, split_folder: Path, output: Path, privilege: str = "none", max_new_tokens: int = 4
) -> dict[str, Any]:
    import polars as pl

    from cuekit.cueworld.ship import greedy_eval

    summary, predictions = greedy_eval(model, split_folder, output, privilege, max_new_tokens)
    return {
        "accuracy": summary.scores.overall.accuracy,
        "ids": predictions["id"].to_list(),
        "correct": predictions["correct"].cast(pl.Int8).to_list(),
    }


def run_name(
    teacher: str, privilege: str, module: bool, seed: int, lr: float, settings: GridSettings
) -> str:
    """The folder of one run under ``WORK/runs/<split tag>/``."""
    name = (
        f"{teacher}-{privilege}-module_{'on' if module else 'off'}-seed{seed}-lr{lr:g}"
        f"-steps{settings.steps}"
    )
    return name if settings.loss == "k1" else f"{name}-{settings.loss}"


def distill_job(job: dict[str, Any]) -> dict[str, Any]:
    """One grid cell and seed: distill the student, then score it on the eval split."""
    import torch

    from cuekit.distill.config import DistillConfig
    from cuekit.distill.metrics import read_metrics
    from cuekit.distill.recipe import run_distill

    torch.set_num_threads(1)
    settings = GridSettings(**job["settings"])
    run_dir = Path(job["run_dir"])
    shutil.rmtree(run_dir, ignore_errors=True)  # every report comes from fresh runs
    start = time.perf_counter()
    config = DistillConfig(
        student=STUDENT,
        teacher=job["teacher"],
        privilege=job["privilege"],
        cue_module=job["module"],
        cue_interval=settings.cue_interval,
        seed=job["seed"],
        shards=job["train_shards"],
        output=str(run_dir),
        eval_shards=job["val_shards"],
        eval_every=settings.eval_every,
        eval_batches=settings.eval_batches,
        batch_size=settings.batch_size,
        rollouts_per_prompt=settings.rollouts_per_prompt,
        max_new_tokens=settings.max_new_tokens,
        max_steps=settings.steps,
        lr=job["lr"],
        module_lr=settings.module_lr,
        loss=settings.loss,
        tensorboard=False,
        device="cpu",
        shuffle_buffer=256,
        save_every=0,
    )
    run_distill(config)
    metrics = read_metrics(run_dir)
    curve = [
        {
            "step": m["step"],
            "eval_accuracy": m["eval_accuracy"],
            "eval_reverse_kl": m["eval_reverse_kl"],
        }
        for m in metrics
        if "eval_accuracy" in m
    ]
    result = _eval(
        str(run_dir),
        Path(job["eval_folder"]),
        run_dir / "eval",
        max_new_tokens=settings.max_new_tokens,
    )
    return {
        **{k: job[k] for k in ("teacher", "privilege", "module", "seed", "lr")},
        "after": result,
        "curve": curve,
        "final_reverse_kl": curve[-1]["eval_reverse_kl"] if curve else None,
        "time_s": round(time.perf_counter() - start, 1),
    }


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)


# ---------------------------------------------------------------- statistics


def bootstrap_ci(
    diffs: np.ndarray, *, resamples: int = 10_000, seed: int = 0, confidence: float = 0.95
) -> tuple[float, float, float]:
    """Mean of a (seeds, items) array, with a CI from resampling seeds and items."""
    rng = np.random.default_rng(seed)
    seeds, items = diffs.shape
    means = np.empty(resamples)
    for r in range(resamples):
        s = rng.integers(0, seeds, seeds)
        i = rng.integers(0, items, items)
        means[r] = diffs[np.ix_(s, i)].mean()
    tail = (1 - confidence) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return float(diffs.mean()), float(low), float(high)


def _matrix(runs: list[dict[str, Any]], ids: list[str]) -> np.ndarray:
    """(seeds, items) 0/1 correctness, items in ``ids`` order."""
    rows = []
    for run in sorted(runs, key=lambda r: r["seed"]):
        by_id = dict(zip(run["after"]["ids"], run["after"]["correct"], strict=True))
        rows.append([by_id[i] for i in ids])
    return np.asarray(rows, dtype=np.float64)


def summarize(runs: list[dict[str, Any]], before: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per (teacher, privilege, module): after, gain over before with its CI."""
    ids = before["ids"]
    base = np.asarray(before["correct"], dtype=np.float64)[None, :]
    rows = []
    keys = sorted(
        {(r["teacher"], r["privilege"], r["module"]) for r in runs},
        key=lambda k: (list(TEACHERS).index(k[0]), PRIVILEGES.index(k[1]), k[2]),
    )
    for teacher, privilege, module in keys:
        cell = [
            r
            for r in runs
            if (r["teacher"], r["privilege"], r["module"]) == (teacher, privilege, module)
        ]
        after = _matrix(cell, ids)
        gain, low, high = bootstrap_ci(after - base)
        kls = [r["final_reverse_kl"] for r in cell if r["final_reverse_kl"] is not None]
        rows.append(
            {
                "teacher": teacher,
                "privilege": privilege,
                "module": module,
                "seeds": len(cell),
                "after": float(after.mean()),
                "after_per_seed": after.mean(axis=1).tolist(),
                "gain": gain,
                "gain_ci": [low, high],
                "reverse_kl": float(np.mean(kls)) if kls else None,
            }
        )
    return rows


def contrasts(runs: list[dict[str, Any]], ids: list[str]) -> list[dict[str, Any]]:
    """Paired differences the paper claims: cue vs none, cue vs answer, module on vs off."""

    def cell(teacher: str, privilege: str, module: bool) -> np.ndarray | None:
        chosen = [
            r
            for r in runs
            if (r["teacher"], r["privilege"], r["module"]) == (teacher, privilege, module)
        ]
        return _matrix(chosen, ids) if chosen else None

    out = []
    for teacher in TEACHERS:
        pairs = [
            (("cue", True), ("none", True), "cue − none (module on)"),
            (("cue", False), ("none", False), "cue − none (module off)"),
            (("cue", True), ("answer", True), "cue − answer (module on)"),
            (("cue", True), ("cue", False), "module on − off (cue)"),
        ]
        for (pa, ma), (pb, mb), label in pairs:
            a, b = cell(teacher, pa, ma), cell(teacher, pb, mb)
            if a is None or b is None or a.shape != b.shape:
                continue
            diff, low, high = bootstrap_ci(a - b)
            out.append(
                {"teacher": teacher, "contrast": label, "difference": diff, "ci": [low, high]}
            )
    return out


# ---------------------------------------------------------------- report


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


def markdown_table(report: dict[str, Any]) -> str:
    before = report["before"]["accuracy"]
    lines = [
        f"| setting | teacher | privilege | module | student acc. ({report['eval_split']}, "
        "no cue) | "
        "gain [95% CI] | held-out reverse KL |",
        "|---|---|---|---|---|---|---|",
        f"| base (before) | – | – | – | {_pct(before)} | – | – |",
    ]
    for row in report["table"]:
        low, high = row["gain_ci"]
        name = TEACHERS[row["teacher"]] + (" + ViCuR" if row["privilege"] == "cue" else "")
        kl = "–" if row["reverse_kl"] is None else f"{row['reverse_kl']:.4f}"
        lines.append(
            f"| {name} | {row['teacher']} | {row['privilege']} | "
            f"{'on' if row['module'] else 'off'} | {_pct(row['after'])} | "
            f"{100 * row['gain']:+.1f} [{100 * low:+.1f}, {100 * high:+.1f}] | {kl} |"
        )
    lines += [
        "",
        "| teacher | privilege none | answer | cue | audit cue advantage (nats/sample, mean) |",
        "|---|---|---|---|---|",
    ]
    for teacher, accs in report["teacher_accuracy"].items():
        adv = report["cue_advantage"].get(teacher)
        lines.append(
            f"| {teacher} | {_pct(accs['none'])} | {_pct(accs['answer'])} | "
            f"{_pct(accs['cue'])} | {'–' if adv is None else f'{adv:.3f}'} |"
        )
    if report["contrasts"]:
        lines += ["", "| teacher | contrast | difference [95% CI] |", "|---|---|---|"]
        for c in report["contrasts"]:
            lines.append(
                f"| {c['teacher']} | {c['contrast']} | {100 * c['difference']:+.1f} "
                f"[{100 * c['ci'][0]:+.1f}, {100 * c['ci'][1]:+.1f}] |"
            )
    return "\n".join(lines)


def plot_curves(report: dict[str, Any], path: Path) -> None:
    """Held-out accuracy (student rollouts on val) over steps, mean over seeds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
    for ax, teacher in zip(axes, TEACHERS, strict=True):
        for privilege, module in product(PRIVILEGES, (True, False)):
            runs = [
                r
                for r in report["runs"]
                if (r["teacher"], r["privilege"], r["module"]) == (teacher, privilege, module)
                and r["curve"]
            ]
            if not runs:
                continue
            steps = [p["step"] for p in runs[0]["curve"]]
            acc = np.mean([[p["eval_accuracy"] for p in r["curve"]] for r in runs], axis=0)
            ax.plot(
                steps,
                acc,
                linestyle="-" if module else "--",
                label=f"{privilege}, module {'on' if module else 'off'}",
            )
        ax.set_title(f"{TEACHERS[teacher]} (teacher: {teacher})")
        ax.set_xlabel("distill step")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("student accuracy on val (sampled, no cue)")
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny complete grid (~2 min)")
    parser.add_argument("--work", type=Path, default=Path("runs/cueworld-grid"))
    parser.add_argument(
        "--out", type=Path, default=None, help="JSON report [default: WORK/cueworld_grid.json]"
    )
    parser.add_argument("--teachers", nargs="+", default=list(TEACHERS), choices=list(TEACHERS))
    parser.add_argument(
        "--privileges", nargs="+", default=list(PRIVILEGES), choices=list(PRIVILEGES)
    )
    parser.add_argument("--modules", nargs="+", default=["on", "off"], choices=["on", "off"])
    parser.add_argument(
        "--seeds",
        type=int,
        default=None,
        help="distillation seeds per cell [default: 3; 2 with --quick]",
    )
    parser.add_argument(
        "--lr",
        type=float,
        nargs="+",
        default=None,
        help="backbone learning rate(s); several only to choose on val",
    )
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--loss", default=None, help="distill loss [default: k1]")
    parser.add_argument(
        "--eval-split",
        choices=["test", "val"],
        default="test",
        help="score on val to choose settings; the reported grid uses test",
    )
    parser.add_argument("--workers", type=int, default=2, help="runs in parallel (1 thread each)")
    args = parser.parse_args(argv)

    settings = QUICK if args.quick else GridSettings()
    if args.steps is not None:
        settings = replace(settings, steps=args.steps)
    if args.loss is not None:
        settings = replace(settings, loss=args.loss)
    lrs = args.lr or [settings.lr]
    seeds = args.seeds or (2 if args.quick else 3)
    args.work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    data = prepare_data(args.work, settings)
    eval_folder = data["test"] if args.eval_split == "test" else data["val"]
    tag = f"{args.eval_split}-{eval_folder.name}"

    # Before: the base model, and each teacher under each privilege.
    refs = args.work / "refs" / tag
    before = _eval(STUDENT, eval_folder, refs / "before", max_new_tokens=settings.max_new_tokens)
    teacher_accuracy = {}
    for teacher in args.teachers:
        name = STUDENT if teacher == "self" else teacher
        teacher_accuracy[teacher] = {
            p: _eval(
                name,
                eval_folder,
                refs / f"{teacher}-{p}",
                privilege=p,
                max_new_tokens=settings.max_new_tokens,
            )["accuracy"]
            for p in PRIVILEGES
        }
    cue_advantage = {}
    for teacher in args.teachers:
        from cuekit.evaluate.audit import AuditConfig, run_audit

        name = STUDENT if teacher == "self" else teacher
        summary = run_audit(
            AuditConfig(
                input=str(eval_folder),
                output=refs / f"audit-{teacher}",
                teacher=name,
                device="cpu",
                plots=False,
            )
        )
        advantage = summary.scores.advantage
        assert advantage is not None and advantage.per_sample is not None  # a teacher scored it
        cue_advantage[teacher] = advantage.per_sample.mean

    jobs = []
    for teacher, privilege, module, seed, lr in product(
        args.teachers, args.privileges, args.modules, range(seeds), lrs
    ):
        name = run_name(teacher, privilege, module == "on", seed, lr, settings)
        jobs.append(
            {
                "teacher": teacher,
                "privilege": privilege,
                "module": module == "on",
                "seed": seed,
                "lr": lr,
                "settings": asdict(settings),
                "run_dir": str(args.work / "runs" / tag / name),
                "train_shards": str(data["train_shards"]),
                "val_shards": str(data["val_shards"]),
                "eval_folder": str(eval_folder),
            }
        )
    if args.workers > 1:
        context = multiprocessing.get_context("spawn")
        with context.Pool(args.workers, initializer=_init_worker) as pool:
            runs = pool.map(distill_job, jobs, chunksize=1)
    else:
        runs = [distill_job(job) for job in jobs]

    by_lr = {lr: [r for r in runs if r["lr"] == lr] for lr in lrs}
    report: dict[str, Any] = {
        "machine": machine_info(),
        "settings": asdict(settings),
        "eval_split": args.eval_split,
        "seeds": seeds,
        "lrs": lrs,
        "before": before,
        "teacher_accuracy": teacher_accuracy,
        "cue_advantage": cue_advantage,
        "table": summarize(by_lr[lrs[0]], before) if len(lrs) == 1 else None,
        "tables_by_lr": {str(lr): summarize(rs, before) for lr, rs in by_lr.items()},
        "contrasts": contrasts(by_lr[lrs[0]], before["ids"]) if len(lrs) == 1 else [],
        "runs": runs,
        "time_s": round(time.perf_counter() - started, 1),
    }
    out = args.out or args.work / "cueworld_grid.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n")
    if report["table"] is not None:
        table = markdown_table(report)
        out.with_suffix(".md").write_text(table + "\n")
        plot_curves(report, out.with_suffix(".png"))
        print(table)
    else:
        for lr, rows in report["tables_by_lr"].items():
            print(
                f"lr {lr}: "
                + ", ".join(
                    f"{r['teacher']}/{r['privilege']}/module "
                    f"{'on' if r['module'] else 'off'}: "
                    f"{_pct(r['after'])} ({100 * r['gain']:+.1f})"
                    for r in rows
                )
            )
    print(f"report written to {out} in {report['time_s']} s")
    return report


if __name__ == "__main__":
    main()
