"""GPU check: the issue-5 targets measured on one H100/H200 in under 8 minutes.

Real-size architectures with random weights, built in-process (no network; only torch,
transformers and this repository). Every section runs its baseline side by side and is
guarded: a failure or an exhausted time budget is reported in the table, never fatal.

1. rollout-2b      Qwen3-VL-2B, B=128, prompt ~512 (256 image + text), 256 new tokens:
                   HF generate (dynamic cache) vs cuekit's rollout engine, eager and with
                   its decode step compiled (CUDA graphs); ``--with-hf-static`` adds HF
                   generate with ``cache_implementation="static"`` (compiled by transformers)
2. student-2b      forward+backward, B=2, T=3072, checkpointing, fp32 master + bf16
                   autocast: full-vocab log-softmax vs cuekit chunked log-probs, and
                   chunked without checkpointing; MFU 6*N*tok
3. teacher-8b      forward, B=4, T=3072, bf16, inference mode: full-vocab vs chunked; MFU 2*N*tok
4. opd-step        2B student + 8B teacher, recipe step vs the naive loop (bench_distill)
5. gdino           Swin-T Grounding DINO, bf16, batch 4, 800x1333: model-only vs run_extract

    python benchmarks/gpu_check.py --out gpu_results.json          # on the GPU machine
    python benchmarks/gpu_check.py --tiny --out /tmp/tiny.json     # CPU self-test, < 2 min
"""

from __future__ import annotations

import argparse
import gc
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_distill  # noqa: E402
import bench_extract  # noqa: E402
from common import (  # noqa: E402
    format_table,
    header_line,
    language_model_params,
    machine_info,
    peak_tflops,
    set_threads,
    synchronize,
    synthetic_prompts,
    time_call,
    write_json,
)

from cuekit.distill.models import enable_activation_checkpointing  # noqa: E402
from cuekit.distill.prompts import vision_token_ids  # noqa: E402
from cuekit.distill.rollout import SamplingSettings, generate_rollouts  # noqa: E402
from cuekit.distill.scoring import token_logprobs  # noqa: E402
from cuekit.grounding.base import DetectorOptions, register_backend  # noqa: E402

# Sizes per section: real (GPU), tiny (CPU self-test of this script). rollout: batch,
# prompt, new tokens; student / teacher: batch, length; opd: batch, new tokens; gdino:
# batch, width, height, images.
SIZES = {
    "rollout": ((128, 512, 256), (8, 64, 16)),
    "student": ((2, 3072), (2, 128)),
    "teacher": ((4, 3072), (2, 128)),
    "opd": ((8, 128), (4, 16)),
    "gdino": ((4, 1333, 800, 32), (2, 320, 240, 8)),
}
# Rough seconds each section needs on an H100 (incl. model build), to skip instead of
# overrunning the budget.
ESTIMATE_S = {
    "rollout-2b": 200,
    "student-2b": 40,
    "teacher-8b": 40,
    "opd-step": 90,
    "gdino": 40,
    "cue-module": 60,
}


class Context:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.tiny = args.tiny
        self.sizes = {section: sizes[int(args.tiny)] for section, sizes in SIZES.items()}
        self.device = "cpu" if args.tiny else "cuda"
        self.dtype = torch.float32 if args.tiny else torch.bfloat16
        self.peak = peak_tflops(args.peak_tflops)
        self.loader = bench_distill.model_loader(layers=2, vocab_size=151_936)

    def model(self, size: str, *, dtype: torch.dtype) -> tuple[Any, Any]:
        name = (
            bench_distill.TINY_BENCH
            if self.tiny
            else (bench_distill.REAL_2B if size == "2b" else bench_distill.REAL_8B)
        )
        return self.loader(name, dtype=dtype, device=self.device, seed=0)

    def autocast(self):
        return torch.autocast("cuda", dtype=torch.bfloat16, enabled=not self.tiny)

    def mfu(self, flops: float, seconds: float) -> float | None:
        return None if self.peak is None else flops / seconds / (self.peak * 1e12)


def free_memory() -> None:
    torch._dynamo.reset()  # compiled rollout steps hold CUDA-graph memory pools
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def peak_gb() -> float | None:
    return torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else None


# -- sections -------------------------------------------------------------------------


