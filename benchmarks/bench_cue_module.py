"""Cost of the cue recovery module: prefill overhead, and exactly zero work at decode.

One model, timed with the module attached and detached, interleaved in one process:

- **prefill**: one forward of an image + question prompt (small and large images);
  ratio = with module / without (the paper reports +19-24% with small images and
  +4-7% with large ones);
- **decode**: the time of ``generate`` for ``--new-tokens`` minus a 1-token ``generate``
  (the prefill), per new token; and a count of module calls during decode steps, which
  must be 0 (the sink's K/V were computed at prefill and stay in the cache).

    python benchmarks/bench_cue_module.py                 # CPU: tiny-random, 11 layers
    python benchmarks/bench_cue_module.py --model 2b-random --device cuda   # real 2B shape
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

from cuekit.distill.cue_module import (  # noqa: E402
    CueModuleConfig,
    attach_cue_module,
    detach_cue_module,
)
from cuekit.distill.prompts import build_prompt_batch, vision_token_ids  # noqa: E402

QUESTION = "In triangle ABC, angle B is a right angle. What is the length of AC?"


def _model(name: str, device: str) -> tuple[Any, Any, dict[str, int]]:
    """The model, its processor and the image sides that give 'small' and 'large' prompts."""
    if name == "tiny-random":
        from cuekit.distill.tiny import build_tiny_qwen3_vl

        model, processor = build_tiny_qwen3_vl(seed=0, num_hidden_layers=11)
        # Let larger images through, so "large" really means more visual tokens.
        processor.image_processor.size = {"shortest_edge": 32 * 32, "longest_edge": 512 * 512}
        return model.to(device), processor, {"small": 64, "large": 384}
    processor = common.real_size_processor()
    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    config = common.qwen3_vl_config(name.removesuffix("-random"), processor)
    model = common.build_random_model(config, device=device, dtype=dtype)
    return model, processor, {"small": 448, "large": 1344}


def _inputs(processor: Any, side: int, device: str) -> dict[str, Any]:
    image = Image.new("RGB", (side, side), (200, 200, 200))
    batch = build_prompt_batch(processor, [QUESTION], [[image]])
    return {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


def _count_module_calls(model: Any) -> tuple[list[int], list[Any]]:
    """Count calls of every module block; returns (counter, hook handles)."""
    counter = [0]
    module = model.cue_module

    def bump(*_: Any) -> None:
        counter[0] += 1

    handles = [block.register_forward_hook(bump) for block in module.blocks.values()]
    return counter, handles


def run(args: argparse.Namespace) -> dict[str, Any]:
    model, processor, sides = _model(args.model, args.device)
    generate_kwargs = {
        "do_sample": False,
        "eos_token_id": None,
        "pad_token_id": processor.tokenizer.pad_token_id,
        "suppress_tokens": vision_token_ids(processor),
    }
    rows, results = [], {}
    attach_cue_module(model, CueModuleConfig(interval=5))
    module_layers = len(model.cue_module.layers)
    detach_cue_module(model)

    def timed_pair(fn: Any) -> dict[str, float]:
        """Median seconds of ``fn`` without and with the module, alternating; attaching
        (which builds the module) happens outside the timed region."""
        fn()  # warm-up
        seconds: dict[str, list[float]] = {"without": [], "with": []}
        for _ in range(args.repeats):
            for state in ("without", "with"):
                if state == "with":
                    attach_cue_module(model, CueModuleConfig(interval=5))
                common.synchronize()
                start = time.perf_counter()
                fn()
                common.synchronize()
                seconds[state].append(time.perf_counter() - start)
                if state == "with":
                    detach_cue_module(model)
        return {k: statistics.median(v) for k, v in seconds.items()}

    for label, side in sides.items():
        inputs = _inputs(processor, side, args.device)
        tokens = int(inputs["input_ids"].shape[1])

        @torch.inference_mode()
        def prefill(inputs: dict[str, Any] = inputs) -> None:
            model(**inputs, use_cache=False, logits_to_keep=1)

        t = timed_pair(prefill)
        ratio = t["with"] / t["without"]
        results[f"prefill_{label}"] = {
            "tokens": tokens,
            "without_s": t["without"],
            "with_s": t["with"],
            "ratio": ratio,
        }
        rows.append(
            {
                "phase": f"prefill, {label} image",
                "tokens": tokens,
                "without (s)": f"{t['without']:.4f}",
                "with (s)": f"{t['with']:.4f}",
                "ratio": f"{ratio:.3f}",
            }
        )

    inputs = _inputs(processor, sides["small"], args.device)

    @torch.inference_mode()
    def generate(new: int) -> None:
        model.generate(**inputs, max_new_tokens=new, min_new_tokens=new, **generate_kwargs)

    # Decode cost per token = (generate N+1 tokens - generate 1 token) / N.
    long_run = timed_pair(lambda: generate(args.new_tokens + 1))
    short_run = timed_pair(lambda: generate(1))
    med = {k: (long_run[k] - short_run[k]) / args.new_tokens for k in long_run}
    attach_cue_module(model, CueModuleConfig(interval=5))
    counter, handles = _count_module_calls(model)
    with torch.inference_mode():
        model.generate(
            **inputs,
            max_new_tokens=args.new_tokens,
            min_new_tokens=args.new_tokens,
            **generate_kwargs,
        )
    for handle in handles:
        handle.remove()
    calls = counter[0]
    detach_cue_module(model)
    decode_calls = calls - module_layers  # the prefill calls each block once
    results["decode"] = {
        "without_s_per_token": med["without"],
        "with_s_per_token": med["with"],
        "ratio": med["with"] / med["without"],
        "module_calls_total": calls,
        "module_calls_in_decode": decode_calls,
        "module_layers": module_layers,
    }
    rows.append(
        {
            "phase": f"decode, per token ({args.new_tokens} tokens)",
            "tokens": 1,
            "without (s)": f"{med['without']:.5f}",
            "with (s)": f"{med['with']:.5f}",
            "ratio": f"{med['with'] / med['without']:.3f}",
        }
    )
    print(common.format_table(rows, ["phase", "tokens", "without (s)", "with (s)", "ratio"]))
    print(
        f"module calls: {calls} in one generate of {args.new_tokens} tokens = "
        f"{module_layers} at prefill + {decode_calls} during decode"
    )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model", default="tiny-random", choices=["tiny-random", "2b-random", "8b-random"]
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=None, help="Write the results as JSON here.")
    args, info = common.start_run(parser)
    results = run(args)
    common.write_json(args.out, {"machine": info, "args": vars(args), "results": results})


if __name__ == "__main__":
    main()
