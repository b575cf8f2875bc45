"""The ``annotations`` backend: ground-truth boxes that ship with the samples.

Each sample carries its boxes in ``sample.metadata[options.annotations_field]``
(default ``"objects"``), a list of entries::

    {"label": "A", "xyxy": [x1, y1, x2, y2], "image_index": 0, "kind": "point", "score": 1.0}

``xyxy`` is absolute pixels on the original image; ``image_index`` (default 0),
``kind`` (free text, not used for matching) and ``score`` (default 1.0) are
optional. A sample without the field has no detections. A bad entry raises
:class:`~cuekit.errors.SampleError` naming the sample and the field path, e.g.
``metadata.objects[3].xyxy``.

A detection is tied to the first phrase its label matches, case-insensitively:
first the phrases equal to the label, then those where one contains the other as
whole tokens ("A" matches "point A", "red circle" matches "circle"; "A" does not
match "ABC").
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from cuekit.errors import SampleError
from cuekit.grounding.base import DetectItem, DetectorOptions
from cuekit.schemas import Detection, Phrase, clip_xyxy, xyxy_to_1000

__all__ = ["AnnotationsBackend", "match_phrase"]

_TOKEN = re.compile(r"∠?\w+")


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.casefold())


def _contains_run(tokens: Sequence[str], run: Sequence[str]) -> bool:
    if not run:
        return False
    width = len(run)
    return any(list(tokens[i : i + width]) == list(run) for i in range(len(tokens) - width + 1))


def match_phrase(label: str, phrases: Sequence[Phrase]) -> int | None:
    """Index of the phrase ``label`` refers to, or None (see the module docstring)."""
    wanted = label.strip().casefold()
    for i, phrase in enumerate(phrases):
        if phrase.text.strip().casefold() == wanted:
            return i
    label_tokens = _tokens(label)
    for i, phrase in enumerate(phrases):
        phrase_tokens = _tokens(phrase.text)
        if _contains_run(phrase_tokens, label_tokens) or _contains_run(label_tokens, phrase_tokens):
            return i
    return None


class AnnotationsBackend:
    """Reads boxes from sample metadata; needs no model."""

    name = "annotations"

    def __init__(self, options: DetectorOptions | None = None) -> None:
        self.options = options or DetectorOptions()
        if not self.options.annotations_field:
            raise ValueError("annotations_field must name a metadata field")

    def settings(self) -> dict[str, Any]:
        return {"annotations_field": self.options.annotations_field}

    def detect(self, items: Sequence[DetectItem]) -> list[list[Detection]]:
        return [self._detect_one(item) for item in items]

    def _detect_one(self, item: DetectItem) -> list[Detection]:
        field_name = self.options.annotations_field
        entries = item.sample.metadata.get(field_name)
        if entries is None:
            return []
        path = f"metadata.{field_name}"
        if not isinstance(entries, list):
            raise self._error(
                item, path, f"expected a list of objects, got {type(entries).__name__}"
            )
        return [self._to_detection(item, entry, f"{path}[{i}]") for i, entry in enumerate(entries)]

    def _to_detection(self, item: DetectItem, entry: Any, path: str) -> Detection:
        if not isinstance(entry, dict):
            raise self._error(item, path, f"expected an object, got {type(entry).__name__}")
        label = entry.get("label")
        if not isinstance(label, str) or not label.strip():
            raise self._error(item, f"{path}.label", f"expected a non-empty string, got {label!r}")
        image_index = entry.get("image_index", 0)
        n_images = len(item.sample.images)
        if (
            isinstance(image_index, bool)
            or not isinstance(image_index, int)
            or not 0 <= image_index < n_images
        ):
            raise self._error(
                item,
                f"{path}.image_index",
                f"expected an integer in [0, {n_images}), got {image_index!r}",
            )
        score = entry.get("score", 1.0)
        if (
            isinstance(score, bool)
            or not isinstance(score, (int, float))
            or not 0.0 <= float(score) <= 1.0
        ):
            raise self._error(item, f"{path}.score", f"expected a number in [0, 1], got {score!r}")
        width, height = self._image_size(item, image_index)
        xyxy = self._box(item, entry.get("xyxy"), width, height, f"{path}.xyxy")
        return Detection(
            label=label.strip(),
            phrase_index=match_phrase(label, item.phrases),
            image_index=image_index,
            xyxy=xyxy,
            box_1000=xyxy_to_1000(xyxy, width, height),
            score=float(score),
            backend=self.name,
        )

    def _box(
        self, item: DetectItem, raw: Any, width: int, height: int, path: str
    ) -> tuple[float, float, float, float]:
        numbers_ok = (
            isinstance(raw, (list, tuple))
            and len(raw) == 4
            and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                for v in raw
            )
        )
        if not numbers_ok:
            raise self._error(
                item, path, f"expected 4 finite numbers [x1, y1, x2, y2], got {raw!r}"
            )
        x1, y1, x2, y2 = (float(v) for v in raw)
        if x2 < x1 or y2 < y1:
            raise self._error(item, path, f"expected x1<=x2 and y1<=y2, got {list(raw)}")
        if x2 < 0 or y2 < 0 or x1 > width or y1 > height:
            raise self._error(
                item, path, f"box {list(raw)} lies outside the {width}x{height} image"
            )
        return clip_xyxy(raw, width, height)  # a box that pokes out is cut at the edge

    @staticmethod
    def _image_size(item: DetectItem, image_index: int) -> tuple[int, int]:
        if image_index < len(item.images):
            return item.images[image_index].size
        ref = item.sample.images[image_index]
        return ref.width, ref.height

    @staticmethod
    def _error(item: DetectItem, path: str, message: str) -> SampleError:
        return SampleError(message, sample_id=item.sample.id, field=path, stage="detect")