def rollout_section(ctx: Context) -> list[dict[str, Any]]:
    batch, prompt_tokens, new_tokens = ctx.sizes["rollout"]
    model, processor = ctx.model("2b", dtype=ctx.dtype)
    inputs = synthetic_prompts(processor, batch, prompt_tokens)
    inputs = {k: v.to(ctx.device) for k, v in inputs.items()}
    prompt_len = inputs["input_ids"].shape[1]
    common = {
        "max_new_tokens": new_tokens,
        "do_sample": True,
        "temperature": 1.0,
        "top_p": 1.0,
        "eos_token_id": processor.im_end_token_id,
        "pad_token_id": processor.tokenizer.pad_token_id,
        "suppress_tokens": vision_token_ids(processor),
    }

    def hf(**extra: Any) -> Callable[[], Any]:
        def run() -> Any:
            with torch.no_grad():
                return model.generate(**inputs, **common, **extra)

        return run

    def cuekit(compiled: bool) -> Callable[[], Any]:
        settings = SamplingSettings(new_tokens, engine="cuekit", compile=compiled)

        def run() -> Any:
            torch.manual_seed(0)
            return generate_rollouts(model, processor, inputs, settings).response_ids

        return run

    variants = {
        "HF generate (dynamic cache)": hf(),
        "cuekit engine, eager (--rollout-engine cuekit)": cuekit(False),
        "cuekit engine, compiled step (--rollout-compile)": cuekit(True),
    }
    if ctx.args.with_hf_static:
        variants["HF generate (static cache, compiled by transformers)"] = hf(
            cache_implementation="static"
        )
    rows, base = [], None
    for name, fn in variants.items():
        free_memory()
        try:
            timing = time_call(fn, repeats=1, warmup=1)
        except Exception as exc:  # a variant that fails on this stack is reported
            rows.append(
                {
                    "section": "rollout-2b",
                    "variant": name,
                    "note": f"failed: {type(exc).__name__}: {str(exc)[:160]}",
                }
            )
            continue
        rate = batch * new_tokens / timing.median  # ceiling: rows may stop early
        base = base or rate
        rows.append(
            {
                "section": "rollout-2b",
                "variant": name,
                "seconds": timing.median,
                "throughput": rate,
                "unit": "new tok/s",
                "ratio": rate / base,
                "peak_gb": peak_gb(),
                "note": f"B={batch}, prompt {prompt_len}, {new_tokens} new",
            }
        )
    return rows


def lm_loss_fns(
    model: Any, ids: torch.Tensor, ctx: Context, *, train: bool
) -> dict[str, Callable[[], Any]]:
    """Full-vocab log-softmax vs cuekit's chunked log-probs of next tokens, (B, T-1)."""
    targets = ids[:, 1:]

    def full() -> Any:
        with ctx.autocast():
            logits = model(input_ids=ids, use_cache=False).logits[:, :-1]  # (B, T-1, V)
            lp = logits.float().log_softmax(-1).gather(-1, targets[..., None])[..., 0]
        if train:
            (-lp.mean()).backward()
        return lp

    def chunked() -> Any:
        with ctx.autocast():
            hidden = model.model(input_ids=ids, use_cache=False).last_hidden_state[:, :-1]
            weight = model.get_output_embeddings().weight
            lp = token_logprobs(hidden, weight, targets, chunk_size=512)
        if train:
            (-lp.mean()).backward()
        return lp

    def chunked_no_checkpointing() -> Any:
        # What --checkpoint-layers resolves to when the memory plan needs none: every
        # layer keeps its activations, so no forward runs twice.
        layers = model.model.language_model.layers
        flags = [layer.gradient_checkpointing for layer in layers]
        for layer in layers:
            layer.gradient_checkpointing = False
        try:
            return chunked()
        finally:
            for layer, flag in zip(layers, flags, strict=True):
                layer.gradient_checkpointing = flag

    fns = {"full-vocab log-softmax": full, "cuekit chunked log-probs": chunked}
    if train:
        fns["cuekit chunked, no checkpointing (--checkpoint-layers 0)"] = chunked_no_checkpointing
    return fns


