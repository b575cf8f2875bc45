"""The bundled ``sample`` dataset: deterministic synthetic math/diagram VQA drawn with PIL.

It lets every stage (extract, shard, distill, eval) run offline on realistic inputs.
Three categories, ``SAMPLE_SIZE // 3`` rows each:

- ``geometry``: triangles, rectangles and circles with lettered points and labelled
  lengths and angles. The answer is computed and never printed in the image.
- ``chart``: bar and line charts with an axis title per axis, tick labels and category labels.
- ``shapes``: coloured circles, squares and triangles; counting and spatial questions.

Each row is a dict with exactly ``id``, ``category``, ``question``, ``answer``, ``choices``,
``image`` (PNG bytes) and ``objects``.

Answer convention: a multiple-choice row has ``choices`` (the option texts) and ``answer``
is the letter of the right option (``"A"`` for ``choices[0]``...). Other rows have
``choices=None`` and a bare answer: numbers without units or degree sign, chart names as
drawn ("Dog", "2019"), colours and yes/no in lowercase.

``objects`` is the ground truth: ``{"label", "kind", "xyxy"}`` with absolute pixel boxes,
one per drawn thing and one per piece of text. A text object's label is the exact string
drawn and its box is PIL's ``textbbox``; its kind is one of :data:`TEXT_KINDS`. Drawn
things use :data:`DRAWING_KINDS`.

The same ``seed`` gives byte-identical PNGs: each row has its own ``random.Random``
seeded from (seed, category, index), and PNGs carry no metadata.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any

from cuekit.datasets.sample.canvas import Canvas, LayoutError, random_size
from cuekit.datasets.sample.charts import draw_chart
from cuekit.datasets.sample.choices import as_choices, number_distractors
from cuekit.datasets.sample.geometry import draw_geometry
from cuekit.datasets.sample.shapes import draw_shapes

SAMPLE_SIZE = 36
CATEGORIES: tuple[str, ...] = ("geometry", "chart", "shapes")
TEXT_KINDS: tuple[str, ...] = (
    "point_label",  # a lettered point: "A"
    "length_label",  # a segment length: "4", "12 cm"
    "angle_label",  # an angle: "35°"
    "tick_label",  # a value on a chart axis: "20"
    "category_label",  # a bar or x-position name on a chart: "Apple", "2019"
    "axis_title",  # "Sales", "Year"
)
DRAWING_KINDS: tuple[str, ...] = (
    "polygon",
    "circle",
    "segment",
    "point",
    "angle_mark",
    "right_angle_mark",
    "axis",
    "bar",
    "line",
    "marker",
    "shape",
)


def _geometry_row(rng: random.Random, index: int, canvas: Canvas) -> tuple[str, str, list[str]]:
    question, answer = draw_geometry(rng, index, canvas)
    return question, answer, number_distractors(float(answer))


_BUILDERS: dict[str, Callable[[random.Random, int, Canvas], tuple[str, str, list[str]]]] = {
    "geometry": _geometry_row,
    "chart": draw_chart,
    "shapes": draw_shapes,
}


def _build_row(seed: int, category: str, index: int) -> dict[str, Any]:
    rng = random.Random(f"cuekit-sample:{seed}:{category}:{index}")
    for _ in range(100):  # retry layouts that put text over text; each retry draws anew
        canvas = Canvas(*random_size(rng))
        try:
            question, answer, distractors = _BUILDERS[category](rng, index, canvas)
        except LayoutError:
            continue
        choices = None
        if index % 3 == 2:  # every third row is multiple choice
            choices, answer = as_choices(rng, answer, distractors)
        return {
            "id": f"{category}-{index:03d}",
            "category": category,
            "question": question,
            "answer": answer,
            "choices": choices,
            "image": canvas.png(),
            "objects": canvas.objects,
        }
    raise RuntimeError(f"could not lay out {category} row {index} with seed {seed}")


def generate_sample_rows(seed: int = 0) -> list[dict[str, Any]]:
    """The bundled dataset: ``SAMPLE_SIZE`` rows, the same bytes for the same ``seed``."""
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ValueError(f"seed must be an int, got {type(seed).__name__}")
    per_category = SAMPLE_SIZE // len(CATEGORIES)
    return [_build_row(seed, category, i) for category in CATEGORIES for i in range(per_category)]


def sample_split_rows(split: str, seed: int = 0) -> Iterator[dict[str, Any]]:
    """The rows of ``--dataset sample``: the set has one split, so every ``split`` reads it."""
    del split  # one split: train, test and the rest read the same rows
    return iter(generate_sample_rows(seed))
