"""``cuekit eval``: generate answers with a (distilled) student and score them.

Prompts come from distill's own builder (:func:`cuekit.distill.prompts.build_chat_pair`):
the same processor, chat template, image placeholders, system prompt and instruction,
and a multiple-choice question's options appended when it does not list them
(``Choices:\\n(A) ...``), since a letter answer is unanswerable otherwise. A run
folder's ``student/`` is loaded with its cue recovery module, which then runs at the
prefill of every generation.

Decoding defaults are the paper's evaluation settings (docs/method.md §1): temperature
0.7, top-p 0.8, top-k 20, up to 4096 new tokens; ``temperature=0`` decodes greedily.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from itertools import islice
from pathlib import Path
from typing import Any

import polars as pl
from PIL import Image

from cuekit.distill.prompts import build_chat_pair
from cuekit.errors import ConfigError
from cuekit.evaluate.config import SUMMARY_FILE, EvalConfig
from cuekit.schemas import Sample
from cuekit.schemas.runs import AccuracyCounts, EvalScores, EvalSummary

logger = logging.getLogger("cuekit.eval")

PREDICTIONS_FILE = "predictions.parquet"
PREDICTIONS_SCHEMA: dict[str, pl.DataType] = {
    "id": pl.String(),
    "source": pl.String(),
    "split": pl.String(),
    "prompt": pl.String(),
    "response": pl.String(),
    "extracted": pl.String(),
    "method": pl.String(),
    "answer": pl.String(),
    "correct": pl.Boolean(),
    "response_tokens": pl.Int32(),
    "finished": pl.Boolean(),
    # The judge's verdict in full: correct | wrong | no_answer | unscored, the comparison
    # rule that decided, and one line a user can audit the decision by.
    "outcome": pl.String(),
    "match": pl.String(),
    "reason": pl.String(),
}


@dataclass(frozen=True)
class EvalItem:
    id: str
    source: str
    split: str
    question: str
    answer: str | None
    choices: list[str] | None
    images: list[Image.Image]
    hint: str = ""  # the extract stage's cue ("" when there is none, or from --dataset)
    precision: int | None = None  # decimal places a float answer is judged at
    marked_image: Image.Image | None = None  # cue style marks: replaces image marked_index
    marked_index: int | None = None
    # How the source says to judge the answer (Sample's fields; None when it does not).
    question_type: str | None = None
    answer_type: str | None = None
    unit: str | None = None

    @classmethod
    def of(
        cls,
        sample: Sample,
        images: list[Image.Image],
        *,
        hint: str = "",
        marked_image: Image.Image | None = None,
        marked_index: int | None = None,
    ) -> EvalItem:
        """The item of a cuekit sample: its question, its answer and how to judge it."""
        return cls(
            sample.id,
            sample.source,
            sample.split,
            sample.question,
            sample.answer,
            sample.choices,
            images,
            hint,
            sample.precision,
            marked_image,
            marked_index,
            question_type=sample.question_type,
            answer_type=sample.answer_type,
            unit=sample.unit,
        )


# ---------------------------------------------------------------- inputs


def _items_from_shards(shards: str) -> Iterator[EvalItem]:
    from cuekit.evaluate.inputs import iter_cue_items

    for item in iter_cue_items(shards):
        yield EvalItem.of(
            item.record.sample,
            item.images(),
            hint=item.hint,
            marked_image=item.marked(),
            marked_index=item.marked_index,
        )


def _items_from_dataset(config: EvalConfig, skipped: list[str]) -> Iterator[EvalItem]:
    from cuekit.datasets.sources import RowError, SourceSpec, iter_source
    from cuekit.errors import SampleError
    from cuekit.io import DEFAULT_MAX_IMAGE_PIXELS
    from cuekit.pipelines.extract.prepare import prepare_sample

    spec = SourceSpec(dataset=config.dataset or "", split=config.split, name=config.name)
    # prepare_sample stores each image content-addressed; eval has no use for the copies.
    with tempfile.TemporaryDirectory(prefix="cuekit-eval-") as scratch:
        for raw in iter_source(spec):
            if isinstance(raw, RowError):
                skipped.append(f"{raw.original_id}: {raw.error}")
                continue
            try:
                prepared = prepare_sample(raw, Path(scratch), DEFAULT_MAX_IMAGE_PIXELS)
            except (SampleError, OSError, ValueError) as exc:
                skipped.append(f"{raw.original_id}: {exc}")
                continue
            yield EvalItem.of(prepared.sample, prepared.images)


def iter_eval_items(config: EvalConfig, skipped: list[str]) -> Iterator[EvalItem]:
    """The samples to evaluate, in a fixed order; unusable dataset rows go to ``skipped``."""
    items = (
        _items_from_shards(config.shards)
        if config.shards is not None
        else _items_from_dataset(config, skipped)
    )
    return islice(items, config.limit)


# ---------------------------------------------------------------- model


def load_eval_model(
    name: str, *, device: str = "auto", dtype: str = "auto"
) -> tuple[Any, Any, str]:
    """``(model, processor, what was loaded)`` for a run folder, a student or HF folder,
    an alias, a hub id or ``tiny-random``. The cue module comes along when saved."""
    from cuekit.devices import resolve_device, torch_dtype
    from cuekit.distill.cue_module import load_student
    from cuekit.distill.models import load_model, student_folder

    device = resolve_device(device)
    weights_dtype = torch_dtype(dtype, device)  # auto: bf16 on a GPU, fp32 on CPU
    path = Path(name).expanduser()
    folder = student_folder(path)
    if folder is not None:
        model, processor = load_student(folder, dtype=weights_dtype, device=device)
        return model, processor, str(folder)
    if path.is_dir():
        raise ConfigError(
            f"{path} is neither a model folder (config.json) nor a distill run "
            "(student/config.json)"
        )
    model, processor = load_model(name, dtype=weights_dtype, device=device)
    return model, processor, name


# ---------------------------------------------------------------- the loop


def _batched(items: Iterator[EvalItem], size: int) -> Iterator[list[EvalItem]]:
    while chunk := list(islice(items, size)):
        yield chunk


def generate_answers(
    model: Any, processor: Any, items: Sequence[EvalItem], config: EvalConfig
) -> list[dict[str, Any]]:
    """One prediction row per item: prompt, response and how it scored."""
    from cuekit.answers import judge_question
    from cuekit.distill.prompts import pair_batch
    from cuekit.distill.rollout import SamplingSettings, generate_rollouts

    # distill's own prompt builder: the student's prompt, or with --privilege the prompt a
    # distill teacher reads (hint, and the marked image for cue style marks).
    chats = [
        build_chat_pair(
            it.question,
            it.images,
            privilege=config.privilege,
            cue=it.hint,
            answer=it.answer,
            choices=it.choices,
            marked_image=it.marked_image,
            marked_index=it.marked_index,
            style=config.prompt_style,
        )
        for it in items
    ]
    prompts = [chat.teacher_text for chat in chats]
    inputs = pair_batch(processor, chats, "teacher")
    settings = SamplingSettings(
        config.max_new_tokens,
        config.temperature or 1.0,
        config.top_p,
        config.top_k,
        greedy=config.temperature == 0,
        compile=config.rollout_compile,
    )
    rollouts = generate_rollouts(model, processor, inputs, settings)  # (B, R)
    texts = processor.batch_decode(rollouts.response_ids, skip_special_tokens=True)
    finished = (rollouts.response_ids == processor.im_end_token_id).any(dim=1)
    rows = []
    for item, prompt, text, length, done in zip(
        items,
        prompts,
        texts,
        rollouts.response_mask.sum(1).tolist(),
        finished.tolist(),
        strict=True,
    ):
        verdict = judge_question(text, item, finished=bool(done))
        rows.append(
            {
                "id": item.id,
                "source": item.source,
                "split": item.split,
                "prompt": prompt,
                "response": text,
                "extracted": verdict.extracted,
                "method": verdict.rule,
                "answer": item.answer,
                "correct": verdict.correct,
                "response_tokens": int(length),
                "finished": bool(done),
                "outcome": verdict.outcome,
                "match": verdict.match,
                "reason": verdict.reason,
            }
        )
    return rows


def summarize(predictions: pl.DataFrame) -> EvalScores:
    """Accuracy overall and per source; samples without a reference answer are not scored.

    A response that commits to no answer (empty, refused, looping, cut off) counts as
    wrong in the accuracy, and is reported apart as ``no_answer``.
    """
    scored = predictions.filter(pl.col("answer").is_not_null())

    def counts(frame: pl.DataFrame) -> AccuracyCounts:
        n, correct = frame.height, int(frame["correct"].sum()) if frame.height else 0
        no_answer = int((frame["outcome"] == "no_answer").sum()) if frame.height else 0
        return AccuracyCounts(
            n, correct, n - correct - no_answer, no_answer, correct / n if n else 0.0
        )

    tokens = predictions["response_tokens"].mean()  # None without rows
    return EvalScores(
        overall=counts(scored),
        unscored=predictions.height - scored.height,
        per_source={
            source: counts(scored.filter(pl.col("source") == source))
            for source in sorted(scored["source"].unique().to_list())
        },
        methods=dict(sorted(Counter(predictions["method"].to_list()).items())),
        unfinished=int((~predictions["finished"]).sum()),
        mean_response_tokens=float(tokens) if isinstance(tokens, int | float) else 0.0,
    )


def run_eval(config: EvalConfig, progress: Any = None) -> EvalSummary:
    """Evaluate, write ``predictions.parquet`` and ``summary.json``; return the summary."""
    import torch

    start = time.perf_counter()
    model, processor, loaded = load_eval_model(
        config.model, device=config.device, dtype=config.dtype
    )
    load_s = time.perf_counter() - start
    torch.manual_seed(config.seed)  # sampling is reproducible for a given batch order
    skipped: list[str] = []
    rows: list[dict[str, Any]] = []
    start = time.perf_counter()
    for batch in _batched(iter_eval_items(config, skipped), config.batch_size):
        rows.extend(generate_answers(model, processor, batch, config))
        if progress is not None:
            progress(len(rows))
    generate_s = time.perf_counter() - start
    if not rows:
        raise ConfigError(
            f"no samples to evaluate ({len(skipped)} unusable rows)"
            + (f"; first: {skipped[0]}" if skipped else "")
        )
    predictions = pl.DataFrame(rows, schema=PREDICTIONS_SCHEMA)
    summary = EvalSummary(
        model=config.model,
        loaded=loaded,
        input=config.shards or config.dataset,
        privilege=config.privilege,
        scores=summarize(predictions),
        skipped_rows=len(skipped),
        skipped_examples=skipped[:5],
        time_load_s=round(load_s, 3),
        time_generate_s=round(generate_s, 3),
        new_tokens_per_s=round(
            float(predictions["response_tokens"].sum()) / max(generate_s, 1e-9), 1
        ),
        config={k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()},
    )
    config.output.mkdir(parents=True, exist_ok=True)
    predictions.write_parquet(config.output / PREDICTIONS_FILE)
    (config.output / SUMMARY_FILE).write_text(json.dumps(summary.as_dict(), indent=2) + "\n")
    return summary


def format_table(summary: Mapping[str, Any]) -> str:
    """The per-source accuracy table printed by the CLI, from a summary's JSON form (an
    :class:`EvalSummary` or :class:`EvalScores`, or a ``summary.json`` read back)."""
    blocks = [*summary["per_source"].items(), ("overall", summary)]
    width = max(len("source"), *(len(name) for name, _ in blocks))
    lines = [
        f"{'source':<{width}}  {'samples':>7}  {'correct':>7}  {'wrong':>7}  "
        f"{'no_answer':>9}  {'accuracy':>8}"
    ]
    lines += [
        f"{name:<{width}}  {b['samples']:>7}  {b['correct']:>7}  {b['wrong']:>7}  "
        f"{b['no_answer']:>9}  {b['accuracy']:>8.1%}"
        for name, b in blocks
    ]
    return "\n".join(lines)