def scoring_section(ctx: Context, *, size: str, train: bool) -> list[dict[str, Any]]:
    section = "student-2b" if train else "teacher-8b"
    batch, seq = ctx.sizes["student" if train else "teacher"]
    # Student: fp32 master weights under bf16 autocast (as the recipe); teacher: bf16.
    model, _ = ctx.model(size, dtype=torch.float32 if train or ctx.tiny else torch.bfloat16)
    n_params = language_model_params(model)
    if train:  # every layer checkpointed, as the baseline in docs/method.md §5
        enable_activation_checkpointing(model)
        model.train()
    ids = torch.randint(0, 100_000 if not ctx.tiny else 600, (batch, seq), device=ctx.device)
    rows, base = [], None
    for name, fn in lm_loss_fns(model, ids, ctx, train=train).items():
        free_memory()
        try:
            if train:
                timing = time_call(fn, repeats=3, warmup=1)
            else:
                with torch.inference_mode():
                    timing = time_call(fn, repeats=3, warmup=1)
        except torch.cuda.OutOfMemoryError:
            rows.append({"section": section, "variant": name, "note": "out of memory"})
            continue
        model.zero_grad(set_to_none=True)
        tokens = batch * seq
        rate = tokens / timing.median
        base = base or rate
        flops = (6 if train else 2) * n_params * tokens
        mfu = ctx.mfu(flops, timing.median)
        rows.append(
            {
                "section": section,
                "variant": name,
                "seconds": timing.median,
                "throughput": rate,
                "unit": "tok/s",
                "ratio": rate / base,
                "mfu": mfu,
                "peak_gb": peak_gb(),
                "note": f"B={batch}, T={seq}, N={n_params / 1e9:.2f}B",
            }
        )
    del model
    return rows


def opd_section(ctx: Context) -> list[dict[str, Any]]:
    batch, new_tokens = ctx.sizes["opd"]
    work = Path(tempfile.mkdtemp(prefix="gpu_check_opd_"))
    try:
        student = bench_distill.TINY_BENCH if ctx.tiny else bench_distill.REAL_2B
        teacher = bench_distill.TINY_BENCH if ctx.tiny else bench_distill.REAL_8B
        recipe, shard_batch = bench_distill.setup_recipe(
            work,
            student=student,
            teacher=teacher,
            device=ctx.device,
            batch_size=batch,
            max_new_tokens=new_tokens,
            grad_checkpointing=not ctx.tiny,
            layers=2,
        )
        result = bench_distill.compare_steps(recipe, shard_batch, repeats=1, seed=1234)
        recipe.cleanup()
        del recipe
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rows = []
    for row in result["rows"]:
        rows.append(
            {
                "section": "opd-step",
                "variant": f"{row['phase']}: cuekit vs naive",
                "seconds": row["cuekit_s"],
                "throughput": row["cuekit_tok_s"],
                "unit": "resp tok/s",
                "ratio": row["ratio"],
                "note": f"naive {row['naive_tok_s']:.1f} tok/s; B={batch}, "
                f"{new_tokens} new; identical rollouts: "
                f"{result['identical_rollouts']}",
            }
        )
    rows[-1]["peak_gb"] = max(result["peak_gb"].values()) if torch.cuda.is_available() else None
    return rows


