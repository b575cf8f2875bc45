"""CueWorld fixtures: its rows extracted through the CLI with their ground-truth boxes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cuekit.cli import cli


def extract_cueworld(split: str, limit: int, output: Path, *extra: str) -> Result:
    """``cuekit extract --dataset cueworld`` on the first ``limit`` rows of ``split``,
    grounded by the scene's own annotations (no detector model)."""
    args = ["--split", split, "--limit", str(limit), "--detector", "annotations"]
    return CliRunner().invoke(
        cli, ["extract", "--dataset", "cueworld", *args, "-o", str(output), *extra]
    )


@pytest.fixture(scope="session")
def cueworld_extract() -> Callable[..., Result]:
    """:func:`extract_cueworld`; the test checks the exit code and the folder."""
    return extract_cueworld
