"""Distill throughput per phase: cuekit's recipe step against the obvious naive loop.

Both sides use the same student, teacher, processor, shard batch, lengths and sampling
seed in one process, so their rollouts are token-identical (checked and reported):

- **cuekit**: ``DistillRecipe.train_step`` (rollout via ``generate_rollouts`` with the
  configured engine, cuekit's static-cache loop by default; teacher
  and student scoring via ``score_responses`` with the chunked lm-head log-probs, the
  configured loss, clip, AdamW); per-phase times are the recipe's own timers.
- **naive**: the loop anyone writes first: HF ``generate`` with its default (dynamic)
  cache, then teacher ``model(**inputs).logits`` over the whole sequence and the full
  vocabulary, ``.float().log_softmax(-1)``, gather; the same for the student with
  gradients; the same loss, clip and AdamW step.

Learning rates are 0 so every repeat sees the same weights (the optimizer still runs).
Throughput is response tokens per second, for each phase and for the whole step; the
ratio is cuekit over naive. Each side runs ``--repeats`` times interleaved; medians.

    python benchmarks/bench_distill.py                          # CPU, tiny-random (4 layers)
    python benchmarks/bench_distill.py --model 2b-random --device cuda --batch-size 8 \\
        --max-new-tokens 256                                    # real Qwen3-VL-2B, random

TRL's ``DistillationTrainer`` is compared in ``bench_trl.py`` (it needs ``trl``).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from unittest import mock

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    add_run_options,
    build_random_model,
    format_table,
    qwen3_vl_config,
    real_size_processor,
    start_run,
    synchronize,
    write_json,
)

from cuekit.datasets.sources import SourceSpec  # noqa: E402
from cuekit.distill import build as build_module  # noqa: E402
from cuekit.distill.config import DistillConfig  # noqa: E402
from cuekit.distill.prompts import pair_batch, vision_token_ids  # noqa: E402
from cuekit.distill.recipe import DistillRecipe  # noqa: E402
from cuekit.distill.rollout import Rollouts  # noqa: E402
from cuekit.distill.scoring import scoring_pair  # noqa: E402
from cuekit.grounding.base import DetectorOptions  # noqa: E402
from cuekit.pipelines.extract.run import ExtractConfig, run_extract  # noqa: E402
from cuekit.pipelines.shard.run import ShardSettings, shard  # noqa: E402

TINY_BENCH = "tiny-bench"
REAL_2B = "2b-random"
REAL_8B = "8b-random"
PHASES = ("rollout", "teacher", "student", "optimizer")


def make_shards(root: Path) -> Path:
    """The bundled sample (36 questions with images) as shards (untimed setup)."""
    extract_dir, shard_dir = root / "extract", root / "shards"
    run_extract(
        ExtractConfig(
            source=SourceSpec(dataset="sample"),
            output=extract_dir,
            detectors=("annotations",),
            detector=DetectorOptions(),
        )
    )
    shard(extract_dir, shard_dir, ShardSettings(maxcount=1000))
    return shard_dir


def model_loader(layers: int, vocab_size: int):
    """A stand-in for ``cuekit.distill.models.load_model`` that also builds the bench models."""
    from transformers import Qwen3VLForConditionalGeneration

    from cuekit.distill.tiny import build_tiny_processor, tiny_qwen3_vl_config

    def load(name: str, *, dtype: Any = None, device: Any = "cpu", seed: int = 0):
        if name == TINY_BENCH:
            processor = build_tiny_processor()
            config = tiny_qwen3_vl_config(processor, layers)
            # A real-size vocabulary: the lm-head and log-softmax costs are what differ.
            config.text_config.vocab_size = vocab_size
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                model = Qwen3VLForConditionalGeneration(config)
            if dtype is not None:
                model = model.to(dtype)
        elif name in (REAL_2B, REAL_8B):
            processor = real_size_processor()
            size = "2b" if name == REAL_2B else "8b"
            model = build_random_model(
                qwen3_vl_config(size, processor),
                device=str(device),
                dtype=dtype or torch.float32,
                seed=seed,
            )
        else:
            raise ValueError(
                f"bench model must be one of {TINY_BENCH}, {REAL_2B}, {REAL_8B}; got {name!r}"
            )
        model.generation_config.eos_token_id = processor.im_end_token_id
        model.generation_config.pad_token_id = processor.tokenizer.pad_token_id
        return model.to(device).eval(), processor

    return load


# -- the naive loop -----------------------------------------------------------------


def full_vocab_logprobs(model: Any, batch: Any) -> torch.Tensor:
    """All logits of the sequence, full-vocab fp32 log-softmax, gathered: (B, R)."""
    device = next(model.parameters()).device
    inputs = {k: v.to(device) for k, v in batch.inputs.items()}
    logits = model(**inputs, use_cache=False).logits  # (B, P + R, V)
    logprobs = logits.float().log_softmax(-1)[:, batch.predictor_positions]  # (B, R, V)
    return logprobs.gather(-1, batch.response_ids.to(device)[..., None])[..., 0]


def step_chats(recipe: DistillRecipe, batch: Any) -> list[Any]:
    """The step's prompt rows (each kept sample repeated R times), as the recipe keeps them."""
    return recipe.step_batch(batch).chats