def gdino_section(ctx: Context) -> list[dict[str, Any]]:
    batch, width, height, count = ctx.sizes["gdino"]
    model_name = "tiny-random" if ctx.tiny else bench_extract.SWIN_T_RANDOM
    register_backend(bench_extract.PRELOADED_BACKEND, "bench_extract:preloaded_backend")
    parts = bench_extract.load_detector(model_name, ctx.device, seed=0)
    bench_extract._LOADED["parts"] = parts
    work = Path(tempfile.mkdtemp(prefix="gpu_check_gdino_"))
    rows = []
    try:
        folder = bench_extract.make_image_folder(work / "source", count, width, height)
        batches = bench_extract.model_only_batches(folder, batch)
        options = DetectorOptions(model=model_name, device=ctx.device, batch_size=batch)
        calls = {
            "model-only (processor + forward)": lambda: bench_extract.run_model_only(
                parts, batches
            ),
            "cuekit run_extract (workers=2)": lambda: bench_extract.run_pipeline(
                folder, work / "out", options, 2
            ),
        }
        base = None
        for name, fn in calls.items():
            free_memory()
            timing = time_call(fn, repeats=2, warmup=1)
            rate = count / timing.median
            base = base or rate
            rows.append(
                {
                    "section": "gdino",
                    "variant": name,
                    "seconds": timing.median,
                    "throughput": rate,
                    "unit": "images/s",
                    "ratio": rate / base,
                    "peak_gb": peak_gb(),
                    "note": f"{model_name}, B={batch}, {width}x{height}, {count} images",
                }
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
        bench_extract._LOADED.clear()
    return rows


def cue_module_section(ctx: Context) -> list[dict[str, Any]]:
    """Prefill overhead of the cue recovery module, and its calls during decode (must be 0)."""
    import bench_cue_module

    args = argparse.Namespace(
        model="tiny-random" if ctx.tiny else "2b-random",
        device=ctx.device,
        repeats=3 if ctx.tiny else 5,
        new_tokens=8 if ctx.tiny else 32,
    )
    results = bench_cue_module.run(args)
    rows = []
    for key, value in results.items():
        if key.startswith("prefill"):
            rows.append(
                {
                    "section": "cue-module",
                    "variant": key.replace("_", ", "),
                    "seconds": value["with_s"],
                    "ratio": value["ratio"],
                    "note": f"{value['tokens']} prompt tokens; ratio = with / without",
                }
            )
    decode = results["decode"]
    rows.append(
        {
            "section": "cue-module",
            "variant": "decode, per token",
            "seconds": decode["with_s_per_token"],
            "ratio": decode["ratio"],
            "note": f"module calls during decode: {decode['module_calls_in_decode']}",
        }
    )
    return rows


SECTIONS: dict[str, Callable[[Context], list[dict[str, Any]]]] = {
    "rollout-2b": rollout_section,
    "student-2b": lambda ctx: scoring_section(ctx, size="2b", train=True),
    "teacher-8b": lambda ctx: scoring_section(ctx, size="8b", train=False),
    "opd-step": opd_section,
    "gdino": gdino_section,
    "cue-module": cue_module_section,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="tiny models on CPU (self-test)")
    parser.add_argument("--sections", nargs="+", default=list(SECTIONS), choices=list(SECTIONS))
    parser.add_argument(
        "--budget-s",
        type=float,
        default=450.0,
        help="Skip a section when less than its estimate remains.",
    )
    parser.add_argument("--peak-tflops", type=float, help="bf16 peak for MFU (else by card)")
    parser.add_argument("--out", help="Write the results as JSON here.")
    parser.add_argument(
        "--with-hf-static",
        action="store_true",
        help="rollout-2b: also time HF generate with a static cache "
        "(one more compile, about a minute)",
    )
    args = parser.parse_args()
    if not args.tiny and not torch.cuda.is_available():
        parser.error("no CUDA device: run on a GPU machine, or pass --tiny for the CPU self-test")
    if args.tiny:
        set_threads(1)

    start = time.perf_counter()
    info = machine_info()
    print(header_line(info), flush=True)
    ctx = Context(args)
    report = {"benchmark": "gpu_check", "machine": info, "tiny": args.tiny, "peak_tflops": ctx.peak}
    rows: list[dict[str, Any]] = []
    for name in args.sections:
        left = args.budget_s - (time.perf_counter() - start)
        if not args.tiny and left < ESTIMATE_S[name]:
            rows.append({"section": name, "note": f"skipped: {left:.0f}s of budget left"})
            continue
        section_start = time.perf_counter()
        try:
            rows += SECTIONS[name](ctx)
        except Exception as exc:
            traceback.print_exc()
            rows.append(
                {"section": name, "note": f"failed: {type(exc).__name__}: {str(exc)[:160]}"}
            )
        finally:
            free_memory()
            synchronize()
        print(f"[{name}] {time.perf_counter() - section_start:.1f}s", flush=True)
        # Rows so far, after every section: a run stopped from outside keeps them.
        print(
            format_table(
                rows[-8:], ["section", "variant", "seconds", "throughput", "ratio", "mfu", "note"]
            ),
            flush=True,
        )
        write_json(args.out, {**report, "partial": True, "rows": rows})
    total = time.perf_counter() - start
    print(
        format_table(
            rows,
            [
                "section",
                "variant",
                "seconds",
                "throughput",
                "unit",
                "ratio",
                "mfu",
                "peak_gb",
                "note",
            ],
        )
    )
    print(f"total {total:.1f}s; peak bf16 TFLOP/s used for MFU: {ctx.peak}")
    write_json(args.out, {**report, "total_s": total, "rows": rows})


if __name__ == "__main__":
    main()
