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

``--slots S`` compares the recipe's ``--rollout-batch-size`` setting instead: the B
prompts go S rows at a time through HF ``generate`` and through cuekit's engine, against
``cuekit-continuous`` with S slots refilled as rows stop. Which draws a row gets depends
on the schedule, so this mode decodes greedily, with distinct prompts and an untied random
lm head (a tied random head repeats one token forever), so every side produces the same
tokens. It also reports decode steps: on a GPU a step costs about the same whatever the
number of rows (it reads all the weights), so tokens per step is the scheduling gain.

Random weights almost never emit the stop token, so every row would run to
``--max-new-tokens``. ``--lengths spread`` gives the rows the varied lengths of real
rollouts: an untimed free run draws the tokens, and each row's stop id is the token it
draws at its target step; targets are spread evenly up to the maximum and dealt to the
rows in a seeded random order (``fixed``: no stop, every row runs to the end).
Throughput counts response tokens up to and including each row's stop.

    python benchmarks/bench_rollout.py                                  # CPU, tiny-bench
    python benchmarks/bench_rollout.py --model mid-random                # CPU, d=512
    python benchmarks/bench_rollout.py --model mid-random --batch-size 32 --slots 8
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
    add_run_options,
    format_table,
    header_line,
    interleaved,
    machine_info,
    set_threads,
    synthetic_prompts,
    write_json,
)

from cuekit.distill.prompts import response_mask_until_stop, vision_token_ids  # noqa: E402
from cuekit.distill.rollout.decoding import DecodeSettings, StaticDecoder  # noqa: E402

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


def spread_stops(free: torch.Tensor, max_new_tokens: int, seed: int) -> tuple[int, ...]:
    """Stop ids that end the rows near target lengths spread evenly up to the maximum,
    dealt to the rows in a seeded random order (so a chunk of rows mixes short and long).

    Row r's stop is the first token at or after its target that no row draws earlier
    (a token drawn earlier anywhere would end that row early); none found: it runs on.
    """
    rows, width = free.shape
    targets = [max(1, round(max_new_tokens * (r + 1) / rows)) for r in range(rows)]
    order = torch.randperm(rows, generator=torch.Generator().manual_seed(seed)).tolist()
    earliest: dict[int, int] = {}
    for row in free.tolist():
        for step, token in enumerate(row):
            earliest[token] = min(earliest.get(token, width), step)
    stops = set()
    for r in range(rows):
        for step in range(targets[order[r]] - 1, width):
            token = int(free[r, step])
            if earliest[token] == step:
                stops.add(token)
                break
    return tuple(sorted(stops))


def untie_head(model: Any, seed: int) -> None:
    """Give the model its own random lm head. With random weights and a tied head,
    greedy decoding repeats one token forever, so rows could not stop at chosen steps."""
    head = model.get_output_embeddings()
    generator = torch.Generator(device=head.weight.device).manual_seed(seed)
    weight = torch.randn(
        head.weight.shape, generator=generator, device=head.weight.device, dtype=head.weight.dtype
    )
    head.weight = torch.nn.Parameter(weight)
    model.config.tie_word_embeddings = False


def select_rows(inputs: dict[str, torch.Tensor], indices: list[int]) -> dict[str, Any]:
    """The prompt batch of some rows (``pixel_values`` holds each row's patches in order)."""
    patches = inputs["image_grid_thw"].prod(-1)  # one image per row
    starts = torch.cat([patches.new_zeros(1), patches.cumsum(0)])
    picked = {k: v[indices] for k, v in inputs.items() if k != "pixel_values"}
    picked["pixel_values"] = torch.cat(
        [inputs["pixel_values"][starts[i] : starts[i + 1]] for i in indices]
    )
    return picked