def naive_step(recipe: DistillRecipe, batch: Any) -> dict[str, float]:
    """generate -> full-vocab teacher log-probs -> full-vocab student log-probs -> update."""
    cfg, processor = recipe.config, recipe.processor
    timers = dict.fromkeys(PHASES, 0.0)
    autocast = recipe.autocast()  # the recipe's own (off in fp32)
    chats = step_chats(recipe, batch)
    start = time.perf_counter()
    inputs = pair_batch(processor, chats, "student")
    inputs = {k: v.to(recipe.device) for k, v in inputs.items()}
    recipe.student.eval()
    with torch.no_grad(), autocast:
        out = recipe.student.generate(
            **inputs,
            max_new_tokens=cfg.max_new_tokens,
            do_sample=True,
            temperature=cfg.temperature,
            top_p=cfg.top_p,
            top_k=cfg.top_k or None,
            eos_token_id=processor.im_end_token_id,
            pad_token_id=processor.tokenizer.pad_token_id,
            suppress_tokens=vision_token_ids(processor),
        )
    recipe.student.train()
    response = out[:, inputs["input_ids"].shape[1] :]
    stop = (response == processor.im_end_token_id).long()
    mask = ((stop.cumsum(1) - stop) == 0).long()  # up to and including the first stop
    response = torch.where(mask.bool(), response, processor.tokenizer.pad_token_id)
    synchronize()
    timers["rollout"] = time.perf_counter() - start

    student_batch, teacher_batch = scoring_pair(
        pair_batch(processor, chats, "student"),
        pair_batch(recipe.teacher_processor, chats, "teacher"),
        Rollouts(response, mask),
        vision_token_ids(processor),
    )
    start = time.perf_counter()
    with torch.no_grad(), autocast:
        teacher_lp = full_vocab_logprobs(recipe.teacher, teacher_batch)
    synchronize()
    timers["teacher"] = time.perf_counter() - start

    start = time.perf_counter()
    recipe.optimizer.zero_grad(set_to_none=True)
    with autocast:
        student_lp = full_vocab_logprobs(recipe.student, student_batch)
        loss, _ = recipe.loss_fn(
            student_lp, teacher_lp.to(student_lp), student_batch.response_mask.to(student_lp.device)
        )
    loss.backward()
    synchronize()
    timers["student"] = time.perf_counter() - start

    start = time.perf_counter()
    params = [p for group in recipe.optimizer.param_groups for p in group["params"]]
    torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
    recipe.optimizer.step()
    synchronize()
    timers["optimizer"] = time.perf_counter() - start
    return {"tokens": int(mask.sum()), **timers}


def cuekit_step(recipe: DistillRecipe, batch: Any) -> dict[str, float]:
    record = recipe.train_step(batch)
    if record is None:
        raise RuntimeError("every prompt of the batch was longer than --max-prompt-len")
    return {
        "tokens": record.response_tokens,
        **{phase: float(getattr(record, f"time_{phase}")) for phase in PHASES},
    }


def run_side(step_fn, recipe: DistillRecipe, batch: Any, seed: int) -> dict[str, float]:
    """One step from a fixed sampling seed (so both sides sample the same tokens)."""
    torch.manual_seed(seed)
    synchronize()
    start = time.perf_counter()
    result = step_fn(recipe, batch)
    synchronize()
    result["step"] = time.perf_counter() - start
    if torch.cuda.is_available():
        result["peak_gb"] = torch.cuda.max_memory_allocated() / 2**30
        torch.cuda.reset_peak_memory_stats()
    return result


