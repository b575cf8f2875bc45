"""The detector protocol that every grounding backend implements, and its registry.

A backend turns images plus query phrases into detections. Heavy libraries
(transformers, rapidocr, groundingdino) are imported inside each backend's
module, so importing this registry stays cheap.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from cuekit.errors import ConfigError
from cuekit.schemas import Detection, Phrase, Sample

if TYPE_CHECKING:
    from PIL import Image


@dataclass(frozen=True)
class DetectItem:
    """What a backend sees of one sample.

    ``images`` are RGB, EXIF-transposed, and sized as the sample's ImageRefs say,
    so detection boxes are absolute pixels on the original image. ``rejected`` is the
    one thing a backend writes: how many of this sample's reads it threw away, by
    ``"<backend>/<reason>"`` (extract sums them into run.json).
    """

    sample: Sample
    images: Sequence[Image.Image]
    phrases: Sequence[Phrase]
    rejected: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class DetectorOptions:
    """Settings shared by the backends; each backend reads the ones it needs."""

    model: str | None = None  # model id or local path (grounding-dino)
    box_threshold: float = 0.30
    text_threshold: float = 0.25
    nms_iou: float = 0.5
    device: str = "cpu"
    batch_size: int = 4
    ocr_keep: tuple[str, ...] = ("mentioned", "labels", "numbers", "lines")
    annotations_field: str = "objects"
    extra: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class DetectorBackend(Protocol):
    """``detect(items) -> detections per item``; ``settings()`` gives provenance.

    A backend may also define ``warm(images)``: extract calls it from its decode thread
    ahead of ``detect`` so CPU-side preprocessing overlaps the previous batch's forward
    (grounding-dino runs its image processor there). It is optional and not part of the
    checked protocol.
    """

    name: str

    def settings(self) -> dict[str, Any]: ...

    def detect(self, items: Sequence[DetectItem]) -> list[list[Detection]]: ...


BackendFactory = Callable[[DetectorOptions], DetectorBackend]

# name -> "module:factory"; resolved lazily so optional dependencies stay optional.
_BACKENDS: dict[str, str] = {
    "grounding-dino": "cuekit.grounding.gdino:GroundingDinoBackend",
    "ocr": "cuekit.grounding.ocr:OcrBackend",
    "annotations": "cuekit.grounding.annotations:AnnotationsBackend",
    "groundingdino-original": "cuekit.grounding.gdino_original:OriginalGroundingDinoBackend",
}


def backend_names() -> list[str]:
    return sorted(_BACKENDS)


def register_backend(name: str, target: str) -> None:
    """Register a backend as ``"module:attribute"``, a callable taking DetectorOptions."""
    _BACKENDS[name] = target


def create_backend(name: str, options: DetectorOptions | None = None) -> DetectorBackend:
    """Instantiate the backend registered under ``name``."""
    if name not in _BACKENDS:
        raise ConfigError(f"unknown detector {name!r}; choose one of: {', '.join(backend_names())}")
    module_name, attr = _BACKENDS[name].split(":")
    factory: BackendFactory = getattr(importlib.import_module(module_name), attr)
    return factory(options or DetectorOptions())
