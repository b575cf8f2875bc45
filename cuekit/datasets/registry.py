"""Built-in generated datasets, by name: ``--dataset sample`` and ``--dataset cueworld``.

Each entry points at a row generator ``rows(split, seed) -> Iterator[dict]`` as
``"module:function"``, imported only when its rows are asked for, so naming a dataset
costs nothing (CueWorld's module draws scenes with PIL). Rows use the default field
names, so :mod:`cuekit.datasets.sources` maps them without a schema preset. A new
built-in dataset is one :func:`register_dataset` call.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from typing import Any

from cuekit.errors import ConfigError

Rows = Callable[[str, int], Iterator[dict[str, Any]]]

_DATASETS: dict[str, str] = {
    "sample": "cuekit.datasets.sample.rows:sample_split_rows",
    "cueworld": "cuekit.cueworld.dataset:generate_cueworld_rows",
}
# The cue wording a dataset's shipped models were trained on (``"module:attribute"``), so
# extract renders its cues the way those models expect; datasets without one get the
# latest wording.
_PINNED_WORDINGS: dict[str, str] = {"cueworld": "cuekit.cueworld.dataset:CUE_WORDING"}


def _load(target: str) -> Any:
    module_name, attr = target.split(":")
    return getattr(importlib.import_module(module_name), attr)


def dataset_names() -> list[str]:
    return sorted(_DATASETS)


def is_builtin(name: str) -> bool:
    return name in _DATASETS


def register_dataset(name: str, target: str, cue_wording: str | None = None) -> None:
    """Register ``target`` (``"module:function"``, called as ``function(split, seed)``);
    ``cue_wording`` (``"module:attribute"``) pins the wording its models were trained on."""
    if ":" not in target:
        raise ValueError(f"target must be 'module:function', got {target!r}")
    if cue_wording is not None and ":" not in cue_wording:
        raise ValueError(f"cue_wording must be 'module:attribute', got {cue_wording!r}")
    _DATASETS[name] = target
    if cue_wording is not None:
        _PINNED_WORDINGS[name] = cue_wording
    else:
        _PINNED_WORDINGS.pop(name, None)


def pinned_cue_wording(name: str) -> str | None:
    """The cue wording dataset ``name`` pins, or None; only a pinning dataset is imported."""
    target = _PINNED_WORDINGS.get(name)
    return None if target is None else str(_load(target))


def builtin_rows(name: str, split: str, seed: int) -> Iterator[dict[str, Any]]:
    """The rows of built-in dataset ``name``; a split it does not have is a ConfigError."""
    if name not in _DATASETS:
        raise ConfigError(
            f"unknown built-in dataset {name!r}; choose one of: {', '.join(dataset_names())}"
        )
    rows: Rows = _load(_DATASETS[name])
    try:
        return iter(rows(split, seed))
    except ValueError as exc:  # the generator refuses the split before the first row
        raise ConfigError(f"--dataset {name}: {exc}") from None