def median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def setup_recipe(
    work: Path,
    *,
    student: str,
    teacher: str = "self",
    device: str,
    batch_size: int,
    max_new_tokens: int,
    loss: str = "k1",
    grad_checkpointing: bool = False,
    layers: int = 4,
    vocab_size: int = 151_936,
    shards: Path | None = None,
) -> tuple[DistillRecipe, Any]:
    """A set-up recipe over the sample shards (lr 0) and the one batch both sides use.

    ``shards`` replaces the freshly extracted sample: the teacher prompt's length (hint
    included) sets the naive side's cost, so comparing two trees needs the same shards.
    """
    config = DistillConfig(
        student=student,
        teacher=teacher,
        shards=str(shards or make_shards(work)),
        output=str(work / "run"),
        device=device,
        batch_size=batch_size,
        max_new_tokens=max_new_tokens,
        loss=loss,
        lr=0.0,
        module_lr=0.0,
        grad_checkpointing=grad_checkpointing,
        tensorboard=False,
        max_steps=10**6,
    )
    with mock.patch.object(build_module, "load_model", model_loader(layers, vocab_size)):
        recipe = DistillRecipe(config)
        recipe.setup()
    return recipe, next(recipe.batches())


def compare_steps(recipe: DistillRecipe, batch: Any, *, repeats: int, seed: int) -> dict[str, Any]:
    """Naive and cuekit steps, interleaved after one warm-up each; per-phase medians."""
    sides = {"naive": naive_step, "cuekit": cuekit_step}
    for step_fn in sides.values():
        run_side(step_fn, recipe, batch, seed)
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in sides}
    for _ in range(repeats):
        for name, step_fn in sides.items():
            runs[name].append(run_side(step_fn, recipe, batch, seed))
    tokens = {name: sorted({r["tokens"] for r in rs}) for name, rs in runs.items()}
    rows = []
    for phase in (*PHASES, "step"):
        row: dict[str, Any] = {"phase": phase}
        for name, rs in runs.items():
            seconds = median([r[phase] for r in rs])
            row[f"{name}_s"] = seconds
            row[f"{name}_tok_s"] = median([r["tokens"] for r in rs]) / seconds
        row["ratio"] = row["cuekit_tok_s"] / row["naive_tok_s"]
        rows.append(row)
    peaks = {name: max(r.get("peak_gb", 0.0) for r in rs) for name, rs in runs.items()}
    return {
        "rows": rows,
        "runs": runs,
        "tokens": tokens,
        "peak_gb": peaks,
        "identical_rollouts": tokens["naive"] == tokens["cuekit"] and len(tokens["naive"]) == 1,
    }


STEP_COLUMNS = ["phase", "naive_s", "cuekit_s", "naive_tok_s", "cuekit_tok_s", "ratio"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=TINY_BENCH, choices=[TINY_BENCH, REAL_2B])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--layers", type=int, default=4, help="tiny-bench text layers")
    parser.add_argument("--vocab-size", type=int, default=151_936, help="tiny-bench vocab")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--loss", default="k1")
    parser.add_argument("--grad-checkpointing", action="store_true")
    parser.add_argument(
        "--shards",
        type=Path,
        default=None,
        help="run on these shards instead of extracting the sample anew (compare two trees "
        "on the same prompts)",
    )
    add_run_options(parser)
    args, info = start_run(parser)
    work = Path(tempfile.mkdtemp(prefix="bench_distill_"))
    try:
        recipe, batch = setup_recipe(
            work,
            student=args.model,
            device=args.device,
            batch_size=args.batch_size,
            max_new_tokens=args.max_new_tokens,
            loss=args.loss,
            grad_checkpointing=args.grad_checkpointing,
            layers=args.layers,
            vocab_size=args.vocab_size,
            shards=args.shards,
        )
        sb = recipe.step_batch(batch)
        print(
            "prompt tokens: student "
            f"{tuple(sb.student.inputs['input_ids'].shape)}, teacher "
            f"{tuple(sb.teacher.inputs['input_ids'].shape)}"
        )
        params = sum(p.numel() for p in recipe.student.parameters())
        print(
            f"student {args.model} (teacher: its frozen copy): {params / 1e6:.1f}M params; "
            f"batch {args.batch_size}, {args.max_new_tokens} new tokens, loss {args.loss}, "
            f"device {recipe.device}"
        )
        result = compare_steps(recipe, batch, repeats=args.repeats, seed=args.seed)
        recipe.cleanup()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    tokens = result["tokens"]
    print(
        f"response tokens per step: naive {tokens['naive']}, cuekit {tokens['cuekit']} "
        f"({'identical rollouts' if result['identical_rollouts'] else 'DIFFER'})"
    )
    print(format_table(result["rows"], STEP_COLUMNS))
    if torch.cuda.is_available():
        print(f"peak GB: {result['peak_gb']}")
    write_json(
        args.out,
        {
            "benchmark": "distill",
            "machine": info,
            "args": vars(args),
            "student_params": params,
            **result,
        },
    )


if __name__ == "__main__":
    main()
