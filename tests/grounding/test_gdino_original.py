"""The opt-in original-package backend: output conversion and setup errors.

The ``groundingdino`` package itself is not installed here (it needs its own
environment); these tests cover everything that does not need it.
"""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import pytest
import torch
from factories import make_sample
from PIL import Image

from cuekit.errors import ConfigError, ModelLoadError
from cuekit.grounding import DetectItem, DetectorOptions, create_backend
from cuekit.grounding.gdino_original import (
    BACKEND_NAME,
    OriginalGroundingDinoBackend,
    resolve_model_files,
)
from cuekit.grounding.spans import build_prompt, phrase_detections, phrase_token_spans
from cuekit.grounding.tiny import build_tiny_gdino_processor
from cuekit.schemas import ImageRef, Phrase

PACKAGE_MISSING = importlib.util.find_spec("groundingdino") is None


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def _convert(boxes, logits, spans, phrases, size=(10, 10), image_index=0):
    """The original model's outputs -> detections, as the backend converts them."""
    return phrase_detections(
        boxes,
        logits,
        spans,
        phrases,
        size,
        image_index=image_index,
        box_threshold=0.3,
        text_threshold=0.25,
        backend=BACKEND_NAME,
    )


def test_original_outputs_to_detections_field_by_field():
    tokenizer = build_tiny_gdino_processor().tokenizer
    phrases = ["the chord AB", "Point C"]
    prompt, char_spans = build_prompt(phrases)
    spans = phrase_token_spans(
        tokenizer(prompt, return_offsets_mapping=True)["offset_mapping"], char_spans
    )
    assert spans == [[1, 2, 3, 4], [6, 7]]
    # The original model: raw logits (N, 256), -inf past the caption; boxes (N, 4) cxcywh.
    logits = torch.full((3, 256), float("-inf"))
    logits[:, :9] = -6.0
    logits[0, 2] = _logit(0.8)  # "chord" -> phrase 0 only
    logits[1, 6] = _logit(0.45)  # "point" -> phrase 1; "chord" just under text threshold
    logits[1, 2] = _logit(0.2)
    logits[2, 7] = _logit(0.29)  # best phrase under box threshold -> no box
    boxes = torch.tensor([[0.25, 0.5, 0.5, 0.2], [0.5, 0.5, 1.0, 1.0], [0.5, 0.5, 0.1, 0.1]])

    found = _convert(boxes, logits, spans, phrases, (640, 480), 2)

    assert [(d.label, d.phrase_index, d.image_index, d.box_1000, d.backend) for d in found] == [
        ("the chord AB", 0, 2, (0, 400, 500, 600), "groundingdino-original"),
        ("Point C", 1, 2, (0, 0, 1000, 1000), "groundingdino-original"),
    ]
    assert found[0].xyxy == pytest.approx((0.0, 192.0, 320.0, 288.0))
    assert found[1].xyxy == pytest.approx((0.0, 0.0, 640.0, 480.0))
    assert [d.score for d in found] == pytest.approx([0.8, 0.45], rel=1e-6)
    # numpy input gives the same records as torch input.
    assert _convert(boxes.numpy(), logits.numpy(), spans, phrases, (640, 480), 2) == found


def test_resolve_model_files(tmp_path):
    folder = tmp_path / "gdino"
    folder.mkdir()
    (folder / "GroundingDINO_SwinT_OGC.py").write_text("batch_size = 1\n")
    (folder / "groundingdino_swint_ogc.safetensors").write_bytes(b"")
    assert resolve_model_files(str(folder)) == (
        folder / "GroundingDINO_SwinT_OGC.py",
        folder / "groundingdino_swint_ogc.safetensors",
    )
    config = folder / "GroundingDINO_SwinT_OGC.py"
    pair = f"{config}::{folder / 'groundingdino_swint_ogc.safetensors'}"
    assert resolve_model_files(pair) == resolve_model_files(str(folder))

    with pytest.raises(ConfigError, match=r"is not \.safetensors; pickled checkpoints are not"):
        resolve_model_files(f"{config}::{folder / 'w.pth'}")
    with pytest.raises(ModelLoadError, match=r"'.*missing\.safetensors' does not exist"):
        resolve_model_files(f"{config}::{folder / 'missing.safetensors'}")
    with pytest.raises(ModelLoadError, match="folder '.*nowhere' does not exist"):
        resolve_model_files(str(tmp_path / "nowhere"))
    (folder / "other.py").write_text("")
    with pytest.raises(ModelLoadError, match="holds 2 .py and 1 .safetensors files, expected one"):
        resolve_model_files(str(folder))
    with pytest.raises(ConfigError, match="no model given; set the model to 'CONFIG_PY::"):
        resolve_model_files(None)


def _item(phrases: list[str]) -> DetectItem:
    image = Image.new("RGB", (64, 48))
    ref = ImageRef(path="x.png", sha256="0" * 64, width=64, height=48, format="png")
    sample = make_sample(source="t", images=[ref])
    return DetectItem(
        sample=sample,
        images=[image],
        phrases=[Phrase(text=p, start=0, end=len(p)) for p in phrases],
    )


@pytest.mark.skipif(not PACKAGE_MISSING, reason="groundingdino is installed here")
def test_missing_package_explains_the_separate_environment():
    options = DetectorOptions(model="cfg.py::w.safetensors")
    backend = create_backend("groundingdino-original", options)
    assert isinstance(backend, OriginalGroundingDinoBackend)
    assert backend.settings()["model"] == "cfg.py::w.safetensors"
    assert backend.detect([_item([])]) == [[]]  # nothing to ground: no import attempted
    with pytest.raises(ConfigError) as excinfo:
        backend.detect([_item(["a cat"])])
    message = str(excinfo.value)
    assert "separate virtual environment" in message
    assert "pip install groundingdino-py" in message
    assert "supervision==0.6.0" in message
    assert "'grounding-dino' detector" in message


def test_scores_use_only_each_phrase_tokens():
    # Same box, logits high only on the second phrase's tokens: one detection.
    logits = np.full((1, 256), -np.inf)
    logits[0, :6] = -9.0
    logits[0, 3] = 4.0
    found = _convert(np.array([[0.5, 0.5, 0.5, 0.5]]), logits, [[1], [3]], ["car", "taxi"])
    assert [(d.label, d.phrase_index) for d in found] == [("taxi", 1)]
