"""``cuekit audit``: is each cue good privilege? Three measurements per sample.

- **Leakage**: does the answer appear in the cue: verbatim, as its number in another
  form ("five", "5.0" for "5"), as the choice letter, or as the text of the right
  choice? Matching follows :func:`cuekit.cues.leak.find_leak`.
- **Coverage**: how many query phrases got at least one detection, detections per
  sample, and the detection score distribution.
- **Cue advantage** (needs a teacher): ``log p_T(y | prompt + cue) - log p_T(y | prompt)``
  for the reference answer ``y`` (or a given response), per token and summed per sample.
  Both sides score the same token ids teacher-forced; positive means the cue makes
  the teacher more confident in ``y``, near zero means the cue carries nothing for it.

Writes ``audit.parquet`` (one row per sample), ``summary.json`` and PNG histograms.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from cuekit.cues.leak import find_leak
from cuekit.distill.prompts import ChatPair, record_chat_pair
from cuekit.errors import ConfigError
from cuekit.evaluate.config import SUMMARY_FILE, AuditConfig
from cuekit.evaluate.inputs import CueItem, iter_cue_items
from cuekit.schemas.runs import (
    AdvantageSummary,
    AuditScores,
    AuditSummary,
    CoverageSummary,
    Distribution,
    LeakageSummary,
    LeakExample,
)

AUDIT_FILE = "audit.parquet"
SCORES_PLOT = "scores.png"
ADVANTAGE_PLOT = "advantage.png"
EXAMPLES = 5
AUDIT_SCHEMA: dict[str, pl.DataType] = {
    "id": pl.String(),
    "source": pl.String(),
    "answer": pl.String(),
    "cue_text": pl.String(),
    "leak": pl.Boolean(),
    "leak_kind": pl.String(),
    "leak_match": pl.String(),
    "leak_recorded": pl.Boolean(),
    "n_phrases": pl.Int32(),
    "grounded_phrases": pl.Int32(),
    "phrase_coverage": pl.Float64(),
    "n_detections": pl.Int32(),
    "mean_score": pl.Float64(),
    "scores": pl.List(pl.Float64()),
    "backends": pl.List(pl.String()),
}
ADVANTAGE_SCHEMA: dict[str, pl.DataType] = {
    "target": pl.String(),
    "target_tokens": pl.Int32(),
    "logprob_with_cue": pl.Float64(),
    "logprob_without_cue": pl.Float64(),
    "advantage": pl.Float64(),
    "advantage_per_token": pl.Float64(),
    "token_advantage": pl.List(pl.Float64()),
}

# ---------------------------------------------------------------- leakage


@dataclass(frozen=True)
class LeakFinding:
    kind: str | None  # verbatim | number | choice_letter | choice_text | None
    match: str | None  # the piece of the cue that gives the answer away


def classify_leak(
    cue_text: str, answer: str | None, choices: Sequence[str] | None = None
) -> LeakFinding:
    """How (if at all) ``cue_text`` gives ``answer`` away."""
    if answer is None or not answer.strip() or not cue_text:
        return LeakFinding(None, None)
    letter = answer.strip().strip("().").strip()
    is_letter = len(letter) == 1 and letter.isalpha()
    if is_letter and choices:
        found = find_leak(cue_text, letter)
        if found is not None:
            return LeakFinding("choice_letter", found)
        index = ord(letter.upper()) - ord("A")
        if 0 <= index < len(choices):
            found = find_leak(cue_text, choices[index])
            if found is not None:
                return LeakFinding("choice_text", found)
        return LeakFinding(None, None)
    found = find_leak(cue_text, answer, choices)
    if found is None:
        return LeakFinding(None, None)
    same = found.strip().lower() == answer.strip().lower()
    return LeakFinding("verbatim" if same else "number", found)


def _excerpt(text: str, match: str, width: int = 60) -> str:
    at = text.find(match)
    at = max(at, 0)
    start, stop = max(0, at - width), min(len(text), at + len(match) + width)
    return ("..." if start else "") + text[start:stop] + ("..." if stop < len(text) else "")


# ---------------------------------------------------------------- coverage


def coverage_row(item: CueItem) -> dict[str, Any]:
    cue = item.record.cue
    grounded = {d.phrase_index for d in cue.detections if d.phrase_index is not None}
    scores = [float(d.score) for d in cue.detections]
    return {
        "n_phrases": len(cue.phrases),
        "grounded_phrases": len(grounded),
        "phrase_coverage": len(grounded) / len(cue.phrases) if cue.phrases else None,
        "n_detections": len(cue.detections),
        "mean_score": statistics.fmean(scores) if scores else None,
        "scores": scores,
        "backends": sorted({d.backend for d in cue.detections}),
    }


# ---------------------------------------------------------------- cue advantage


@dataclass(frozen=True)
class Advantage:
    """Teacher log-probs of one target with and without the cue."""

    token_advantage: list[float]  # (R_i,) lp_cue - lp_plain per target token
    logprob_with_cue: float  # summed over the target's tokens
    logprob_without_cue: float

    @property
    def total(self) -> float:
        return self.logprob_with_cue - self.logprob_without_cue

    @property
    def per_token(self) -> float:
        return self.total / len(self.token_advantage)


def cue_advantage(
    model: Any,
    processor: Any,
    questions: Sequence[str],
    images: Sequence[Sequence[Any]],
    hints: Sequence[str],
    targets: Sequence[str],
    *,
    chunk_size: int = 512,
) -> list[Advantage]:
    """One :class:`Advantage` per sample, from two teacher-forced forwards of ``model``.

    ``targets[i]`` is tokenized on its own (no special tokens) and appended to both of
    sample i's prompts: the plain one and the one with ``hints[i]`` appended, as the
    distill teacher sees it.
    """
    if not len(questions) == len(images) == len(hints) == len(targets):
        raise ValueError(
            f"need one image list, hint and target per question; got "
            f"{len(questions)}, {len(images)}, {len(hints)}, {len(targets)}"
        )
    pairs = [
        ChatPair(question, hint or None, list(imgs), list(imgs))
        for question, imgs, hint in zip(questions, images, hints, strict=True)
    ]
    return pair_advantage(model, processor, pairs, targets, chunk_size=chunk_size)


def pair_advantage(
    model: Any,
    processor: Any,
    pairs: Sequence[ChatPair],
    targets: Sequence[str],
    *,
    chunk_size: int = 512,
) -> list[Advantage]:
    """:func:`cue_advantage` on prompts from the shared builder: the teacher side of each
    pair (hint, and the marked image for cue style marks) against its student side."""
    import torch

    from cuekit.distill.prompts import build_scoring_batch, pair_batch, vision_token_ids
    from cuekit.distill.scoring import score_responses

    if len(pairs) != len(targets):
        raise ValueError(
            f"need one target per prompt pair; got {len(pairs)} pairs and {len(targets)} targets"
        )
    token_lists = [processor.tokenizer(t, add_special_tokens=False)["input_ids"] for t in targets]
    empty = [i for i, ids in enumerate(token_lists) if not ids]
    if empty:
        raise ValueError(f"target {empty[0]} is empty: nothing to score")
    width = max(len(ids) for ids in token_lists)
    pad = processor.tokenizer.pad_token_id
    response = torch.full((len(targets), width), pad, dtype=torch.long)  # (B, R)
    mask = torch.zeros_like(response)
    for row, ids in enumerate(token_lists):
        response[row, : len(ids)] = torch.tensor(ids)
        mask[row, : len(ids)] = 1
    forbidden = vision_token_ids(processor)
    logprobs = []
    for side in ("teacher", "student"):
        prompt = pair_batch(processor, pairs, side)
        batch = build_scoring_batch(prompt, response, mask, forbidden_token_ids=forbidden)
        with torch.inference_mode():
            scores, _ = score_responses(model, batch, chunk_size=chunk_size)
        logprobs.append(scores.logprobs.float().cpu() * mask)  # (B, R), 0 at padding
    with_cue, without_cue = logprobs
    out = []
    for row, ids in enumerate(token_lists):
        n = len(ids)
        out.append(
            Advantage(
                (with_cue[row, :n] - without_cue[row, :n]).tolist(),
                float(with_cue[row].sum()),
                float(without_cue[row].sum()),
            )
        )
    return out


def read_responses(path: str | Path) -> dict[str, str]:
    """``id -> response`` from a parquet or jsonl with those columns (eval's
    ``predictions.parquet`` works)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"--responses {path}: no such file")
    frame = pl.read_parquet(path) if path.suffix == ".parquet" else pl.read_ndjson(path)
    missing = {"id", "response"} - set(frame.columns)
    if missing:
        raise ConfigError(f"--responses {path} lacks the column(s) {sorted(missing)}")
    return dict(zip(frame["id"].to_list(), frame["response"].to_list(), strict=True))


