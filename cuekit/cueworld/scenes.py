"""CueWorld scenes: small seeded pictures of coloured shapes, some with a printed digit.

A scene is a 96x96 RGB image on a 3x3 grid of 32-px cells. Three to five objects sit in
distinct cells, each a distinct shape (so "the star" names one object), with a colour,
a size (large: about 26 px; small: about 16 px) and, on some large shapes, a printed
digit. Everything drawn is recorded as ground truth: one ``objects`` entry per shape
(label = the shape's name, so the ``annotations`` backend grounds "the star") and one
per digit (label = the digit, kind ``text``), with absolute ``xyxy`` boxes.

Sizes follow the model that must read them: the CueWorld processor cuts 8-px patches
and merges 2x2 of them into one image token, so a cell is 2x2 tokens and a large shape
spans about 3x3 patches, enough to tell its outline apart (the first probe's 12-px
shapes at 48 px were not; docs/method.md §7).
"""

from __future__ import annotations

import io
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from PIL import Image, ImageDraw, ImageFont

IMAGE_SIZE = 96
GRID = 3
CELL = IMAGE_SIZE // GRID
LARGE, SMALL = 26, 16
DIGIT_FONT_SIZE = 17

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "diamond", "cross", "star")
SCENE_COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (215, 40, 40),
    "green": (40, 160, 60),
    "blue": (45, 85, 215),
    "yellow": (235, 200, 30),
    "purple": (140, 60, 180),
    "orange": (240, 135, 25),
}
# Digits are printed in the colour that contrasts with the shape they sit on.
_DARK_COLOURS = frozenset({"red", "green", "blue", "purple"})
# Row and column names; a cell is named "<row> <column>", the centre just "centre".
ROWS = ("top", "middle", "bottom")
COLUMNS = ("left", "centre", "right")
_BACKGROUND = (246, 246, 242)


@dataclass(frozen=True)
class SceneObject:
    """One drawn shape: where it is and what it looks like."""

    shape: str
    colour: str
    size: str  # "large" | "small"
    row: int  # 0..2, top to bottom
    col: int  # 0..2, left to right
    xyxy: tuple[float, float, float, float]
    digit: str | None = None
    digit_xyxy: tuple[float, float, float, float] | None = None

    @property
    def place(self) -> str:
        return cell_name(self.row, self.col)


@dataclass(frozen=True)
class Scene:
    objects: tuple[SceneObject, ...]
    png: bytes

    def by_shape(self, shape: str) -> SceneObject:
        return next(obj for obj in self.objects if obj.shape == shape)

    def at(self, row: int, col: int) -> SceneObject | None:
        return next((o for o in self.objects if (o.row, o.col) == (row, col)), None)

    def annotations(self) -> list[dict[str, object]]:
        """Ground truth for the ``annotations`` backend: shapes by name, digits as text."""
        entries: list[dict[str, object]] = []
        for obj in self.objects:
            entries.append(
                {
                    "label": obj.shape,
                    "kind": "shape",
                    "xyxy": list(obj.xyxy),
                    "colour": obj.colour,
                    "size": obj.size,
                }
            )
            if obj.digit is not None and obj.digit_xyxy is not None:
                entries.append({"label": obj.digit, "kind": "text", "xyxy": list(obj.digit_xyxy)})
        return entries

    def caption(self) -> str:
        """Dense description, row by row: ``top left: large red circle 3. ...``"""
        parts = []
        for obj in sorted(self.objects, key=lambda o: (o.row, o.col)):
            digit = f" {obj.digit}" if obj.digit is not None else ""
            parts.append(f"{obj.place}: {obj.size} {obj.colour} {obj.shape}{digit}.")
        return " ".join(parts)

    def grounding(self) -> str:
        """Where each shape is, shapes in a fixed order: ``circle: top left. star: centre.``"""
        return grounding_text(self.annotations())


