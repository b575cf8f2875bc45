"""Rollout throughput: HF ``generate`` against cuekit's rollout engine, same seed and tokens.

One process, one model, the same left-padded prompts (``common.synthetic_prompts``) and
sampling seed for every side; every side must produce the same token ids (checked and
reported), so the ratio compares the same work:

- **HF generate**: ``model.generate`` with its default dynamic cache (the baseline);
- **cuekit eager**: ``StaticDecoder`` (``--rollout-engine cuekit``), which drops stopped
  rows from its cache once at most half are still running;
- **cuekit eager, no compaction**: the same with compaction off, to isolate it;
- **cuekit compiled** (``--compile``): the decode step under ``torch.compile``
  (``reduce-overhead`` on CUDA: CUDA graphs).

Random weights almost never emit the stop token, so every row would run to
``--max-new-tokens``. ``--lengths spread`` gives the rows the varied lengths of real
rollouts: an untimed free run draws the tokens, and row r's stop id is the token it draws
at step about ``(r + 1) / B * max_new_tokens`` (``fixed``: no stop, every row runs to the
end). Throughput counts response tokens up to and including each row's stop.

    python benchmarks/bench_rollout.py                                  # CPU, tiny-bench
    python benchmarks/bench_rollout.py --model mid-random                # CPU, d=512
    python benchmarks/bench_rollout.py --model 2b-random --device cuda --batch-size 128 \\
        --prompt-tokens 512 --max-new-tokens 256 --compile
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_distill import REAL_2B, TINY_BENCH, model_loader  # noqa: E402
from common import (  # noqa: E402
    format_table,
    header_line,
    interleaved,
    machine_info,
    set_threads,
    synthetic_prompts,
    write_json,
)

from cuekit.distill.decoding import DecodeSettings, StaticDecoder  # noqa: E402
from cuekit.distill.prompts import response_mask_until_stop, vision_token_ids  # noqa: E402

MID = "mid-random"  # between tiny and real: d=512, 8 layers, real vocabulary


def build_mid(device: str, dtype: Any, seed: int = 0) -> tuple[Any, Any]:
    """A Qwen3-VL with d=512 (8 heads, 4 KV heads, head_dim 64), 8 layers, MLP 1536 and the
    real 151,936 vocabulary: on a CPU its forward, not Python overhead, sets the pace."""
    from transformers import Qwen3VLForConditionalGeneration

    from cuekit.distill.tiny import build_tiny_processor, tiny_qwen3_vl_config

    processor = build_tiny_processor()
    config = tiny_qwen3_vl_config(processor, 8)
    text = config.text_config
    text.vocab_size, text.hidden_size, text.intermediate_size = 151_936, 512, 1536
    text.num_attention_heads, text.num_key_value_heads, text.head_dim = 8, 4, 64
    text.rope_parameters = {**text.rope_parameters, "mrope_section": [8, 12, 12]}
    config.vision_config.out_hidden_size = 512
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Qwen3VLForConditionalGeneration(config)
    return model.to(device=device, dtype=dtype).eval(), processor


def spread_stops(free: torch.Tensor, max_new_tokens: int) -> tuple[int, ...]:
    """One stop id per row, so that row r stops near step (r + 1) / B of the maximum."""
    rows = free.shape[0]
    steps = [max(1, round(max_new_tokens * (r + 1) / rows)) - 1 for r in range(rows)]
    return tuple(sorted({int(free[r, step]) for r, step in enumerate(steps)}))


def run(args: argparse.Namespace) -> dict[str, Any]:
    dtype = torch.bfloat16 if args.device == "cuda" else torch.float32
    if args.model == MID:
        model, processor = build_mid(args.device, dtype)
    else:
        model, processor = model_loader(args.layers, 151_936)(args.model, dtype=dtype,
                                                              device=args.device)
    inputs = {k: v.to(args.device) for k, v in
              synthetic_prompts(processor, args.batch_size, args.prompt_tokens).items()}
    pad, suppress = processor.tokenizer.pad_token_id, tuple(vision_token_ids(processor))

    def settings(stops: tuple[int, ...]) -> DecodeSettings:
        return DecodeSettings(args.max_new_tokens, stops or (-1,), pad, suppress)

    stops: tuple[int, ...] = ()
    if args.lengths == "spread":
        torch.manual_seed(args.seed)
        free = StaticDecoder(model).generate(inputs, settings(()))
        stops = spread_stops(free, args.max_new_tokens)

    outputs: dict[str, torch.Tensor] = {}

    def seeded(name: str, fn: Any) -> Any:
        def call() -> None:
            torch.manual_seed(args.seed)
            with torch.no_grad():
                outputs[name] = fn()
        return call

    def hf() -> torch.Tensor:
        out = model.generate(**inputs, max_new_tokens=args.max_new_tokens, do_sample=True,
                             temperature=1.0, top_p=1.0, top_k=0,
                             eos_token_id=list(stops) or None, pad_token_id=pad,
                             suppress_tokens=list(suppress))
        return out[:, inputs["input_ids"].shape[1]:]

    eager = StaticDecoder(model)
    no_compaction = StaticDecoder(model, compact_below=0.0)
    calls = {"HF generate (dynamic cache)": seeded("hf", hf),
             "cuekit eager": seeded("eager", lambda: eager.generate(inputs, settings(stops))),
             "cuekit eager, no compaction": seeded(
                 "plain", lambda: no_compaction.generate(inputs, settings(stops)))}
    if args.compile:
        compiled = StaticDecoder(model, compile_step=True)
        calls["cuekit compiled step"] = seeded(
            "compiled", lambda: compiled.generate(inputs, settings(stops)))
    timings = interleaved(calls, repeats=args.repeats, warmup=1)

    reference = outputs["hf"]
    mask = response_mask_until_stop(reference, list(stops)) if stops else \
        torch.ones_like(reference)
    tokens = int(mask.sum())
    identical = all(torch.equal(out, reference) for out in outputs.values())
    base = tokens / timings["HF generate (dynamic cache)"].median
    rows = []
    for name, timing in timings.items():
        rate = tokens / timing.median
        rows.append({"variant": name, "seconds": round(timing.median, 4),
                     "tok_s": round(rate, 1), "ratio": round(rate / base, 3)})
    lengths = mask.sum(1).float()
    return {"machine": machine_info(), "settings": vars(args), "rows": rows,
            "response_tokens": tokens, "identical_tokens": identical,
            "mean_length": float(lengths.mean()), "max_length": float(lengths.max()),
            "prompt_len": int(inputs["input_ids"].shape[1]),
            "timings": {name: t.to_dict() for name, t in timings.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=TINY_BENCH, choices=[TINY_BENCH, MID, REAL_2B])
    parser.add_argument("--layers", type=int, default=4, help="tiny-bench decoder layers")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--prompt-tokens", type=int, default=64)
    parser.add_argument("--max-new-tokens", type=int, default=96)
    parser.add_argument("--lengths", choices=["spread", "fixed"], default="spread")
    parser.add_argument("--compile", action="store_true", help="also time the compiled step")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", help="Write the results as JSON here.")
    args = parser.parse_args()
    set_threads(args.threads)
    result = run(args)
    print(header_line(result["machine"]))
    print(f"{args.model}, B={args.batch_size}, prompt {result['prompt_len']}, up to "
          f"{args.max_new_tokens} new ({args.lengths}: mean {result['mean_length']:.1f}, "
          f"max {result['max_length']:.0f}); {result['response_tokens']} response tokens; "
          f"identical tokens on every side: {result['identical_tokens']}")
    print(format_table(result["rows"], ["variant", "seconds", "tok_s", "ratio"]))
    write_json(args.out, result)


if __name__ == "__main__":
    main()
