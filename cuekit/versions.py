"""Library versions recorded in every run's provenance."""

from __future__ import annotations

import functools
import platform
from importlib import metadata

_PACKAGES = (
    "cuekit",
    "torch",
    "transformers",
    "datasets",
    "webdataset",
    "polars",
    "pydantic",
    "supervision",
    "pillow",
    "rapidocr",
    "onnxruntime",
)


def library_versions() -> dict[str, str]:
    """Versions of the libraries a run depends on (a copy: callers may add to it)."""
    return dict(_versions())


@functools.cache
def _versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions
