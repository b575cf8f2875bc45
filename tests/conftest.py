"""Root fixtures.

- The one chain for the bundled sample: ``sample_extract`` (``cuekit extract --dataset
  sample --detector annotations``) -> ``sample_shards`` (``cuekit shard --maxcount 8``),
  built once per session through the CLI, as the README's commands do it. Every room's
  tests that need extracted or sharded data use these two.
- Child processes for the multi-process tests: ``child_env`` and ``torchrun``.
- Files shaped exactly like real hub datasets (docs/method.md §3). They are written
  through HF ``datasets`` with the published features, so the parquet carries the same
  arrow types, nulls and ``{bytes, path}`` image structs a hub snapshot does, and the
  file names are the hub's shard names, which say nothing about the schema.
"""

from __future__ import annotations

import io
import os
import socket
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image


def run_cli(args: list[str]) -> None:
    """``cuekit ARGS`` in-process; a failure raises with the command's output."""
    from click.testing import CliRunner

    from cuekit.cli import cli

    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    if result.exit_code != 0:
        raise RuntimeError(f"cuekit {' '.join(args)} failed: {result.output}")


@pytest.fixture(scope="session")
def cuekit_cli() -> Callable[[list[str]], None]:
    """:func:`run_cli`, for fixtures in the rooms' conftest files."""
    return run_cli


@pytest.fixture(scope="session")
def sample_extract(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled sample, extracted with its ground-truth annotations."""
    folder = tmp_path_factory.mktemp("sample") / "extract"
    run_cli(["extract", "--dataset", "sample", "--detector", "annotations", "-o", str(folder)])
    return folder


@pytest.fixture(scope="session")
def sample_shards(sample_extract: Path) -> Path:
    """``sample_extract`` as shards of 8 samples (several shards: rank and worker splits)."""
    folder = sample_extract.parent / "shards"
    run_cli(["shard", "-i", str(sample_extract), "-o", str(folder), "--maxcount", "8"])
    return folder


REPO = Path(__file__).resolve().parents[1]
# Set by a launcher for each rank; inherited ones would make every child think it is that rank.
RANK_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


def child_environment(**extra: str) -> dict[str, str]:
    """This process's environment for a child: this checkout's cuekit, no rank variables."""
    env = {k: v for k, v in os.environ.items() if k not in RANK_VARIABLES}
    return {**env, "PYTHONPATH": str(REPO), **extra}


def torchrun_command(nproc: int = 2) -> list[str]:
    """``python -m torch.distributed.run`` for ``nproc`` local processes on a free port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nnodes",
        "1",
        "--nproc-per-node",
        str(nproc),
        "--master-addr",
        "127.0.0.1",
        "--master-port",
        str(port),
    ]


@pytest.fixture(scope="session")
def child_env() -> Callable[..., dict[str, str]]:
    """:func:`child_environment`, for the multi-process tests."""
    return child_environment


@pytest.fixture(scope="session")
def torchrun() -> Callable[..., list[str]]:
    """:func:`torchrun_command`, for the multi-process tests."""
    return torchrun_command


def encoded_image(color: tuple[int, int, int], fmt: str = "PNG", size=(24, 18)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format=fmt)
    return buffer.getvalue()


def geometry3k_features(with_extras: bool = False):
    import datasets

    features = {
        "images": datasets.List(datasets.Image()),
        "problem": datasets.Value("string"),
        "answer": datasets.Value("string"),
    }
    if with_extras:  # some copies add the dataset's own id and options
        features.update(
            id=datasets.Value("string"),
            choices=datasets.List(datasets.Value("string")),
            ground_truth=datasets.Value("string"),
        )
    return datasets.Features(features)


def mathvista_features():
    import datasets

    text = datasets.Value("string")
    return datasets.Features(
        {
            "pid": text,
            "question": text,
            "image": text,
            "decoded_image": datasets.Image(),
            "choices": datasets.List(text),
            "unit": text,
            "precision": datasets.Value("float64"),
            "answer": text,
            "question_type": text,
            "answer_type": text,
            "metadata": {
                "category": text,
                "context": text,
                "grade": text,
                "img_height": datasets.Value("int64"),
                "img_width": datasets.Value("int64"),
                "language": text,
                "skills": datasets.List(text),
                "source": text,
                "split": text,
                "task": text,
            },
            "query": text,
        }
    )