# ---------------------------------------------------------------- the audit


def _sample_row(item: CueItem) -> dict[str, Any]:
    sample = item.record.sample
    leak = classify_leak(item.hint, sample.answer, sample.choices)
    return {
        "id": sample.id,
        "source": sample.source,
        "answer": sample.answer,
        "cue_text": item.hint,
        "leak": leak.kind is not None,
        "leak_kind": leak.kind,
        "leak_match": leak.match,
        "leak_recorded": item.record.cue.leak,
        **coverage_row(item),
    }


def _add_advantages(rows: list[dict[str, Any]], items: list[CueItem], config: AuditConfig) -> None:
    from cuekit.evaluate.eval import load_eval_model

    model, processor, _ = load_eval_model(
        config.teacher or "", device=config.device, dtype=config.dtype
    )
    responses = read_responses(config.responses) if config.responses else None
    scored = []
    for row, item in zip(rows, items, strict=True):
        target = responses.get(item.id) if responses is not None else item.record.sample.answer
        row["target"] = target if target and target.strip() else None
        if row["target"] is not None:
            scored.append((row, item))
    for start in range(0, len(scored), config.batch_size):
        chunk = scored[start : start + config.batch_size]
        # The teacher's prompt exactly as distill builds it (marked image included).
        pairs = [
            record_chat_pair(
                item.record.sample,
                item.images(),
                cue=item.hint,
                marked_image=item.marked(),
                marked_index=item.marked_index,
                style=config.style,
            )
            for _, item in chunk
        ]
        advantages = pair_advantage(
            model,
            processor,
            pairs,
            [row["target"] for row, _ in chunk],
            chunk_size=config.chunk_size,
        )
        for (row, _), adv in zip(chunk, advantages, strict=True):
            row.update(
                {
                    "target_tokens": len(adv.token_advantage),
                    "logprob_with_cue": adv.logprob_with_cue,
                    "logprob_without_cue": adv.logprob_without_cue,
                    "advantage": adv.total,
                    "advantage_per_token": adv.per_token,
                    "token_advantage": adv.token_advantage,
                }
            )


