"""Sample ``shapes`` rows: coloured circles, squares and triangles; counting and spatial
questions."""

from __future__ import annotations

import math
import random

from cuekit.datasets.sample.canvas import COLOURS, INK, Canvas, LayoutError, Point, points_box

_SHAPE_KINDS = ("circle", "square", "triangle")


def _draw_shape(canvas: Canvas, colour: str, kind: str, center: Point, size: float) -> None:
    x, y, half = center[0], center[1], size / 2
    fill = COLOURS[colour]
    if kind == "circle":
        box = (x - half, y - half, x + half, y + half)
        canvas.draw.ellipse(box, fill=fill, outline=INK, width=2)
    elif kind == "square":
        box = (x - half, y - half, x + half, y + half)
        canvas.draw.rectangle(box, fill=fill, outline=INK, width=2)
    else:
        corners = [(x, y - half), (x + half, y + half), (x - half, y + half)]
        canvas.draw.polygon(corners, fill=fill, outline=INK, width=2)
        box = points_box(corners, 0)
    canvas.add(f"{colour} {kind}", "shape", (box[0] - 1, box[1] - 1, box[2] + 1, box[3] + 1))


def draw_shapes(rng: random.Random, index: int, canvas: Canvas) -> tuple[str, str, list[str]]:
    """Draw 3-6 shapes, each (colour, kind) once; returns (question, answer, distractors)."""
    combos = rng.sample([(c, k) for c in COLOURS for k in _SHAPE_KINDS], rng.randint(3, 6))
    placed: list[tuple[str, str, Point, float]] = []
    for colour, kind in combos:
        for _ in range(200):
            size = rng.randint(60, 100)
            center = (
                rng.uniform(size / 2 + 12, canvas.width - size / 2 - 12),
                rng.uniform(size / 2 + 12, canvas.height - size / 2 - 12),
            )
            if all(
                math.hypot(center[0] - c[0], center[1] - c[1]) > (size + s) * 0.75 + 20
                for _, _, c, s in placed
            ):
                placed.append((colour, kind, center, size))
                break
        else:
            raise LayoutError("no room for another shape")
    for colour, kind, center, extent in placed:
        _draw_shape(canvas, colour, kind, center, extent)
    question_kind = ("count_kind", "count_colour", "left_of", "rightmost", "above")[index % 5]
    counts = [str(n) for n in range(1, 7)]
    if question_kind == "count_kind":
        kind = rng.choice([k for _, k, _, _ in placed])
        count = sum(k == kind for _, k, _, _ in placed)
        return f"How many {kind}s are there in the image?", str(count), counts
    if question_kind == "count_colour":
        colour = rng.choice([c for c, _, _, _ in placed])
        count = sum(c == colour for c, _, _, _ in placed)
        return f"How many {colour} shapes are there in the image?", str(count), counts
    if question_kind == "rightmost":
        ordered = sorted(placed, key=lambda item: item[2][0])
        if ordered[-1][2][0] - ordered[-2][2][0] < 30:
            raise LayoutError("no clear rightmost shape")
        return ("What colour is the shape furthest to the right?", ordered[-1][0], list(COLOURS))
    axis = 0 if question_kind == "left_of" else 1
    first, second = rng.sample(placed, 2)
    if abs(first[2][axis] - second[2][axis]) < 40:
        raise LayoutError("relation too close to call")
    relation = "to the left of" if axis == 0 else "above"
    answer = "yes" if first[2][axis] < second[2][axis] else "no"
    return (
        f"Is the {first[0]} {first[1]} {relation} the {second[0]} {second[1]}?",
        answer,
        ["yes", "no"],
    )