GEOMETRY3K_ROWS = [
    {"problem": "<image>Find x.", "answer": "3"},
    {
        "problem": "<image>Find the area of the figure. Round to the nearest tenth.",
        "answer": "25.1",
    },
]
GEOMETRY3K_EXTRA_ROWS = [
    {
        "id": "2401",
        "problem": "<image>Find y.",
        "answer": "5",
        "ground_truth": "B",
        "choices": ["3", "5", "7", "9"],
    },
]
MATHVISTA_ROWS = [
    {
        "pid": "1",
        "question": "When a spring does work on an object, we cannot find the work "
        "by simply multiplying the spring force by the object's displacement. Is this true?",
        "image": "images/1.jpg",
        "choices": ["True", "False"],
        "unit": None,
        "precision": None,
        "answer": "False",
        "question_type": "multi_choice",
        "answer_type": "text",
    },
    {
        "pid": "2",
        "question": "What is the length of the line segment?",
        "image": "images/2.png",
        "choices": None,
        "unit": "cm",
        "precision": None,
        "answer": "8",
        "question_type": "free_form",
        "answer_type": "integer",
    },
    {
        "pid": "3",
        "question": "What is the average of the two values?",
        "image": "images/3.png",
        "choices": None,
        "unit": None,
        "precision": 1.0,
        "answer": "1.5",
        "question_type": "free_form",
        "answer_type": "float",
    },
]


def _mathvista_metadata(index: int) -> dict:
    return {
        "category": "math-targeted-vqa",
        "context": "scientific figure",
        "grade": "college",
        "img_height": 18,
        "img_width": 24,
        "language": "english",
        "skills": ["scientific reasoning"],
        "source": "SciBench",
        "split": "testmini",
        "task": "textbook question answering" if index else "figure question answering",
    }


def write_geometry3k(folder: Path, split: str = "train", *, with_extras: bool = False) -> Path:
    """``folder/data/<split>-00000-of-00001.parquet`` as the hub snapshot names it."""
    import datasets

    rows = GEOMETRY3K_EXTRA_ROWS if with_extras else GEOMETRY3K_ROWS
    images = [[{"bytes": encoded_image((40 * i, 90, 160)), "path": None}] for i in range(len(rows))]
    columns = {
        name: [row.get(name) for row in rows]
        for name in geometry3k_features(with_extras)
        if name != "images"
    }
    dataset = datasets.Dataset.from_dict(
        {"images": images, **columns}, features=geometry3k_features(with_extras)
    )
    path = folder / "data" / f"{split}-00000-of-00001.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    dataset.to_parquet(str(path))
    return path


def write_mathvista(folder: Path) -> Path:
    """MathVista's testmini shard, with its hash-suffixed hub file name."""
    import datasets

    formats = ["JPEG", "PNG", "PNG"]
    columns = {name: [row[name] for row in MATHVISTA_ROWS] for name in MATHVISTA_ROWS[0]}
    columns["decoded_image"] = [
        {"bytes": encoded_image((30, 60 * i, 90), fmt), "path": None}
        for i, fmt in enumerate(formats)
    ]
    columns["metadata"] = [_mathvista_metadata(i) for i in range(len(MATHVISTA_ROWS))]
    columns["query"] = [
        f"Hint: answer the question.\nQuestion: {row['question']}" for row in MATHVISTA_ROWS
    ]
    dataset = datasets.Dataset.from_dict(columns, features=mathvista_features())
    path = folder / "data" / "testmini-00000-of-00001-725687bf7a18d64b.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    dataset.to_parquet(str(path))
    return path


@pytest.fixture
def geometry3k_snapshot(tmp_path: Path) -> Callable[..., Path]:
    """A factory: a geometry3k-shaped hub snapshot folder (its parquet under ``data/``)."""

    def make(name: str = "snapshot", **kwargs) -> Path:
        folder = tmp_path / name
        write_geometry3k(folder, **kwargs)
        return folder

    return make


@pytest.fixture
def mathvista_snapshot(tmp_path: Path) -> Path:
    folder = tmp_path / "mv-snapshot"
    write_mathvista(folder)
    return folder