def grounding_text(objects: Sequence[Mapping[str, Any]]) -> str:
    """Each shape's cell from ground-truth boxes, listed by shape name rather than by place.

    Captions read the image place by place; this reads it object by object, so a model
    trained on it must find a named shape by what it looks like (content search), the
    skill a real VLM gets from grounding data and the one a location cue stands in for.
    """
    places: dict[str, str] = {}
    for entry in objects:
        if entry.get("kind") != "shape":
            continue
        x0, y0, x1, y1 = (float(v) for v in entry["xyxy"])  # JSON: a list of 4 numbers
        row = min(GRID - 1, int((y0 + y1) / 2 // CELL))
        col = min(GRID - 1, int((x0 + x1) / 2 // CELL))
        places[str(entry["label"])] = cell_name(row, col)
    return " ".join(f"{shape}: {places[shape]}." for shape in SHAPES if shape in places)


def cell_name(row: int, col: int) -> str:
    if (row, col) == (1, 1):
        return "centre"
    return f"{ROWS[row]} {COLUMNS[col]}"


@lru_cache(maxsize=4)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)  # Pillow's bundled TTF: same glyphs everywhere


def _outline(shape: str, cx: float, cy: float, half: float) -> list[tuple[float, float]] | None:
    """Polygon points of ``shape`` centred at (cx, cy); None for the circle."""
    if shape == "circle":
        return None
    if shape == "square":
        h = half * 0.85
        return [(cx - h, cy - h), (cx + h, cy - h), (cx + h, cy + h), (cx - h, cy + h)]
    if shape == "triangle":
        return [(cx, cy - half), (cx + half, cy + half * 0.8), (cx - half, cy + half * 0.8)]
    if shape == "diamond":
        return [(cx, cy - half), (cx + half, cy), (cx, cy + half), (cx - half, cy)]
    if shape == "cross":
        a, b = half, half * 0.38
        return [
            (cx - b, cy - a),
            (cx + b, cy - a),
            (cx + b, cy - b),
            (cx + a, cy - b),
            (cx + a, cy + b),
            (cx + b, cy + b),
            (cx + b, cy + a),
            (cx - b, cy + a),
            (cx - b, cy + b),
            (cx - a, cy + b),
            (cx - a, cy - b),
            (cx - b, cy - b),
        ]
    if shape == "star":
        points = []
        for k in range(10):
            radius = half if k % 2 == 0 else half * 0.45
            angle = -math.pi / 2 + k * math.pi / 5
            points.append((cx + radius * math.cos(angle), cy + radius * math.sin(angle)))
        return points
    raise ValueError(f"unknown shape {shape!r}; expected one of {SHAPES}")


def _draw_shape(
    draw: ImageDraw.ImageDraw, obj_shape: str, colour: str, cx: float, cy: float, half: float
) -> tuple[float, float, float, float]:
    fill = SCENE_COLOURS[colour]
    points = _outline(obj_shape, cx, cy, half)
    if points is None:
        box = (cx - half, cy - half, cx + half, cy + half)
        draw.ellipse(box, fill=fill)
        return box
    draw.polygon(points, fill=fill)
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return (min(xs), min(ys), max(xs), max(ys))


def _draw_digit(
    draw: ImageDraw.ImageDraw, digit: str, colour: str, cx: float, cy: float
) -> tuple[float, float, float, float]:
    font = _font(DIGIT_FONT_SIZE)
    left, top, right, bottom = font.getbbox(digit)
    x = round(cx - (left + right) / 2)
    y = round(cy - (top + bottom) / 2)
    ink = (255, 255, 255) if colour in _DARK_COLOURS else (0, 0, 0)
    draw.text((x, y), digit, font=font, fill=ink)
    return (float(x + left), float(y + top), float(x + right), float(y + bottom))


def draw_scene(
    rng: random.Random, *, min_objects: int = 3, max_objects: int = 5, max_digits: int = 3
) -> Scene:
    """A random scene; the same ``rng`` state gives the same bytes."""
    count = rng.randint(min_objects, max_objects)
    cells = rng.sample([(r, c) for r in range(GRID) for c in range(GRID)], count)
    shapes = rng.sample(SHAPES, count)
    sizes = ["large" if rng.random() < 0.65 else "small" for _ in range(count)]
    large = [i for i, size in enumerate(sizes) if size == "large"]
    digit_holders = set(rng.sample(large, min(len(large), rng.randint(2, max_digits))))
    image = Image.new("RGB", (IMAGE_SIZE, IMAGE_SIZE), _BACKGROUND)
    draw = ImageDraw.Draw(image)
    objects = []
    for i, ((row, col), shape) in enumerate(zip(cells, shapes, strict=True)):
        colour = rng.choice(tuple(SCENE_COLOURS))
        half = (LARGE if sizes[i] == "large" else SMALL) / 2
        cx = col * CELL + CELL / 2 + rng.uniform(-2, 2)
        cy = row * CELL + CELL / 2 + rng.uniform(-2, 2)
        box = _draw_shape(draw, shape, colour, cx, cy, half)
        digit = digit_box = None
        if i in digit_holders:
            digit = str(rng.randrange(10))
            # A triangle's wide part is low: print its digit a little below the centre.
            digit_box = _draw_digit(draw, digit, colour, cx, cy + (3 if shape == "triangle" else 0))
        x0, y0, x1, y1 = box
        objects.append(
            SceneObject(
                shape,
                colour,
                sizes[i],
                row,
                col,
                (round(x0, 1), round(y0, 1), round(x1, 1), round(y1, 1)),
                digit,
                digit_box,
            )
        )
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=6)  # no metadata chunks: stable bytes
    return Scene(tuple(objects), buffer.getvalue())
