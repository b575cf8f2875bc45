"""GroundingDinoBackend.from_loaded, the warm() hook and the phrase token-count cache."""

from __future__ import annotations

import gc
from types import SimpleNamespace

import numpy as np
import pytest
from factories import make_sample
from PIL import Image

from cuekit.errors import ConfigError
from cuekit.grounding import DetectItem, DetectorOptions
from cuekit.grounding.gdino import GroundingDinoBackend, load_grounding_dino
from cuekit.schemas import ImageRef, Phrase


def _item(sample_id: str, sizes: list[tuple[int, int]], phrases: list[str]) -> DetectItem:
    images = [
        Image.fromarray(
            np.random.RandomState(i + len(sample_id)).randint(0, 255, (h, w, 3), dtype=np.uint8)
        )
        for i, (w, h) in enumerate(sizes)
    ]
    refs = [
        ImageRef(path=f"{sample_id}-{i}.png", sha256="0" * 64, width=w, height=h, format="png")
        for i, (w, h) in enumerate(sizes)
    ]
    sample = make_sample(id=sample_id, question="find " + ", ".join(phrases), images=refs)
    return DetectItem(
        sample=sample, images=images, phrases=[Phrase(text=p, start=0, end=len(p)) for p in phrases]
    )


@pytest.fixture(scope="module")
def items() -> list[DetectItem]:
    return [
        _item("a", [(320, 240)], ["a red triangle", "the chord AB"]),
        _item("bb", [(200, 300), (320, 240)], ["point c", "a red triangle"]),
        _item("ccc", [(96, 64)], ["circle", "angle abc"]),
    ]


def _records(found):
    return [[d.model_dump() for d in dets] for dets in found]


def test_from_loaded_detects_like_a_self_loading_backend(items):
    options = DetectorOptions(model="tiny-random", batch_size=2)
    expected = GroundingDinoBackend(options).detect(items)
    model, image_processor, tokenizer = load_grounding_dino("tiny-random", seed=0)
    backend = GroundingDinoBackend.from_loaded(model, image_processor, tokenizer, options)
    assert backend._model is model  # used as given, not reloaded
    assert _records(backend.detect(items)) == _records(expected)
    assert backend.settings()["model"] == "tiny-random"
    unnamed = GroundingDinoBackend.from_loaded(model, image_processor, tokenizer)
    assert unnamed.settings()["model"] == (model.config.name_or_path or "preloaded")


def test_from_loaded_refuses_a_wrong_device_or_a_slow_tokenizer():
    model, image_processor, tokenizer = load_grounding_dino("tiny-random", seed=0)
    with pytest.raises(ConfigError, match="the model is on cpu, but options.device is 'meta'"):
        GroundingDinoBackend.from_loaded(
            model, image_processor, tokenizer, DetectorOptions(device="meta")
        )
    with pytest.raises(ConfigError, match="must be a fast tokenizer"):
        GroundingDinoBackend.from_loaded(model, image_processor, SimpleNamespace(is_fast=False))
    with pytest.raises(ConfigError, match="unknown device 'gpu0'"):
        GroundingDinoBackend.from_loaded(
            model, image_processor, tokenizer, DetectorOptions(device="gpu0")
        )


def test_warmed_images_give_identical_detections_and_are_used_once(items):
    model, image_processor, tokenizer = load_grounding_dino("tiny-random", seed=0)
    options = DetectorOptions(model="tiny-random", batch_size=2)
    cold = GroundingDinoBackend.from_loaded(model, image_processor, tokenizer, options)
    warm = GroundingDinoBackend.from_loaded(model, image_processor, tokenizer, options)
    for item in items:
        warm.warm(item.images)
    assert len(warm._warmed) == 4
    calls = {"n": 0}

    def counting_processor(**kwargs):
        calls["n"] += 1
        return image_processor(**kwargs)

    warm._image_processor = counting_processor
    assert _records(warm.detect(items)) == _records(cold.detect(items))
    assert calls["n"] == 0 and warm._warmed == {}  # every image came from warm(), once


def test_a_warmed_entry_goes_with_its_image():
    backend = GroundingDinoBackend(DetectorOptions(model="tiny-random"))
    image = Image.new("RGB", (64, 48), "white")
    backend.warm([image])  # before the model loads: nothing to do
    assert backend._warmed == {}
    backend._ensure_loaded()
    backend.warm([image])
    assert list(backend._warmed) == [id(image)]
    del image
    gc.collect()
    assert backend._warmed == {}


def test_token_counts_are_cached_and_match_the_tokenizer(items):
    backend = GroundingDinoBackend(DetectorOptions(model="tiny-random"))
    backend.detect(items)
    tokenizer = backend._tokenizer
    phrases = ["a red triangle", "the chord ab", "point c", "circle", "angle abc"]
    assert backend._token_counts == {
        p: len(tokenizer(p, add_special_tokens=False)["input_ids"]) for p in phrases
    }
    backend._tokenizer = None  # a second pass over known phrases needs no counting call
    assert backend._phrase_token_counts(["circle", "point c"]) == [
        backend._token_counts["circle"],
        backend._token_counts["point c"],
    ]
