"""Extract's prefetch thread: order, errors, early stop, and the backends' warm() hook."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch
from PIL import Image

from cuekit.datasets.sources import SourceSpec
from cuekit.grounding.base import DetectorOptions, register_backend
from cuekit.grounding.gdino import GroundingDinoBackend
from cuekit.pipelines.extract.run import ExtractConfig, in_background, run_extract


def test_in_background_keeps_order_and_runs_ahead_in_another_thread():
    producer_threads = set()

    def numbers():
        for i in range(50):
            producer_threads.add(threading.current_thread().name)
            yield i

    assert list(in_background(numbers(), depth=3)) == list(range(50))
    assert producer_threads == {"cuekit-prefetch"}


def test_in_background_reraises_the_producers_error_after_its_items():
    def failing():
        yield 1
        yield 2
        raise ValueError("bad row 3")

    seen = []
    with pytest.raises(ValueError, match="bad row 3"):
        for item in in_background(failing(), depth=1):
            seen.append(item)
    assert seen == [1, 2]


def test_closing_early_stops_and_closes_the_producer():
    state = {"produced": 0, "closed": False}

    def endless():
        try:
            while True:
                state["produced"] += 1
                yield state["produced"]
        finally:
            state["closed"] = True

    stream = in_background(endless(), depth=2)
    assert [next(stream) for _ in range(3)] == [1, 2, 3]
    stream.close()  # joins the thread
    produced = state["produced"]
    time.sleep(0.05)
    assert state["closed"] and state["produced"] == produced <= 3 + 2 + 1


class _NoWarmBackend(GroundingDinoBackend):
    warm = None  # the pipeline then skips the hook: preprocessing happens in detect()


def _no_warm(options: DetectorOptions) -> GroundingDinoBackend:
    return _NoWarmBackend(options)


def _image_folder(root: Path, count: int) -> Path:
    root.mkdir()
    rng = np.random.default_rng(0)
    rows = []
    for i in range(count):
        size = (96, 64) if i % 3 else (80, 80)
        pixels = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
        Image.fromarray(pixels).save(root / f"im{i}.png")
        question = [
            "How many red cars are near the blue bus?",
            "What is the length of the chord AB in the circle?",
        ][i % 2]
        rows.append({"id": f"q{i}", "image": f"im{i}.png", "question": question, "answer": "3"})
    (root / "questions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def test_extract_with_warmed_images_equals_extract_without(tmp_path):
    register_backend("test-gdino-no-warm", f"{__name__}:_no_warm")
    folder = _image_folder(tmp_path / "src", 9)
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        frames = {}
        for name, detector, workers in (
            ("warm", "grounding-dino", 0),
            ("cold", "test-gdino-no-warm", 0),
            ("workers", "grounding-dino", 1),
        ):
            config = ExtractConfig(
                source=SourceSpec(dataset=str(folder)),
                output=tmp_path / name,
                detectors=(detector,),
                num_workers=workers,
                detector=DetectorOptions(model="tiny-random", batch_size=2),
            )
            result = run_extract(config)
            assert result.counts["ok"] == 9
            frames[name] = pl.read_parquet(tmp_path / name / "cues.parquet")
    finally:
        torch.set_num_threads(previous)
    assert frames["warm"]["n_detections"].sum() > 0

    # provenance names the backend, so compare everything but the settings blob
    def cues_without_settings(name: str) -> list[dict]:
        cues = [json.loads(c) for c in frames[name]["cue"]]
        return [{k: v for k, v in c.items() if k != "settings"} for c in cues]

    for other in ("cold", "workers"):
        assert frames[other].drop("cue").equals(frames["warm"].drop("cue"))
        assert cues_without_settings(other) == cues_without_settings("warm")