def slot_calls(
    args: argparse.Namespace,
    model: Any,
    inputs: dict[str, Any],
    settings: DecodeSettings,
    seeded: Any,
    steps: dict[str, int],
) -> dict[str, Any]:
    """The recipe's setting: B prompts, ``--slots`` rows at a time. ``steps`` receives
    the continuous decoder's step count (chunked sides' counts follow from lengths)."""
    from cuekit.distill.rollout.continuous import ContinuousDecoder

    chunks = [
        list(range(i, min(i + args.slots, args.batch_size)))
        for i in range(0, args.batch_size, args.slots)
    ]
    eager = StaticDecoder(model)

    def pad_rows(rows: list[torch.Tensor]) -> torch.Tensor:
        width = max(r.shape[-1] for r in rows)
        return torch.cat(
            [
                torch.nn.functional.pad(r, (0, width - r.shape[-1]), value=settings.pad_token_id)
                for r in rows
            ]
        )

    # Each chunk is seeded: cuekit may draw a few tokens past a chunk's last stop (it
    # checks every 8 steps), which would shift every later chunk's draws.
    def hf() -> torch.Tensor:
        outs = []
        for index, chunk in enumerate(chunks):
            torch.manual_seed(args.seed + index)
            part = select_rows(inputs, chunk)
            out = model.generate(
                **part,
                max_new_tokens=settings.max_new_tokens,
                do_sample=False,
                eos_token_id=list(settings.stop_token_ids),
                pad_token_id=settings.pad_token_id,
                suppress_tokens=list(settings.suppress_token_ids),
            )
            outs.append(out[:, part["input_ids"].shape[1] :])
        return pad_rows(outs)

    def chunked() -> torch.Tensor:
        outs = []
        for index, chunk in enumerate(chunks):
            torch.manual_seed(args.seed + index)
            outs.append(eager.generate(select_rows(inputs, chunk), settings))
        return pad_rows(outs)

    decoder = ContinuousDecoder(model, slots=args.slots)

    def continuous() -> torch.Tensor:
        rows = decoder.generate(args.batch_size, lambda idx: select_rows(inputs, idx), settings)
        steps["continuous"] = decoder.steps
        return pad_rows([torch.tensor([r]) for r in rows])

    return {
        f"HF generate, {args.slots} rows at a time": seeded("hf", hf),
        f"cuekit eager, {args.slots} rows at a time": seeded("eager", chunked),
        f"cuekit continuous, {args.slots} slots": seeded("continuous", continuous),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    dtype = torch.bfloat16 if args.device == "cuda" else torch.float32
    if args.model == MID:
        model, processor = build_mid(args.device, dtype)
    else:
        model, processor = model_loader(args.layers, 151_936)(
            args.model, dtype=dtype, device=args.device
        )
    if args.slots:  # greedy needs varied tokens: a random head not tied to the embeddings
        untie_head(model, args.seed)
    inputs = {
        k: v.to(args.device)
        for k, v in synthetic_prompts(
            processor, args.batch_size, args.prompt_tokens, distinct=bool(args.slots)
        ).items()
    }
    pad, suppress = processor.tokenizer.pad_token_id, tuple(vision_token_ids(processor))

    def settings(stops: tuple[int, ...]) -> DecodeSettings:
        return DecodeSettings(
            args.max_new_tokens, stops or (-1,), pad, suppress, greedy=bool(args.slots)
        )

    stops: tuple[int, ...] = ()
    if args.lengths != "fixed":
        torch.manual_seed(args.seed)
        free = StaticDecoder(model).generate(inputs, settings(()))
        stops = spread_stops(free, args.max_new_tokens, args.seed)

    outputs: dict[str, torch.Tensor] = {}

    def seeded(name: str, fn: Any) -> Any:
        def call() -> None:
            torch.manual_seed(args.seed)
            with torch.no_grad():
                outputs[name] = fn()

        return call

    def hf() -> torch.Tensor:
        out = model.generate(
            **inputs,
            max_new_tokens=args.max_new_tokens,
            do_sample=True,
            temperature=1.0,
            top_p=1.0,
            top_k=0,
            eos_token_id=list(stops) or None,
            pad_token_id=pad,
            suppress_tokens=list(suppress),
        )
        return out[:, inputs["input_ids"].shape[1] :]

    if args.slots:
        steps: dict[str, int] = {}
        calls = slot_calls(args, model, inputs, settings(stops), seeded, steps)
        return summarize(args, calls, outputs, stops, inputs, steps)
    eager = StaticDecoder(model)
    no_compaction = StaticDecoder(model, compact_below=0.0)
    calls = {
        "HF generate (dynamic cache)": seeded("hf", hf),
        "cuekit eager": seeded("eager", lambda: eager.generate(inputs, settings(stops))),
        "cuekit eager, no compaction": seeded(
            "plain", lambda: no_compaction.generate(inputs, settings(stops))
        ),
    }
    if args.compile:
        compiled = StaticDecoder(model, compile_step=True)
        calls["cuekit compiled step"] = seeded(
            "compiled", lambda: compiled.generate(inputs, settings(stops))
        )
    return summarize(args, calls, outputs, stops, inputs)


def summarize(
    args: argparse.Namespace,
    calls: dict[str, Any],
    outputs: dict[str, torch.Tensor],
    stops: tuple[int, ...],
    inputs: dict[str, Any],
    steps: dict[str, int] | None = None,
) -> dict[str, Any]:
    """Time the sides interleaved; each side's rate counts its own response tokens.

    Decode steps are what a GPU pays for at these batch sizes (a step reads all the
    weights whatever the number of rows): a batch takes as many steps as its longest
    row; the continuous decoder reports its own count.
    """
    timings = interleaved(calls, repeats=args.repeats, warmup=1)

    def count(out: torch.Tensor) -> torch.Tensor:
        return (response_mask_until_stop(out, list(stops)) if stops else torch.ones_like(out)).sum(
            1
        )

    names = list(calls)
    keys = list(outputs)  # the same order: each call stored its output under its key
    reference = outputs[keys[0]]
    identical = all(torch.equal(outputs[k], reference) for k in keys)
    base = None
    rows = []
    size = args.slots or args.batch_size
    for name, key in zip(names, keys, strict=True):
        lengths = count(outputs[key])
        tokens = int(lengths.sum())
        rate = tokens / timings[name].median
        base = base or rate
        decode_steps = (steps or {}).get(key) or int(
            sum(int(chunk.max()) for chunk in lengths.split(size))
        )
        rows.append(
            {
                "variant": name,
                "tokens": tokens,
                "steps": decode_steps,
                "tokens_per_step": round(tokens / max(decode_steps, 1), 2),
                "seconds": round(timings[name].median, 4),
                "tok_s": round(rate, 1),
                "ratio": round(rate / base, 3),
            }
        )
    lengths = count(reference).float()
    return {
        "machine": machine_info(),
        "settings": vars(args),
        "rows": rows,
        "response_tokens": int(lengths.sum()),
        "identical_tokens": identical,
        "mean_length": float(lengths.mean()),
        "max_length": float(lengths.max()),
        "prompt_len": int(inputs["input_ids"].shape[1]),
        "timings": {name: t.to_dict() for name, t in timings.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=TINY_BENCH, choices=[TINY_BENCH, MID, REAL_2B])
    parser.add_argument("--layers", type=int, default=4, help="tiny-bench decoder layers")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--prompt-tokens", type=int, default=64)
    parser.add_argument("--max-new-tokens", type=int, default=96)
    parser.add_argument(
        "--lengths",
        choices=["spread", "fixed"],
        default="spread",
        help="spread: rows stop at steps spread evenly up to the maximum, "
        "in a seeded random order; fixed: no stops",
    )
    parser.add_argument(
        "--slots",
        type=int,
        default=0,
        help="Decode the batch this many rows at a time (HF generate and "
        "cuekit in chunks, cuekit continuous in slots)",
    )
    parser.add_argument("--compile", action="store_true", help="also time the compiled step")
    add_run_options(parser)
    args = parser.parse_args()
    set_threads(args.threads)
    result = run(args)
    print(header_line(result["machine"]))
    print(
        f"{args.model}, B={args.batch_size}, prompt {result['prompt_len']}, up to "
        f"{args.max_new_tokens} new ({args.lengths}: mean {result['mean_length']:.1f}, "
        f"max {result['max_length']:.0f}); {result['response_tokens']} response tokens; "
        f"identical tokens on every side: {result['identical_tokens']}"
    )
    print(
        format_table(
            result["rows"],
            ["variant", "tokens", "steps", "tokens_per_step", "seconds", "tok_s", "ratio"],
        )
    )
    write_json(args.out, result)


if __name__ == "__main__":
    main()
