"""Shared helpers of the benchmarks: machine header, timing, tables and JSON output.

Every benchmark runs its baseline and cuekit side by side in one process and reports
ratios; this module only measures and records, it never decides what is compared.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cuekit.distill.memory_plan import QWEN3_VL_2B, QWEN3_VL_8B, ModelShape
from cuekit.versions import library_versions


def cpu_model() -> str:
    """The CPU model name as lscpu (or /proc/cpuinfo) reports it."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info() -> dict[str, Any]:
    """Where and with what a benchmark ran: CPU, cores, card, library versions, date."""
    import torch

    info: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "host_cpu": cpu_model(),
        "cpu_cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "versions": library_versions(),
        "cuda": torch.version.cuda,
        "gpu": None,
    }
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        info["gpu"] = {
            "name": props.name,
            "memory_gb": round(props.total_memory / 2**30, 1),
            "count": torch.cuda.device_count(),
        }
    return info


def header_line(info: dict[str, Any]) -> str:
    versions = info["versions"]
    card = info["gpu"]["name"] if info["gpu"] else "no GPU"
    return (
        f"# {info['date']} | {info['host_cpu']} ({info['cpu_cores']} cores, "
        f"{info['torch_threads']} torch threads) | {card} | torch {versions.get('torch')} | "
        f"transformers {versions.get('transformers')}"
    )


def synchronize() -> None:
    """Wait for queued GPU work, so wall time covers it (no-op without CUDA)."""
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


@dataclass
class Timing:
    """Wall seconds of each repeat; the median is what tables report."""

    seconds: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    def to_dict(self) -> dict[str, Any]:
        return {"median_s": self.median, "runs_s": [round(s, 5) for s in self.seconds]}


def time_call(fn: Callable[[], Any], *, repeats: int = 3, warmup: int = 1) -> Timing:
    """Median-ready wall times of ``fn()``, GPU-synchronised before and after each call."""
    if repeats < 1 or warmup < 0:
        raise ValueError(f"need repeats >= 1 and warmup >= 0, got {repeats}, {warmup}")
    for _ in range(warmup):
        fn()
    timing = Timing()
    for _ in range(repeats):
        synchronize()
        start = time.perf_counter()
        fn()
        synchronize()
        timing.seconds.append(time.perf_counter() - start)
    return timing


def interleaved(
    calls: dict[str, Callable[[], Any]],
    *,
    repeats: int = 3,
    warmup: int = 1,
    after: Callable[[], Any] | None = None,
) -> dict[str, Timing]:
    """Time several calls round-robin (A B A B ...), so machine noise hits them alike.

    ``after`` (untimed) runs after every call, e.g. to delete what the call wrote.
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(f"need repeats >= 1 and warmup >= 0, got {repeats}, {warmup}")
    for _ in range(warmup):
        for fn in calls.values():
            fn()
            if after is not None:
                after()
    timings = {name: Timing() for name in calls}
    for _ in range(repeats):
        for name, fn in calls.items():
            synchronize()
            start = time.perf_counter()
            fn()
            synchronize()
            timings[name].seconds.append(time.perf_counter() - start)
            if after is not None:
                after()
    return timings


def format_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """A plain fixed-width table; floats get 3 significant decimals."""

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.3g}" if abs(value) < 100 else f"{value:,.0f}"
        return "" if value is None else str(value)

    cells = [[cell(row.get(c)) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(lines)


def write_json(path: str | Path | None, payload: dict[str, Any]) -> None:
    """Write ``payload`` (with non-JSON values stringified) when a path is given."""
    if path is None:
        return
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")


# -- real-size architectures with random weights (no download) -----------------------

# Dense bf16 tensor-core peak, for MFU. Match on the card name; --peak-tflops overrides.
PEAK_BF16_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "A10G": 125.0}


def peak_tflops(override: float | None = None) -> float | None:
    """The card's dense bf16 peak in TFLOP/s, or None when unknown (MFU is then omitted)."""
    import torch

    if override:
        return override
    if not torch.cuda.is_available():
        return None
    name = torch.cuda.get_device_name(0)
    return next((v for k, v in PEAK_BF16_TFLOPS.items() if k in name), None)


def build_swin_t_grounding_dino(seed: int = 0) -> tuple[Any, Any, Any]:
    """Grounding DINO at its real size (transformers' GroundingDinoConfig defaults: Swin-T
    backbone, BERT-base text encoder, 900 queries; ~172M params) with random weights,
    the PIL image processor at 800x1333, and the offline word-piece tokenizer."""
    import torch
    from transformers import BertTokenizer, GroundingDinoConfig, GroundingDinoForObjectDetection
    from transformers.models.grounding_dino.image_processing_pil_grounding_dino import (
        GroundingDinoImageProcessorPil,
    )

    from cuekit.grounding.tiny import tiny_vocab

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = GroundingDinoForObjectDetection(GroundingDinoConfig())
    tokenizer = BertTokenizer(vocab=tiny_vocab(), do_lower_case=True)
    return model.eval(), GroundingDinoImageProcessorPil(), tokenizer


# docs/method.md §4. Text: hidden, intermediate, layers, heads, kv heads, tied embeddings.
# Vision: depth, hidden, intermediate, out hidden, DeepStack layers.
# The real architectures' sizes are cuekit's memory plan shapes (docs/method.md §4), plus
# the decoder layers DeepStack feeds, which the plan needs only the count of.
QWEN3_VL_SIZES: dict[str, tuple[ModelShape, list[int]]] = {
    "2b": (QWEN3_VL_2B, [5, 11, 17]),
    "8b": (QWEN3_VL_8B, [8, 16, 24]),
}


