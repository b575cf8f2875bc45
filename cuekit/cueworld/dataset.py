"""``--dataset cueworld``: seeded rows of CueWorld scenes and questions, per split.

Rows have the bundled sample's shape (``id``, ``question``, ``answer``, ``choices``,
``image`` PNG bytes, ``objects``) plus ``family`` and ``target``, so the sources layer
maps them with its default field map and the ``annotations`` backend grounds them.

Each row draws from its own ``random.Random`` seeded by the string
``"cueworld/<seed>/<split>/<index>"``, so splits never share a scene seed, a row does
not depend on the rows before it, and ``--limit`` only shortens the list.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

from cuekit.cueworld.questions import Question, ask_any
from cuekit.cueworld.scenes import Scene, draw_scene

CUEWORLD_SOURCE = "cueworld"
# The cue wording (cuekit.cues.wording) the shipped models (cuekit/cueworld/weights) were
# trained on, so `cuekit eval --privilege cue` reproduces their model cards. Extract picks
# it for --dataset cueworld unless --cue-wording says otherwise; a retrain on a newer
# wording moves this pin, together with the new weights.
CUE_WORDING = "v1"
SPLIT_SIZES: dict[str, int] = {"train": 50_000, "val": 600, "test": 600}


def row_rng(split: str, index: int, seed: int = 0) -> random.Random:
    return random.Random(f"{CUEWORLD_SOURCE}/{seed}/{split}/{index}")


def make_item(split: str, index: int, seed: int = 0) -> tuple[Scene, Question]:
    """The scene and question of one row."""
    rng = row_rng(split, index, seed)
    scene = draw_scene(rng)
    return scene, ask_any(scene, rng)


def cueworld_row(split: str, index: int, seed: int = 0) -> dict[str, Any]:
    scene, question = make_item(split, index, seed)
    return {
        "id": f"cueworld-{split}-{index:06d}",
        "question": question.question,
        "answer": question.answer,
        "choices": question.choices,
        "image": scene.png,
        "objects": scene.annotations(),
        "family": question.family,
        "target": question.target,
        "caption": scene.caption(),  # dense supervision for the base model's first phase
    }


def generate_cueworld_rows(
    split: str = "train", seed: int = 0, count: int | None = None
) -> Iterator[dict[str, Any]]:
    """Rows of ``split`` (train, val or test), lazily; ``count`` defaults to the split's size."""
    if split not in SPLIT_SIZES:
        raise ValueError(f"cueworld has splits {', '.join(SPLIT_SIZES)}, not {split!r}")
    total = SPLIT_SIZES[split] if count is None else count
    # A generator expression, so a bad split fails here rather than at the first row.
    return (cueworld_row(split, index, seed) for index in range(total))
