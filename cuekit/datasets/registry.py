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


def dataset_names() -> list[str]:
    return sorted(_DATASETS)


def is_builtin(name: str) -> bool:
    return name in _DATASETS


def register_dataset(name: str, target: str) -> None:
    """Register ``target`` (``"module:function"``, called as ``function(split, seed)``)."""
    if ":" not in target:
        raise ValueError(f"target must be 'module:function', got {target!r}")
    _DATASETS[name] = target


def builtin_rows(name: str, split: str, seed: int) -> Iterator[dict[str, Any]]:
    """The rows of built-in dataset ``name``; a split it does not have is a ConfigError."""
    if name not in _DATASETS:
        raise ConfigError(
            f"unknown built-in dataset {name!r}; choose one of: {', '.join(dataset_names())}"
        )
    module_name, attr = _DATASETS[name].split(":")
    rows: Rows = getattr(importlib.import_module(module_name), attr)
    try:
        return iter(rows(split, seed))
    except ValueError as exc:  # the generator refuses the split before the first row
        raise ConfigError(f"--dataset {name}: {exc}") from None