def real_size_processor() -> Any:
    """The offline tiny tokenizer (its ids are valid in the real vocabulary) with
    Qwen3-VL's real image geometry: patch 16, merge 2 (one token per 32x32 pixels)."""
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import (
        Qwen2VLImageProcessorPil,
    )

    from cuekit.distill.processor import ImageOnlyProcessor
    from cuekit.distill.tiny import CHAT_TEMPLATE, build_tiny_tokenizer

    image_processor = Qwen2VLImageProcessorPil(
        patch_size=16,
        temporal_patch_size=2,
        merge_size=2,
        size={"shortest_edge": 64 * 32 * 32, "longest_edge": 1024 * 32 * 32},
    )
    return ImageOnlyProcessor(build_tiny_tokenizer(), image_processor, CHAT_TEMPLATE)


def qwen3_vl_config(size: str, processor: Any) -> Any:
    """A Qwen3-VL config of the real 2B or 8B architecture (docs/method.md §4)."""
    from cuekit.distill.tiny import qwen3_vl_config_for

    if size not in QWEN3_VL_SIZES:
        raise ValueError(f"size must be one of {sorted(QWEN3_VL_SIZES)}, got {size!r}")
    shape, deepstack = QWEN3_VL_SIZES[size]
    text_config = {
        "vocab_size": shape.vocab,
        "hidden_size": shape.hidden,
        "intermediate_size": shape.intermediate,
        "num_hidden_layers": shape.layers,
        "num_attention_heads": shape.heads,
        "num_key_value_heads": shape.kv_heads,
        "head_dim": shape.head_dim,
        "max_position_embeddings": 262144,
        "rope_parameters": {
            "rope_type": "default",
            "rope_theta": 5_000_000.0,
            "mrope_section": [24, 20, 20],
            "mrope_interleaved": True,
        },
        "tie_word_embeddings": shape.tied_embeddings,
    }
    vision_config = {
        "depth": shape.vision_depth,
        "hidden_size": shape.vision_hidden,
        "intermediate_size": shape.vision_intermediate,
        "num_heads": 16,
        "patch_size": 16,
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
        "out_hidden_size": shape.hidden,  # the merger projects into the text width
        "num_position_embeddings": 2304,
        "deepstack_visual_indexes": deepstack,
    }
    return qwen3_vl_config_for(processor, text_config, vision_config, tied=shape.tied_embeddings)


def build_random_model(config: Any, *, device: str, dtype: Any, seed: int = 0) -> Any:
    """Instantiate ``Qwen3VLForConditionalGeneration(config)`` directly on ``device`` in
    ``dtype`` (initialising 2B/8B on the GPU takes seconds, on the CPU minutes)."""
    import torch
    from transformers import Qwen3VLForConditionalGeneration

    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.random.fork_rng(devices=[]), torch.device(device):
            torch.manual_seed(seed)
            model = Qwen3VLForConditionalGeneration(config)
    finally:
        torch.set_default_dtype(previous)
    return model.eval()


def language_model_params(model: Any) -> int:
    """N of the 6*N*tokens FLOP count: the text model plus the lm_head (a tied embedding
    counted once, as the lm_head matmul); the vision tower is left out."""
    text = model.model.language_model
    total = sum(p.numel() for p in text.parameters())
    head = model.get_output_embeddings().weight
    if head.data_ptr() != text.embed_tokens.weight.data_ptr():
        total += head.numel()
    return total


def set_threads(threads: int) -> None:
    """Fix torch's CPU threads; with other jobs on a 2-core machine, fewer threads spin less."""
    import torch

    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    torch.set_num_threads(threads)


def synthetic_prompts(
    processor: Any, batch: int, prompt_tokens: int, *, distinct: bool = False
) -> dict[str, Any]:
    """Left-padded prompts of about ``prompt_tokens``: half image tokens, half text.
    ``distinct``: each row's text starts with its own number (the same length)."""
    from PIL import Image

    from cuekit.distill.prompts import build_prompt_batch

    side = 16 * 32 if prompt_tokens >= 512 else 64  # 512 px: 16x16 = 256 tokens
    image = Image.new("RGB", (side, side), (120, 160, 200))
    words = " ".join(["the triangle shown has side AB and angle ABC"] * (prompt_tokens // 20))
    texts = [f"{row:04d} {words}" if distinct else words for row in range(batch)]
    return build_prompt_batch(processor, texts, [[image]] * batch)


def add_run_options(parser: Any, *, repeats: int = 3, seed: int = 1234) -> None:
    """The options every side-by-side benchmark takes: repeats, seed, threads, JSON out."""
    parser.add_argument(
        "--repeats",
        type=int,
        default=repeats,
        help="Timed runs per side (interleaved); medians are reported.",
    )
    parser.add_argument("--seed", type=int, default=seed)
    parser.add_argument(
        "--threads", type=int, default=1, help="torch CPU threads (1: steadier on a shared machine)"
    )
    parser.add_argument("--out", help="Write the results as JSON here.")


def start_run(parser: Any) -> tuple[Any, dict[str, Any]]:
    """Parse a side-by-side benchmark's options (:func:`add_run_options` among them), fix
    torch's threads and print the machine line; returns (args, machine info)."""
    args = parser.parse_args()
    set_threads(args.threads)
    info = machine_info()
    print(header_line(info))
    return args, info
