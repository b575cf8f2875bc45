"""Extract throughput: `run_extract` end to end against the detector's forward pass alone.

Both sides see the same images, prompts, batch size, device and model weights.

- **model-only**: the images are decoded beforehand (not timed); timed is the image
  processor + tokenizer + Grounding DINO forward (bf16 autocast on CUDA) + copying the
  outputs to the host, ``--batch-size`` images at a time. This is the floor any
  pipeline pays.
- **pipeline**: ``run_extract`` from source rows to ``cues.parquet``: reading the jsonl,
  decoding and hashing and storing the images, phrase extraction, the same detector
  (its per-phrase scoring and NMS), cue rendering, leak check, part files and the merge.
  The model is loaded before timing (load time is printed apart), so the ratio is the
  steady-state overhead of the pipeline.

The ratio is pipeline images/s over model-only images/s (issue 5 target: >= 0.85).
Each side runs ``--repeats`` times, interleaved, and the median is reported.

    python benchmarks/bench_extract.py                       # CPU, tiny random GDINO
    python benchmarks/bench_extract.py --device cuda --model swin-t-random \\
        --width 1333 --height 800 --images 64                # real-size Swin-T, random
    python benchmarks/bench_extract.py --device cuda --model /path/to/grounding-dino-tiny
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    add_run_options,
    build_swin_t_grounding_dino,
    format_table,
    interleaved,
    start_run,
    write_json,
)

from cuekit.cues import get_phrase_extractor  # noqa: E402
from cuekit.datasets.sources import SourceSpec  # noqa: E402
from cuekit.grounding.base import DetectorOptions, register_backend  # noqa: E402
from cuekit.grounding.gdino import GroundingDinoBackend, load_grounding_dino  # noqa: E402
from cuekit.grounding.spans import build_prompt, is_groundable, normalize_phrase  # noqa: E402
from cuekit.pipelines.extract.run import ExtractConfig, run_extract  # noqa: E402

PRELOADED_BACKEND = "bench-preloaded-gdino"
SWIN_T_RANDOM = "swin-t-random"
_QUESTIONS = (
    "How many red cars are left of the blue bus in the picture?",
    "What is the length of the chord AB in the circle?",
    "Which bar in the chart has the largest value?",
    "Is the small dog next to the white house?",
    "What is the angle between the two parallel lines and the tangent?",
    "How many people are standing near the green tree?",
)
# The loaded (model, image processor, tokenizer) the registered factory hands out.
_LOADED: dict[str, Any] = {}


def preloaded_backend(options: DetectorOptions) -> GroundingDinoBackend:
    """A GroundingDinoBackend whose model was loaded before timing started."""
    model, image_processor, tokenizer = _LOADED["parts"]
    return GroundingDinoBackend.from_loaded(model, image_processor, tokenizer, options)


def make_image_folder(root: Path, count: int, width: int, height: int) -> Path:
    """``count`` PNG diagrams of one size plus ``questions.jsonl`` (an image-folder source)."""
    rng = np.random.default_rng(0)
    root.mkdir(parents=True)
    rows = []
    for i in range(count):
        image = Image.new("RGB", (width, height), "white")
        draw = ImageDraw.Draw(image)
        for _ in range(16):
            x1, x2 = sorted(rng.integers(0, width, 2).tolist())
            y1, y2 = sorted(rng.integers(0, height, 2).tolist())
            colour = tuple(int(c) for c in rng.integers(0, 255, 3))
            draw.rectangle((x1, y1, x2, y2), outline=colour, width=3)
            draw.text((x1, y1), chr(65 + i % 26), fill="black")
        name = f"img{i:05d}.png"
        image.save(root / name)
        rows.append(
            {
                "id": f"q{i:05d}",
                "image": name,
                "question": _QUESTIONS[i % len(_QUESTIONS)],
                "answer": str(i % 7),
            }
        )
    (root / "questions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def load_detector(model: str, device: str, seed: int) -> tuple[Any, Any, Any]:
    if model == SWIN_T_RANDOM:
        parts = build_swin_t_grounding_dino(seed)
    else:
        parts = load_grounding_dino(model, seed)
    detector, image_processor, tokenizer = parts
    return detector.to(device).eval(), image_processor, tokenizer


def model_only_batches(folder: Path, batch_size: int) -> list[tuple[list[Image.Image], list[str]]]:
    """Decoded images and the prompts the pipeline will build for them (untimed setup)."""
    extract = get_phrase_extractor("rules")
    rows = [json.loads(line) for line in (folder / "questions.jsonl").read_text().splitlines()]
    items = []
    for row in rows:
        phrases = [
            normalize_phrase(p.text) for p in extract(row["question"]) if is_groundable(p.text)
        ]
        image = Image.open(folder / row["image"]).convert("RGB")
        image.load()
        items.append((image, build_prompt(phrases)[0]))
    return [
        ([i for i, _ in items[s : s + batch_size]], [p for _, p in items[s : s + batch_size]])
        for s in range(0, len(items), batch_size)
    ]


def run_model_only(
    parts: tuple[Any, Any, Any], batches: list[tuple[list[Image.Image], list[str]]]
) -> None:
    """Image processor + tokenizer + forward + outputs to host, batch by batch."""
    import torch

    model, image_processor, tokenizer = parts
    device = next(model.parameters()).device
    autocast = (
        torch.autocast("cuda", dtype=torch.bfloat16)
        if device.type == "cuda"
        else contextlib.nullcontext()
    )
    for images, prompts in batches:
        pixels = image_processor(images=images, return_tensors="pt")
        text = tokenizer(
            prompts, padding="longest", return_token_type_ids=True, return_tensors="pt"
        )
        inputs = {k: v.to(device) for k, v in {**text, **pixels}.items()}
        with torch.inference_mode(), autocast:
            outputs = model(**inputs)
        outputs.logits.float().cpu()
        outputs.pred_boxes.float().cpu()


def run_pipeline(folder: Path, outputs: Path, options: DetectorOptions, workers: int) -> None:
    """One extract run into a fresh folder under ``outputs`` (deleting the last run's
    images would be timed otherwise: ~0.15 s of rmdir on this machine's disk)."""
    output = outputs / f"run-{time.perf_counter_ns()}"
    config = ExtractConfig(
        source=SourceSpec(dataset=str(folder)),
        output=output,
        detectors=(PRELOADED_BACKEND,),
        detector=options,
        num_workers=workers,
    )
    result = run_extract(config)
    if result.counts is None or result.counts.ok != result.counts.input:
        raise RuntimeError(f"extract did not finish every sample: {result.counts}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model",
        default="tiny-random",
        help=f"tiny-random, {SWIN_T_RANDOM} (real size, random) or a folder",
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--images", type=int, default=48)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument(
        "--num-workers",
        type=int,
        nargs="+",
        default=[0, 1],
        help="DataLoader decode workers of the pipeline (each a row).",
    )
    add_run_options(parser, repeats=3, seed=0)
    args, info = start_run(parser)
    register_backend(PRELOADED_BACKEND, f"{__name__}:preloaded_backend")
    start = time.perf_counter()
    parts = load_detector(args.model, args.device, args.seed)
    load_s = time.perf_counter() - start
    _LOADED["parts"] = parts
    params = sum(p.numel() for p in parts[0].parameters())
    print(
        f"model {args.model}: {params / 1e6:.1f}M params, loaded in {load_s:.1f}s (untimed); "
        f"{args.images} images {args.width}x{args.height}, batch {args.batch_size}, "
        f"device {args.device}"
    )

    work = Path(tempfile.mkdtemp(prefix="bench_extract_"))
    try:
        folder = make_image_folder(work / "source", args.images, args.width, args.height)
        batches = model_only_batches(folder, args.batch_size)
        options = DetectorOptions(model=args.model, device=args.device, batch_size=args.batch_size)
        calls = {"model-only": lambda: run_model_only(parts, batches)}
        for workers in args.num_workers:
            calls[f"pipeline (workers={workers})"] = lambda w=workers: run_pipeline(
                folder, work / "runs", options, w
            )
        timings = interleaved(calls, repeats=args.repeats, warmup=1)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    base_rate = args.images / timings["model-only"].median
    rows = []
    for name, timing in timings.items():
        rate = args.images / timing.median
        rows.append(
            {
                "side": name,
                "median_s": timing.median,
                "images_per_s": rate,
                "ratio": rate / base_rate,
                "runs_s": " ".join(f"{s:.2f}" for s in timing.seconds),
            }
        )
    print(format_table(rows, ["side", "median_s", "images_per_s", "ratio", "runs_s"]))
    write_json(
        args.out,
        {
            "benchmark": "extract",
            "machine": info,
            "args": vars(args),
            "model_params": params,
            "load_s": load_s,
            "rows": rows,
        },
    )


if __name__ == "__main__":
    main()
