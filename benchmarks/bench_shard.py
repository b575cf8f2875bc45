"""Shard throughput: `cuekit shard` against a plain `webdataset.ShardWriter` loop.

Both sides read the same extract folder (cues.parquet + image files) and write the same
members per sample (json, hint.txt, original image bytes) into shards of ``--maxcount``.
`cuekit shard` additionally checks every image against its recorded sha256 (and with
``--image-check decode`` decodes it), plans shards up front, hashes and fsyncs each tar,
writes it through a temp name and writes the manifest files; the baseline does none of
that. Throughput is output MB / wall seconds; the ratio is cuekit's over the baseline's
(target >= 0.9).

The reference baseline passes ``mtime=0`` to ShardWriter: reproducible tars, as the
docs/method.md §3 advises, and then it writes the same tar layout as cuekit (same headers and
sizes). Left at its default, ShardWriter stamps each member with a float ``time.time()``,
which tarfile stores as one extra 1 KiB PAX record per member (~3 KB per sample here);
that variant is timed too, as ``ShardWriter (default mtime)``, since the first recorded
ratios used it. All sides run interleaved (A B C A B C ...); medians are reported.

    python benchmarks/bench_shard.py --samples 400 --num-workers 1 2 --image-check sha256 decode

Pass --num-workers values up to the machine's core count: on a shared or 2-core machine
extra processes only add start-up cost.
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl
import webdataset as wds
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    add_run_options,
    format_table,
    interleaved,
    start_run,
    write_json,
)

from cuekit.pipelines.extract import layout  # noqa: E402
from cuekit.pipelines.extract.images import store_image_bytes  # noqa: E402
from cuekit.pipelines.shard.run import ShardSettings, shard  # noqa: E402
from cuekit.schemas import (  # noqa: E402
    CueRecord,
    ExtractedSample,
    ExtractorSettings,
    Sample,
)

REFERENCE = "ShardWriter (mtime=0)"


def _photo(rng: np.random.Generator, width: int, height: int, i: int) -> Image.Image:
    """Smooth colour fields plus sensor-like noise (JPEG's usual content)."""
    yy, xx = np.mgrid[0:height, 0:width]
    base = (np.sin(xx / (7 + i % 13)) + np.cos(yy / (5 + i % 11))) * 60 + 128
    pixels = np.stack([base, base[::-1], base[:, ::-1]], axis=-1)
    return Image.fromarray(
        np.clip(pixels + rng.normal(0, 8, pixels.shape), 0, 255).astype(np.uint8)
    )


def _diagram(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    """Lines, circles and labels on white (geometry figures are mostly PNGs like this)."""
    from PIL import ImageDraw

    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x1, x2 = sorted(rng.integers(0, width, 2).tolist())
        y1, y2 = sorted(rng.integers(0, height, 2).tolist())
        draw.line((x1, y1, x2, y2), fill="black", width=2)
        draw.ellipse((x1, y1, x1 + (x2 - x1) // 3, y1 + (y2 - y1) // 3), outline="blue")
        draw.text((x2, y1), chr(65 + int(rng.integers(0, 26))), fill="black")
    return image


def synthetic_extract_dir(
    root: Path, samples: int, width: int, height: int, *, seed: int = 0
) -> Path:
    """``samples`` records: JPEG photos and PNG diagrams, alternating."""
    rng = np.random.default_rng(seed)
    records = []
    for i in range(samples):
        fmt = "jpeg" if i % 2 else "png"
        image = _photo(rng, width, height, i) if i % 2 else _diagram(rng, width, height)
        buffer = io.BytesIO()
        image.save(buffer, format=fmt.upper(), **({"quality": 92} if i % 2 else {}))
        ref = store_image_bytes(root, buffer.getvalue(), sample_id=f"bench{i:06d}")
        sample = Sample(
            id=f"bench{i:06d}",
            original_id=str(i),
            source="bench",
            split="train",
            question=f"What is the value of angle {i}?",
            answer=str(i % 90),
            images=[ref],
        )
        cue = CueRecord(
            sample_id=sample.id,
            phrases=[],
            detections=[],
            cue_text=f"[Hint]: angle {i} is marked.",
            cue_style="hint",
            leak=False,
            settings=ExtractorSettings(backends=["bench"]),
        )
        records.append(ExtractedSample(sample=sample, cue=cue))
    return layout.write_extract_dir(root, records)


def plain_shardwriter(
    extract_dir: Path, out_dir: Path, maxcount: int, mtime: float | None = 0
) -> int:
    """The baseline: read rows and image files, write them with webdataset.ShardWriter."""
    out_dir.mkdir(parents=True)  # cuekit's shard() creates its folder inside its timing too
    frame = pl.read_parquet(extract_dir / layout.CUES_FILE)
    with wds.ShardWriter(
        str(out_dir / "shard-%06d.tar"), maxcount=maxcount, verbose=0, mtime=mtime
    ) as sink:
        for row in frame.iter_rows(named=True):
            sample = json.loads(row["sample"])
            entry = {
                "__key__": row["id"],
                "hint.txt": row["cue_text"].encode(),
                "json": json.dumps({"sample": sample, "cue": json.loads(row["cue"])}).encode(),
            }
            for i, ref in enumerate(sample["images"]):
                ext = "jpg" if ref["format"] == "jpeg" else ref["format"]
                entry[f"img{i}.{ext}"] = (extract_dir / ref["path"]).read_bytes()
            sink.write(entry)
    return sum(p.stat().st_size for p in out_dir.glob("*.tar"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=400)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--maxcount", type=int, default=100)
    parser.add_argument("--num-workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--image-check",
        nargs="+",
        default=["sha256", "none", "decode"],
        choices=["decode", "sha256", "none"],
    )
    add_run_options(parser, repeats=7, seed=0)
    args, info = start_run(parser)
    work = Path(tempfile.mkdtemp(prefix="bench_shard_"))
    try:
        extract_dir = synthetic_extract_dir(
            work / "extract", args.samples, args.width, args.height, seed=args.seed
        )
        input_mb = (
            sum(p.stat().st_size for p in (extract_dir / "images").rglob("*") if p.is_file()) / 1e6
        )
        print(
            f"input: {args.samples} samples, {input_mb:.1f} MB of images "
            f"({args.width}x{args.height}, PNG diagrams and JPEG photos)"
        )
        sizes: dict[str, int] = {}
        runs = itertools.count()

        def timed_side(name: str, run: Callable[[Path], int]) -> Callable[[], None]:
            def call() -> None:
                sizes[name] = run(work / "runs" / f"run{next(runs)}")

            return call

        def cleanup() -> None:  # untimed, after every call
            shutil.rmtree(work / "runs", ignore_errors=True)

        calls = {
            REFERENCE: timed_side(
                REFERENCE, lambda out: plain_shardwriter(extract_dir, out, args.maxcount)
            ),
            "ShardWriter (default mtime)": timed_side(
                "ShardWriter (default mtime)",
                lambda out: plain_shardwriter(extract_dir, out, args.maxcount, mtime=None),
            ),
        }
        for check in args.image_check:
            for workers in args.num_workers:
                settings = ShardSettings(
                    maxcount=args.maxcount, num_workers=workers, image_check=check
                )
                name = f"cuekit shard (check={check}, workers={workers})"
                calls[name] = timed_side(
                    name, lambda out, s=settings: shard(extract_dir, out, s).bytes
                )
        timings = interleaved(calls, repeats=args.repeats, warmup=1, after=cleanup)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    base_rate = sizes[REFERENCE] / 1e6 / timings[REFERENCE].median
    rows = []
    for name, timing in timings.items():
        rate = sizes[name] / 1e6 / timing.median
        rows.append(
            {
                "side": name,
                "median_s": timing.median,
                "MB": sizes[name] / 1e6,
                "MB_per_s": rate,
                "ratio": rate / base_rate,
                "runs_s": " ".join(f"{t:.3f}" for t in timing.seconds),
            }
        )
    print(format_table(rows, ["side", "median_s", "MB", "MB_per_s", "ratio", "runs_s"]))
    write_json(args.out, {"benchmark": "shard", "machine": info, "args": vars(args), "rows": rows})


if __name__ == "__main__":
    main()
