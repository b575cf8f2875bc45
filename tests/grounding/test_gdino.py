"""The grounding-dino backend end to end on the tiny random model."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from factories import make_sample
from PIL import Image

from cuekit.errors import ConfigError, ModelLoadError
from cuekit.grounding import DetectItem, DetectorBackend, DetectorOptions, create_backend
from cuekit.grounding.gdino import DEFAULT_MODEL, GroundingDinoBackend
from cuekit.grounding.spans import build_prompt
from cuekit.grounding.tiny import (
    build_tiny_gdino_processor,
    build_tiny_grounding_dino,
    save_tiny_grounding_dino,
)
from cuekit.schemas import ImageRef, Phrase, clip_xyxy, xyxy_to_1000


def _image(width: int, height: int, seed: int) -> Image.Image:
    pixels = np.random.RandomState(seed).randint(0, 255, (height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def _item(sample_id: str, images: list[Image.Image], phrases: list[str]) -> DetectItem:
    refs = [
        ImageRef(
            path=f"{sample_id}-{i}.png",
            sha256="0" * 64,
            width=im.width,
            height=im.height,
            format="png",
        )
        for i, im in enumerate(images)
    ]
    question = "find " + ", ".join(phrases) if phrases else "what is shown?"
    sample = make_sample(id=sample_id, question=question, images=refs)
    spans = [Phrase(text=p, start=0, end=len(p)) for p in phrases]
    return DetectItem(sample=sample, images=images, phrases=spans)


@pytest.fixture(scope="module")
def items() -> list[DetectItem]:
    return [
        _item("a", [_image(320, 240, 0)], ["a red triangle", "the chord AB"]),
        _item("b", [_image(200, 300, 1), _image(320, 240, 2)], ["point c"]),
        _item("c", [_image(320, 240, 3)], ["circle", "angle abc", "x"]),
        _item("d", [_image(96, 64, 4)], []),
    ]


def _tiny(**kwargs) -> GroundingDinoBackend:
    return GroundingDinoBackend(DetectorOptions(model="tiny-random", **kwargs))


def _assert_same(left, right) -> None:
    """Same detections up to float noise from batched matmuls."""
    assert len(left) == len(right)
    for dets_a, dets_b in zip(left, right, strict=True):
        assert [
            (d.label, d.phrase_index, d.image_index, d.box_1000, d.backend) for d in dets_a
        ] == [(d.label, d.phrase_index, d.image_index, d.box_1000, d.backend) for d in dets_b]
        np.testing.assert_allclose([d.score for d in dets_a], [d.score for d in dets_b], atol=1e-5)
        np.testing.assert_allclose([d.xyxy for d in dets_a], [d.xyxy for d in dets_b], atol=1e-3)


def test_batch_size_does_not_change_detections(items):
    one = _tiny(batch_size=1).detect(items)
    two = _tiny(batch_size=2).detect(items)
    assert [len(d) for d in one][:3] != [0, 0, 0]  # the random model does find boxes
    assert one[3] == []
    _assert_same(one, two)


def test_detections_match_a_direct_forward(items):
    """Reference: the stock processor + model, phrase tokens found by id search."""
    item = items[0]
    image = item.images[0]
    found = _tiny(nms_iou=1.0).detect([item])[0]  # iou 1.0: NMS removes nothing

    model, processor = build_tiny_grounding_dino(0)
    inputs = processor(images=image, text="a red triangle. the chord ab.", return_tensors="pt")
    with torch.inference_mode():
        outputs = model(**inputs)
    ids = inputs["input_ids"][0].tolist()
    phrase_ids = [
        processor.tokenizer(p, add_special_tokens=False)["input_ids"]
        for p in ("a red triangle", "the chord ab")
    ]
    positions = []
    for pieces in phrase_ids:
        start = next(i for i in range(len(ids)) if ids[i : i + len(pieces)] == pieces)
        positions.append(list(range(start, start + len(pieces))))
    probs = outputs.logits[0].sigmoid().double()  # (Q, 256)
    scores = torch.stack([probs[:, p].max(dim=1).values for p in positions], dim=1)  # (Q, 2)
    boxes = processor.post_process_grounded_object_detection(
        outputs, threshold=0.0, target_sizes=[(image.height, image.width)]
    )[0]["boxes"]
    expected = []
    for query in range(scores.shape[0]):
        if scores[query].max() < 0.30:
            continue
        xyxy = clip_xyxy(boxes[query].tolist(), image.width, image.height)
        if xyxy[2] <= xyxy[0] or xyxy[3] <= xyxy[1]:
            continue
        for phrase in range(2):
            if scores[query, phrase] >= 0.25:
                expected.append((phrase, float(scores[query, phrase]), xyxy))
    expected.sort(key=lambda e: (-e[1], e[2], e[0]))
    assert len(found) == len(expected) > 0
    labels = ["a red triangle", "the chord AB"]
    for det, (phrase, score, xyxy) in zip(found, expected, strict=True):
        assert (det.label, det.phrase_index, det.image_index) == (labels[phrase], phrase, 0)
        assert det.score == pytest.approx(score, abs=1e-6)
        assert det.xyxy == pytest.approx(xyxy, abs=1e-3)


def test_boxes_lie_within_their_image(items):
    results = _tiny(box_threshold=0.1, text_threshold=0.1).detect(items)
    checked = 0
    for item, detections in zip(items, results, strict=True):
        for det in detections:
            image = item.images[det.image_index]
            x1, y1, x2, y2 = det.xyxy
            assert 0 <= x1 < x2 <= image.width and 0 <= y1 < y2 <= image.height
            assert det.box_1000 == xyxy_to_1000(det.xyxy, image.width, image.height)
            assert det.label == item.phrases[det.phrase_index].text
            assert det.backend == "grounding-dino"
            checked += 1
    assert checked > 0
    assert {d.image_index for d in results[1]} == {0, 1}  # both images of item "b"


def test_thresholds_filter_scores(items):
    loose = _tiny(box_threshold=0.0, text_threshold=0.0, nms_iou=1.0).detect(items[:1])[0]
    strict = _tiny(box_threshold=0.9, text_threshold=0.9, nms_iou=1.0).detect(items[:1])[0]
    assert strict == [d for d in loose if d.score >= 0.9]
    assert len(strict) < len(loose)


def test_long_phrase_lists_are_chunked_into_several_prompts():
    phrases = [f"the chord ab{i}" for i in range(70)]  # 7 pieces + "." each
    image = _image(160, 120, 5)
    # Thresholds 0 and iou 1: every (box, phrase) pair is kept, so float noise
    # between batched and single runs cannot flip a threshold or an NMS decision.
    backend = _tiny(nms_iou=1.0, box_threshold=0.0, text_threshold=0.0)
    whole = backend.detect([_item("long", [image], phrases)])[0]
    # Reference chunks: grow a prompt until the real tokenizer says it would pass 256.
    tokenizer = build_tiny_gdino_processor().tokenizer
    bounds, start = [], 0
    for stop in range(1, len(phrases) + 1):
        prompt = build_prompt(phrases[start:stop])[0]
        if len(tokenizer(prompt)["input_ids"]) > 256:
            bounds.append((start, stop - 1))
            start = stop - 1
    bounds.append((start, len(phrases)))
    assert len(bounds) == 2  # 70 phrases of 5-6 pieces: one split
    pieces = []
    for start, stop in bounds:
        part = backend.detect([_item("part", [image], phrases[start:stop])])[0]
        pieces += [d.model_copy(update={"phrase_index": d.phrase_index + start}) for d in part]
    assert {d.phrase_index for d in whole} == set(range(70))

    def by_key(dets):
        return [sorted(dets, key=lambda d: (d.phrase_index, d.box_1000))]

    _assert_same(by_key(whole), by_key(pieces))


def test_no_phrases_returns_empty_without_loading():
    backend = GroundingDinoBackend(DetectorOptions(model="/nonexistent/never-loaded"))
    items = [_item("e", [_image(32, 32, 0)], []), _item("f", [_image(32, 32, 0)], [". ?"])]
    assert backend.detect(items) == [[], []]
    assert backend._model is None


def test_settings_are_cheap_and_complete():
    backend = GroundingDinoBackend(DetectorOptions(box_threshold=0.35, nms_iou=0.6))
    assert backend.settings() == {
        "model": DEFAULT_MODEL,
        "box_threshold": 0.35,
        "text_threshold": 0.25,
        "nms_iou": 0.6,
        "device": "cpu",
        "batch_size": 4,
    }
    assert backend._model is None
    assert DEFAULT_MODEL == "IDEA-Research/grounding-dino-tiny"


def test_registry_creates_the_backend():
    backend = create_backend("grounding-dino", DetectorOptions(model="tiny-random"))
    assert isinstance(backend, GroundingDinoBackend)
    assert isinstance(backend, DetectorBackend)
    assert backend.name == "grounding-dino"


def test_saved_tiny_model_loads_through_the_local_path(tmp_path, items):
    folder = save_tiny_grounding_dino(tmp_path / "tiny-gdino", seed=0)
    assert (folder / "model.safetensors").is_file()
    assert not list(folder.glob("*.bin"))
    from_disk = GroundingDinoBackend(DetectorOptions(model=str(folder), batch_size=2))
    assert from_disk.detect(items) == _tiny(batch_size=2).detect(items)


def test_missing_local_path_is_a_model_load_error(tmp_path, items):
    missing = tmp_path / "no-such-model"
    backend = GroundingDinoBackend(DetectorOptions(model=str(missing)))
    with pytest.raises(
        ModelLoadError, match=f"grounding-dino config: local path '{missing}' does not exist"
    ):
        backend.detect(items[:1])


def test_mm_grounding_dino_checkpoints_load_their_own_class(tmp_path, items):
    folder = save_tiny_grounding_dino(tmp_path / "tiny-mm", seed=1, variant="mm-grounding-dino")
    options = DetectorOptions(model=str(folder), nms_iou=1.0, box_threshold=0.0, text_threshold=0.0)
    backend = GroundingDinoBackend(options)
    found = backend.detect(items[:1])[0]
    assert type(backend._model).__name__ == "MMGroundingDinoForObjectDetection"
    # Reference: the best probability over the prompt's phrase tokens, stock pipeline.
    model, processor = build_tiny_grounding_dino(1, variant="mm-grounding-dino")
    inputs = processor(
        images=items[0].images[0], text="a red triangle. the chord ab.", return_tensors="pt"
    )
    with torch.inference_mode():
        probs = model(**inputs).logits[0].sigmoid()  # (Q, 256)
    ids = inputs["input_ids"][0]
    phrase_positions = [i for i, t in enumerate(ids.tolist()) if t not in (101, 102, 1012)]
    best = probs[:, phrase_positions].max().item()
    assert found and max(d.score for d in found) == pytest.approx(best, abs=1e-6)


def test_a_checkpoint_of_another_family_is_refused(tmp_path):
    from transformers import BertConfig

    BertConfig(
        hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64
    ).save_pretrained(tmp_path / "bert")
    backend = GroundingDinoBackend(DetectorOptions(model=str(tmp_path / "bert")))
    with pytest.raises(
        ModelLoadError,
        match="is a 'bert' checkpoint; expected one of "
        r"\['grounding-dino', 'mm-grounding-dino'\]",
    ):
        backend.detect([_item("h", [_image(32, 32, 0)], ["a cat"])])


def test_bad_options_are_config_errors():
    with pytest.raises(ConfigError, match="box_threshold must be in \\[0, 1\\], got 1.5"):
        GroundingDinoBackend(DetectorOptions(box_threshold=1.5))
    with pytest.raises(ConfigError, match="batch_size must be at least 1, got 0"):
        GroundingDinoBackend(DetectorOptions(batch_size=0))
    backend = _tiny(device="warp-drive")
    with pytest.raises(ConfigError, match="unknown device 'warp-drive'"):
        backend.detect([_item("g", [_image(32, 32, 0)], ["a cat"])])
