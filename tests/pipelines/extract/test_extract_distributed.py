"""`cuekit extract` as 2 processes (RANK/WORLD_SIZE, or torchrun) equals one process."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

REPO = Path(__file__).resolve().parents[3]
EXTRACT = ["-m", "cuekit", "extract", "--dataset", "sample", "--detector", "annotations"]


def _check(done: subprocess.CompletedProcess | subprocess.Popen, output: str) -> None:
    assert done.returncode == 0, output[-4000:]


def _run(command: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    _check(done, done.stdout + done.stderr)


def _launch_env_ranks(out: Path, torchrun, child_env) -> None:
    """Two independent processes, as Slurm's srun would start them (RANK/WORLD_SIZE only)."""
    procs = [
        subprocess.Popen(
            [sys.executable, *EXTRACT, "--output", str(out)],
            cwd=REPO,
            env=child_env(RANK=str(rank), WORLD_SIZE="2", LOCAL_RANK=str(rank)),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for rank in range(2)
    ]
    for proc in procs:
        output, _ = proc.communicate(timeout=120)
        _check(proc, output)


def _launch_torchrun(out: Path, torchrun, child_env) -> None:
    _run([*torchrun(2), *EXTRACT, "--output", str(out)], child_env())


def _files(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def single(tmp_path_factory, child_env) -> Path:
    out = tmp_path_factory.mktemp("single") / "out"
    _run([sys.executable, *EXTRACT, "--output", str(out)], child_env())
    return out


@pytest.mark.parametrize(
    "launch", [_launch_env_ranks, _launch_torchrun], ids=["env-ranks", "torchrun"]
)
def test_two_ranks_merge_to_the_single_process_output(
    single, tmp_path, launch, torchrun, child_env
):
    out = tmp_path / "out"
    launch(out, torchrun, child_env)
    for table in ("cues.parquet", "errors.parquet"):
        expected, got = pl.read_parquet(single / table), pl.read_parquet(out / table)
        assert got.columns == expected.columns
        assert got.equals(expected), table
    assert pl.read_parquet(out / "cues.parquet").height == 36
    assert _files(out / "images") == _files(single / "images")
    run, reference = (json.loads((folder / "run.json").read_text()) for folder in (out, single))
    assert run["counts"] == reference["counts"]
    ranks = sorted(run["ranks"], key=lambda r: r["rank"])
    assert [(r["rank"], r["world_size"]) for r in ranks] == [(0, 2), (1, 2)]
    assert [r["processed"] for r in ranks] == [18, 18]  # rows split evenly, none twice
    assert not (out / "parts" / "merge.lock").exists()
