"""Library versions recorded in every run's provenance."""

from __future__ import annotations

import platform
from importlib import metadata

_PACKAGES = ("cuekit", "torch", "transformers", "datasets", "webdataset", "polars",
             "supervision", "pillow", "rapidocr", "onnxruntime")


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions
