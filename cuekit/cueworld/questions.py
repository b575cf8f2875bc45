"""CueWorld questions: four families, each answerable only from one place in the image.

Every question names a shape ("the star"), and the answer is an attribute of that
shape or of its neighbour, so a model must first find the shape. That finding is what
a cue gives away (where the star is) without giving the answer. Once the place is known,
what is left to read there is a colour, a size or a digit, never another shape, so the
cue removes the search and only the search:

| family | question | answer |
|---|---|---|
| ``colour`` | What colour is the star? | a colour word, free-form |
| ``spatial`` | What colour is the shape directly left of the star? | an option letter (4 colours) |
| ``reading`` | What number is written on the star? | a digit, free-form |
| ``compare`` | Is the star larger than the circle? | yes / no, free-form |

Scenes hold several printed digits and several colours, so reading or naming any
digit or colour in the picture is not enough: the shortcut that ignores where the
named shape is scores well below a model that finds it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from cuekit.cueworld.scenes import SCENE_COLOURS, Scene

FAMILIES: tuple[str, ...] = ("colour", "spatial", "reading", "compare")
# (name in the question, row step, column step)
_DIRECTIONS = (("left of", 0, -1), ("right of", 0, 1), ("above", -1, 0), ("below", 1, 0))
_LETTERS = "ABCD"


@dataclass(frozen=True)
class Question:
    family: str
    question: str
    answer: str
    choices: list[str] | None = None
    target: str = ""  # the shape the question names (the evidence to find)


def _colour(scene: Scene, rng: random.Random) -> Question:
    obj = rng.choice(scene.objects)
    return Question("colour", f"What colour is the {obj.shape}?", obj.colour, target=obj.shape)


def _spatial(scene: Scene, rng: random.Random) -> Question | None:
    pairs = []
    for obj in scene.objects:
        for name, dr, dc in _DIRECTIONS:
            other = scene.at(obj.row + dr, obj.col + dc)
            if other is not None:
                pairs.append((obj, name, other))
    if not pairs:
        return None
    obj, name, other = rng.choice(pairs)
    distractors = rng.sample([c for c in SCENE_COLOURS if c != other.colour], 3)
    choices = [other.colour, *distractors]
    rng.shuffle(choices)
    answer = _LETTERS[choices.index(other.colour)]
    return Question(
        "spatial",
        f"What colour is the shape directly {name} the {obj.shape}?",
        answer,
        choices,
        target=obj.shape,
    )


def _reading(scene: Scene, rng: random.Random) -> Question | None:
    holders = [obj for obj in scene.objects if obj.digit is not None]
    if not holders:
        return None
    obj = rng.choice(holders)
    return Question(
        "reading", f"What number is written on the {obj.shape}?", str(obj.digit), target=obj.shape
    )


def _compare(scene: Scene, rng: random.Random) -> Question | None:
    large = [obj for obj in scene.objects if obj.size == "large"]
    small = [obj for obj in scene.objects if obj.size == "small"]
    if not large or not small:
        return None
    big, little = rng.choice(large), rng.choice(small)
    # Half yes, half no: a model that cannot find both shapes scores 50%.
    first, second, answer = (big, little, "yes") if rng.random() < 0.5 else (little, big, "no")
    return Question(
        "compare",
        f"Is the {first.shape} larger than the {second.shape}?",
        answer,
        target=first.shape,
    )


_BUILDERS = {"colour": _colour, "spatial": _spatial, "reading": _reading, "compare": _compare}


def ask(scene: Scene, family: str, rng: random.Random) -> Question | None:
    """A question of ``family`` about ``scene``, or None when the scene cannot pose one."""
    if family not in _BUILDERS:
        raise ValueError(f"unknown family {family!r}; expected one of {FAMILIES}")
    return _BUILDERS[family](scene, rng)


def ask_any(scene: Scene, rng: random.Random) -> Question:
    """A question of a random family that the scene can pose (colour always can)."""
    families = list(FAMILIES)
    rng.shuffle(families)
    for family in families:
        question = ask(scene, family, rng)
        if question is not None:
            return question
    raise AssertionError("unreachable: every scene can pose a colour question")