def _mean(values: pl.Series) -> float:
    """A numeric or boolean column's mean; 0.0 for an empty or all-null one."""
    mean = values.mean()  # typed for any column; None without values
    return float(mean) if isinstance(mean, int | float) else 0.0


def summarize_audit(frame: pl.DataFrame) -> AuditScores:
    """The summary.json blocks: leakage, coverage and (when measured) advantage."""
    with_answer = frame.filter(pl.col("answer").is_not_null())
    leaky = frame.filter(pl.col("leak"))
    leakage = LeakageSummary(
        checked=with_answer.height,
        leaky=leaky.height,
        rate=leaky.height / with_answer.height if with_answer.height else 0.0,
        by_kind=dict(sorted(Counter(leaky["leak_kind"].to_list()).items())),
        recorded_by_extract=int(frame["leak_recorded"].sum()),
        examples=[
            LeakExample(
                r["id"],
                r["answer"],
                r["leak_kind"],
                r["leak_match"],
                _excerpt(r["cue_text"], r["leak_match"]),
            )
            for r in leaky.head(EXAMPLES).iter_rows(named=True)
        ],
    )
    coverage_values = frame["phrase_coverage"].drop_nulls()
    coverage = CoverageSummary(
        phrases_per_sample=_mean(frame["n_phrases"]),
        phrase_coverage=Distribution.of(coverage_values.to_list()),
        fully_grounded_rate=_mean(coverage_values == 1.0) if coverage_values.len() else None,
        samples_without_phrases=int(frame["phrase_coverage"].is_null().sum()),
        detections_per_sample=Distribution.of(frame["n_detections"].cast(pl.Float64).to_list()),
        samples_without_detections=int((frame["n_detections"] == 0).sum()),
        scores=Distribution.of(frame["scores"].explode().drop_nulls().to_list()),
        backends=dict(sorted(Counter(b for bs in frame["backends"].to_list() for b in bs).items())),
    )
    advantage = None
    if "advantage" in frame.columns:
        measured = frame.filter(pl.col("advantage").is_not_null()).sort("advantage")
        advantage = AdvantageSummary(
            samples=measured.height,
            per_sample=Distribution.of(measured["advantage"].to_list()),
            per_token=Distribution.of(measured["token_advantage"].explode().to_list()),
            positive_rate=_mean(measured["advantage"] > 0) if measured.height else None,
            most_informative=measured.tail(EXAMPLES)["id"].reverse().to_list(),
            least_informative=measured.head(EXAMPLES)["id"].to_list(),
        )
    return AuditScores(frame.height, leakage, coverage, advantage)


