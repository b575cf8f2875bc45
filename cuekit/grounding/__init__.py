"""Detector backends behind one protocol: Grounding DINO, OCR, annotations."""

from cuekit.grounding.base import (
    DetectItem,
    DetectorBackend,
    DetectorOptions,
    backend_names,
    create_backend,
    register_backend,
)

__all__ = [
    "DetectItem",
    "DetectorBackend",
    "DetectorOptions",
    "backend_names",
    "create_backend",
    "register_backend",
]
