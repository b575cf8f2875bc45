"""Per-phrase NMS (cuekit.grounding.nms)."""

from __future__ import annotations

import random

import pytest

from cuekit.grounding.nms import nms_detections, sort_detections
from cuekit.schemas import Detection


def _det(xyxy, score, phrase=0, label="a cat", image=0) -> Detection:
    return Detection(
        label=label,
        phrase_index=phrase,
        image_index=image,
        xyxy=xyxy,
        box_1000=(0, 0, 1, 1),
        score=score,
        backend="test",
    )


def _iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    area = lambda r: (r[2] - r[0]) * (r[3] - r[1])  # noqa: E731
    return inter / (area(a) + area(b) - inter)


def test_overlapping_boxes_of_one_phrase_are_suppressed():
    best = _det((0.0, 0.0, 10.0, 10.0), 0.9)
    duplicate = _det((1.0, 0.0, 11.0, 10.0), 0.8)  # IoU 9/11
    far = _det((50.0, 50.0, 60.0, 60.0), 0.4)
    assert _iou(best.xyxy, duplicate.xyxy) == pytest.approx(9 / 11)
    assert nms_detections([duplicate, far, best], iou=0.5) == [best, far]


def test_threshold_is_compared_to_the_real_iou():
    best = _det((0.0, 0.0, 10.0, 10.0), 0.9)
    other = _det((4.0, 0.0, 14.0, 10.0), 0.8)  # IoU 6/14 = 0.43
    assert nms_detections([best, other], iou=0.4) == [best]
    assert nms_detections([best, other], iou=0.45) == [best, other]


def test_different_phrases_images_and_labels_are_kept():
    box = (0.0, 0.0, 10.0, 10.0)
    cat = _det(box, 0.9, phrase=0, label="a cat")
    dog = _det(box, 0.8, phrase=1, label="a dog")
    cat_other_image = _det(box, 0.7, phrase=0, label="a cat", image=1)
    ocr_a = Detection(
        label="AB", image_index=0, xyxy=box, box_1000=(0, 0, 1, 1), score=0.6, backend="ocr"
    )
    ocr_b = ocr_a.model_copy(update={"label": "CD", "score": 0.5})
    ocr_dup = ocr_a.model_copy(update={"score": 0.4})
    kept = nms_detections([ocr_dup, ocr_b, cat_other_image, dog, ocr_a, cat], iou=0.5)
    assert kept == [cat, dog, ocr_a, ocr_b, cat_other_image]


def test_result_is_independent_of_input_order():
    rng = random.Random(0)
    detections = [
        _det(
            (x, y, x + 10.0, y + 10.0),
            round(rng.random(), 2),
            phrase=rng.randint(0, 2),
            label="p",
            image=rng.randint(0, 1),
        )
        for x, y in [(rng.randint(0, 30), rng.randint(0, 30)) for _ in range(40)]
    ]
    expected = nms_detections(detections, iou=0.3)
    for _ in range(5):
        shuffled = detections[:]
        rng.shuffle(shuffled)
        assert nms_detections(shuffled, iou=0.3) == expected
    assert expected == sort_detections(expected)
    # No two kept boxes of the same group overlap beyond the threshold.
    for i, a in enumerate(expected):
        for b in expected[i + 1 :]:
            if (a.image_index, a.phrase_index, a.label) == (b.image_index, b.phrase_index, b.label):
                assert _iou(a.xyxy, b.xyxy) <= 0.3


def test_equal_scores_break_ties_by_box():
    left = _det((0.0, 0.0, 10.0, 10.0), 0.5)
    right = _det((1.0, 0.0, 11.0, 10.0), 0.5)
    assert nms_detections([right, left], iou=0.5) == [left]
    assert nms_detections([left, right], iou=0.5) == [left]


def test_empty_and_bad_threshold():
    assert nms_detections([], iou=0.5) == []
    with pytest.raises(ValueError, match="nms iou must be in \\[0, 1\\], got 1.5"):
        nms_detections([_det((0.0, 0.0, 1.0, 1.0), 0.5)], iou=1.5)
