"""The drawing surface of the sample generator: a white image that records the ground truth
of everything drawn on it, plus the small geometry helpers the drawers share."""

from __future__ import annotations

import io
import math
import random
from functools import lru_cache
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from cuekit.schemas.boxes import Box

Point = tuple[float, float]
INK = (0, 0, 0)
WHITE = (255, 255, 255)
GAP = 8  # pixels between a label and what it labels
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "blue": (40, 90, 220),
    "green": (40, 160, 60),
    "yellow": (235, 200, 30),
    "purple": (140, 60, 180),
    "orange": (245, 140, 30),
}


class LayoutError(Exception):
    """A random layout put text out of the image or over other text; draw again."""


@lru_cache(maxsize=32)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)  # Pillow's bundled Aileron TTF


class Canvas:
    """A white image plus the ground-truth objects of everything drawn on it."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.image = Image.new("RGB", (width, height), WHITE)
        self.draw = ImageDraw.Draw(self.image)
        self.objects: list[dict[str, Any]] = []
        self._text_boxes: list[Box] = []

    def add(self, label: str, kind: str, box: Box) -> None:
        x1, y1, x2, y2 = box
        clipped = [
            max(0.0, float(x1)),
            max(0.0, float(y1)),
            min(float(self.width), float(x2)),
            min(float(self.height), float(y2)),
        ]
        self.objects.append({"label": label, "kind": kind, "xyxy": clipped})

    def text_size(self, text: str, size: int) -> tuple[float, float]:
        left, top, right, bottom = _font(size).getbbox(text)
        return right - left, bottom - top

    def text(self, center: Point, text: str, size: int, kind: str) -> Box:
        """Draw ``text`` centred on ``center`` at integer pixels; refuse overlaps."""
        font = _font(size)
        left, top, right, bottom = font.getbbox(text)
        x = round(center[0] - (left + right) / 2)
        y = round(center[1] - (top + bottom) / 2)
        box = (float(x + left), float(y + top), float(x + right), float(y + bottom))
        if box[0] < 2 or box[1] < 2 or box[2] > self.width - 2 or box[3] > self.height - 2:
            raise LayoutError(f"{text!r} leaves the image")
        # Keep texts apart by ~half a glyph so that OCR reads them as separate words.
        if any(_boxes_touch(box, other, pad=size / 2) for other in self._text_boxes):
            raise LayoutError(f"{text!r} overlaps other text")
        self.draw.text((x, y), text, font=font, fill=INK)
        self._text_boxes.append(box)
        self.add(text, kind, box)
        return box

    def png(self) -> bytes:
        buffer = io.BytesIO()
        self.image.save(buffer, format="PNG", compress_level=6)  # no metadata chunks
        return buffer.getvalue()


def _boxes_touch(a: Box, b: Box, pad: float) -> bool:
    return a[0] - pad < b[2] and b[0] - pad < a[2] and a[1] - pad < b[3] and b[1] - pad < a[3]


def random_size(rng: random.Random) -> tuple[int, int]:
    width = rng.randrange(520, 801, 4)
    height = max(360, min(600, round(width * rng.uniform(0.62, 0.8))))
    return width, height


def unit_vector(vx: float, vy: float) -> Point:
    norm = math.hypot(vx, vy) or 1.0
    return vx / norm, vy / norm


def half_extent(direction: Point, size: tuple[float, float]) -> float:
    """Half the extent of a w x h box measured along a unit direction."""
    return (abs(direction[0]) * size[0] + abs(direction[1]) * size[1]) / 2


def points_box(points: list[Point], pad: float) -> Box:
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return (min(xs) - pad, min(ys) - pad, max(xs) + pad, max(ys) + pad)