def audit_table(items: Sequence[CueItem], config: AuditConfig) -> pl.DataFrame:
    """One row per item: leakage and coverage, plus the cue advantage with a teacher."""
    rows = [_sample_row(item) for item in items]
    if config.teacher is not None:
        _add_advantages(rows, list(items), config)
    schema = AUDIT_SCHEMA | (ADVANTAGE_SCHEMA if config.teacher is not None else {})
    return pl.DataFrame([{name: row.get(name) for name in schema} for row in rows], schema=schema)


def run_audit(config: AuditConfig) -> AuditSummary:
    """Audit every cue of ``config.input``; write the table, summary and plots."""
    items = list(iter_cue_items(config.input, limit=config.limit))
    if not items:
        raise ConfigError(f"{config.input} holds no samples")
    frame = audit_table(items, config)
    config.output.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(config.output / AUDIT_FILE)
    plots = write_plots(frame, config.output) if config.plots else []
    summary = AuditSummary(
        input=config.input,
        teacher=config.teacher,
        target=None if config.teacher is None else ("responses" if config.responses else "answer"),
        scores=summarize_audit(frame),
        plots=[p.name for p in plots],
    )
    (config.output / SUMMARY_FILE).write_text(json.dumps(summary.as_dict(), indent=2) + "\n")
    return summary


# ---------------------------------------------------------------- plots


def _histogram(
    ax: Any,
    values: Sequence[float],
    title: str,
    xlabel: str,
    bins: int = 20,
    value_range: tuple[float, float] | None = None,
) -> None:
    if values:
        ax.hist(values, bins=bins, range=value_range, color="#3b6ea5", edgecolor="white")
    else:
        ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("count")


def write_plots(frame: pl.DataFrame, folder: Path) -> list[Path]:
    """scores.png (detection scores, detections per sample, phrase coverage) and, with a
    teacher, advantage.png (per-sample and per-token cue advantage)."""
    from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend

    written = []
    fig = Figure(figsize=(13, 3.6), layout="constrained")
    axes = fig.subplots(1, 3)
    _histogram(
        axes[0],
        frame["scores"].explode().drop_nulls().to_list(),
        "Detection scores",
        "score",
        value_range=(0.0, 1.0),
    )
    _histogram(axes[1], frame["n_detections"].to_list(), "Detections per sample", "detections")
    _histogram(
        axes[2],
        frame["phrase_coverage"].drop_nulls().to_list(),
        "Phrases grounded",
        "fraction of query phrases",
        bins=10,
        value_range=(0.0, 1.0),
    )
    fig.savefig(folder / SCORES_PLOT, dpi=100)
    written.append(folder / SCORES_PLOT)
    if "advantage" in frame.columns:
        fig = Figure(figsize=(9, 3.6), layout="constrained")
        axes = fig.subplots(1, 2)
        _histogram(
            axes[0],
            frame["advantage"].drop_nulls().to_list(),
            "Cue advantage per sample",
            "log p(y | cue) - log p(y)",
        )
        _histogram(
            axes[1],
            frame["token_advantage"].explode().drop_nulls().to_list(),
            "Cue advantage per token",
            "log-prob difference",
        )
        for ax in axes:
            ax.axvline(0.0, color="#aa3333", linewidth=1)
        fig.savefig(folder / ADVANTAGE_PLOT, dpi=100)
        written.append(folder / ADVANTAGE_PLOT)
    return written
