"""Session fixtures: the bundled sample extracted, sharded and distilled once, as the
README's commands do it (extract with ground-truth annotations, 2 tiny distill steps)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from cuekit.cli import cli


def _run(args: list[str]) -> None:
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    if result.exit_code != 0:
        raise RuntimeError(f"cuekit {' '.join(args)} failed: {result.output}")


@pytest.fixture(scope="session")
def sample_extract(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("evaluate") / "extract"
    _run(["extract", "--dataset", "sample", "--detector", "annotations", "-o", str(folder)])
    return folder


@pytest.fixture(scope="session")
def sample_shards(sample_extract: Path) -> Path:
    folder = sample_extract.parent / "shards"
    _run(["shard", "-i", str(sample_extract), "-o", str(folder)])
    return folder


@pytest.fixture(scope="session")
def distill_run(sample_shards: Path) -> Path:
    folder = sample_shards.parent / "run"
    _run(["distill", "--student", "tiny-random", "--shards", str(sample_shards), "--output",
          str(folder), "--max-steps", "2", "--batch-size", "4", "--max-new-tokens", "8",
          "--no-tensorboard"])
    return folder
