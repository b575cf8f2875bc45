"""Fixtures: small extract folders written the way `cuekit extract` lays them out."""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from cuekit.pipelines.extract import layout
from cuekit.pipelines.extract.images import store_image_bytes
from cuekit.pipelines.extract.layout import write_extract_dir
from cuekit.schemas import (
    CueRecord,
    Detection,
    ExtractedSample,
    ExtractorSettings,
    Phrase,
    Sample,
    xyxy_to_1000,
)


def image_bytes(width: int, height: int, fmt: str, seed: int) -> bytes:
    """A deterministic noisy image encoded as ``fmt`` (png or jpeg)."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt.upper())
    return buffer.getvalue()


def make_record(
    root: Path,
    index: int,
    *,
    n_images: int = 1,
    size: tuple[int, int] = (40, 30),
    marks: bool = False,
) -> ExtractedSample:
    """Sample ``s{index:03d}`` with images, two phrases and one detection per image."""
    fmt = "png" if index % 2 == 0 else "jpeg"
    refs = [
        store_image_bytes(
            root, image_bytes(*size, fmt, seed=100 * index + i), sample_id=f"s{index:03d}", index=i
        )
        for i in range(n_images)
    ]
    question = f"What is the angle at vertex A of triangle number {index}?"
    phrases = [Phrase(text="angle", start=12, end=17), Phrase(text="triangle", start=33, end=41)]
    detections = []
    for i, ref in enumerate(refs):
        xyxy = (2.5 + i, 3.0, ref.width - 4.5, ref.height - 2.0)
        detections.append(
            Detection(
                label="triangle",
                phrase_index=1,
                image_index=i,
                xyxy=xyxy,
                box_1000=xyxy_to_1000(xyxy, ref.width, ref.height),
                score=0.5 + 0.01 * index,
                backend="gdino",
            )
        )
    sample = Sample(
        id=f"s{index:03d}",
        original_id=f"orig.{index}/x",
        source="unit",
        split="test",
        question=question,
        answer=str(30 + index),
        choices=["30", "45"] if index % 3 == 0 else None,
        images=refs,
        metadata={"row": index},
    )
    marked = None
    if marks:
        mark_rel = f"{layout.MARKS_DIR}/{sample.id}.png"
        (root / mark_rel).parent.mkdir(parents=True, exist_ok=True)
        (root / mark_rel).write_bytes(image_bytes(*size, "png", seed=999 + index))
        marked = mark_rel
    cue = CueRecord(
        sample_id=sample.id,
        phrases=phrases,
        detections=detections,
        cue_text=f"[Hint]: the triangle {index} spans the image.",
        cue_style="marks" if marks else ("boxes" if index % 2 else "hint"),
        leak=index % 4 == 0,
        marked_image=marked,
        settings=ExtractorSettings(backends=["gdino"], models={"gdino": "tiny"}),
    )
    return ExtractedSample(sample=sample, cue=cue)


ExtractFactory = Callable[..., tuple[Path, list[ExtractedSample]]]


@pytest.fixture
def make_extract_dir(tmp_path: Path) -> ExtractFactory:
    """Build ``tmp_path/name`` with ``n`` samples; sample 1 has two images, sample 2 marks."""

    def build(
        n: int = 8, name: str = "extract", size: tuple[int, int] = (40, 30)
    ) -> tuple[Path, list[ExtractedSample]]:
        root = tmp_path / name
        records = [
            make_record(root, i, n_images=2 if i == 1 else 1, size=size, marks=i == 2)
            for i in range(n)
        ]
        return write_extract_dir(root, records), records

    return build


def tar_members(path: Path) -> list[tuple[str, bytes]]:
    """(name, bytes) of every member of a tar, in order."""
    import tarfile

    with tarfile.open(path) as tar:
        return [(m.name, tar.extractfile(m).read()) for m in tar.getmembers()]


def folder_digests(folder: Path) -> dict[str, str]:
    """sha256 of every shard tar in ``folder``."""
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.tar"))
    }


@pytest.fixture
def sharded(make_extract_dir: ExtractFactory, tmp_path: Path) -> tuple[Path, list[ExtractedSample]]:
    """8 samples sharded with maxcount=3: shards of 3, 3 and 2 samples."""
    from cuekit.pipelines.shard.run import ShardSettings, shard

    extract_dir, records = make_extract_dir(8)
    out = tmp_path / "shards"
    shard(extract_dir, out, ShardSettings(maxcount=3))
    return out, records


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of a process from /proc, None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()  # the name in parentheses may hold spaces
    return fields[0], int(fields[1])


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _proc_stat(int(entry.name))
            if stat is not None and stat[1] == pid and stat[0] != "Z":
                found.append(int(entry.name))
    return found


def slowed_run(module: str, function: str, run: str) -> str:
    """A ``python -c`` script: ``module.function`` sleeps 0.5 s per call, then ``run``
    (which may use ``sys`` and ``Path``). Forked workers inherit the slow function."""
    return (
        f"import sys, time\nfrom pathlib import Path\nimport {module} as target\n"
        f"real = target.{function}\n"
        "def slow(*args, **kwargs):\n    time.sleep(0.5)\n    return real(*args, **kwargs)\n"
        f"target.{function} = slow\n{run}\n"
    )


def kill_parent_and_watch_workers(command: list[str], workers: int, timeout: float) -> list[int]:
    """Start ``command``, wait for ``workers`` child processes, SIGKILL the parent, and
    return the children still alive (not zombies) ``timeout`` seconds later."""
    import subprocess
    import time

    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        children: list[int] = []
        while len(children) < workers:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(
                    f"no {workers} workers appeared: {proc.stderr.read().decode()[-2000:]}"
                )
            time.sleep(0.2)
            children = children_of(proc.pid)
        time.sleep(1.0)  # let the workers get busy
    finally:
        proc.kill()
        proc.wait()
    end = time.monotonic() + timeout
    alive = children
    while alive and time.monotonic() < end:
        time.sleep(0.1)
        alive = [c for c in children if (_proc_stat(c) or ("Z", 0))[0] != "Z"]
    for pid in alive:  # do not leave them behind, whatever the verdict
        try:
            os.kill(pid, 9)
        except OSError:
            pass
    return alive


@pytest.fixture
def helpers() -> SimpleNamespace:
    """The module's helper functions, for tests (importing ``conftest`` by name is fragile
    when several test folders hold one)."""
    return SimpleNamespace(
        make_record=make_record,
        write_extract_dir=write_extract_dir,
        tar_members=tar_members,
        folder_digests=folder_digests,
        image_bytes=image_bytes,
        kill_parent_and_watch_workers=kill_parent_and_watch_workers,
        slowed_run=slowed_run,
    )
