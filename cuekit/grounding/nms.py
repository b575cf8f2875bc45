"""Per-phrase non-maximum suppression of detections, through supervision.

Grounding DINO returns many near-duplicate boxes and transformers applies no
NMS. Suppression is class-aware: a box only suppresses boxes of the same image
and the same phrase, so "the chord" and "point a" may share a region.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cuekit.schemas import Detection


def detection_order_key(detection: Detection) -> tuple:
    """The canonical order: by image, score descending, then box, phrase and label."""
    return (
        detection.image_index,
        -detection.score,
        detection.xyxy,
        -1 if detection.phrase_index is None else detection.phrase_index,
        detection.label,
        detection.backend,
    )


def sort_detections(detections: Sequence[Detection]) -> list[Detection]:
    return sorted(detections, key=detection_order_key)


def nms_detections(detections: Sequence[Detection], iou: float) -> list[Detection]:
    """Keep the best box among those overlapping by IoU > ``iou`` in each group.

    A group is (image_index, phrase_index, label): detections without a phrase
    index (OCR words, say) group by label. Returns new list in the canonical
    order of :func:`detection_order_key`, so the result does not depend on the
    input order (ties in score are broken by the box).
    """
    import supervision as sv

    if not 0.0 <= iou <= 1.0:
        raise ValueError(f"nms iou must be in [0, 1], got {iou}")
    ordered = sort_detections(detections)
    if not ordered:
        return []
    groups: dict[tuple, int] = {}
    class_ids = np.array(
        [groups.setdefault((d.image_index, d.phrase_index, d.label), len(groups)) for d in ordered],
        dtype=int,
    )
    candidates = sv.Detections(
        xyxy=np.array([d.xyxy for d in ordered], dtype=np.float64).reshape(-1, 4),
        # NMS only uses confidence to order boxes; supervision reverses ties in
        # score, so it gets the canonical rank instead (first = most confident).
        confidence=np.arange(len(ordered), 0, -1, dtype=np.float64),
        class_id=class_ids,
        data={
            "class_name": np.array([d.label for d in ordered]),
            "position": np.arange(len(ordered)),  # back to the Detection records
        },
    )
    kept = candidates.with_nms(threshold=iou, class_agnostic=False)
    return [ordered[position] for position in sorted(int(p) for p in kept.data["position"])]
