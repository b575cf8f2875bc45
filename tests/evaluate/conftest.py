"""Session fixtures: a student distilled for 2 tiny steps from the root ``sample_shards``
(tests/conftest.py), as the README's commands do it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def distill_run(sample_shards: Path, cuekit_cli: Callable[[list[str]], None]) -> Path:
    folder = sample_shards.parent / "run"
    cuekit_cli(
        [
            "distill",
            "--student",
            "tiny-random",
            "--shards",
            str(sample_shards),
            "--output",
            str(folder),
            "--max-steps",
            "2",
            "--batch-size",
            "4",
            "--max-new-tokens",
            "8",
            "--no-tensorboard",
        ]
    )
    return folder
