"""Coarse positions of boxes in their image and relations between boxes.

Pure functions on absolute ``(x1, y1, x2, y2)`` boxes plus the image size. Cues use
these words instead of coordinates, so the ``hint`` style stays free of numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = [
    "POSITIONS",
    "RELATIONS",
    "box_center",
    "box_gap",
    "coarse_position",
    "direction",
    "is_inside",
    "is_near",
    "relation",
]

# The 3x3 grid, row by row; the middle row and column drop their word.
POSITIONS: tuple[str, ...] = (
    "top left",
    "top",
    "top right",
    "left",
    "center",
    "right",
    "bottom left",
    "bottom",
    "bottom right",
)
RELATIONS: tuple[str, ...] = ("inside", "near", "left of", "right of", "above", "below")

_ROWS = ("top", "", "bottom")
_COLUMNS = ("left", "", "right")


def _check_box(xyxy: Sequence[float]) -> tuple[float, float, float, float]:
    if len(xyxy) != 4:
        raise ValueError(f"expected a box (x1, y1, x2, y2), got {len(xyxy)} values")
    x1, y1, x2, y2 = (float(v) for v in xyxy)
    if x2 < x1 or y2 < y1:
        raise ValueError(f"expected x1<=x2 and y1<=y2, got {[x1, y1, x2, y2]}")
    return x1, y1, x2, y2


def _check_size(width: int, height: int) -> None:
    if width <= 0 or height <= 0:
        raise ValueError(f"image size must be positive, got width={width}, height={height}")


def box_center(xyxy: Sequence[float]) -> tuple[float, float]:
    x1, y1, x2, y2 = _check_box(xyxy)
    return (x1 + x2) / 2, (y1 + y2) / 2


def _third(value: float, extent: int) -> int:
    """0, 1 or 2: which third of ``[0, extent]`` holds ``value`` (edges clamp)."""
    return min(max(int(3 * value / extent), 0), 2)


def coarse_position(xyxy: Sequence[float], width: int, height: int) -> str:
    """Where the box's center lies on a 3x3 grid: "top left", "top", ..., "bottom right"."""
    _check_size(width, height)
    cx, cy = box_center(xyxy)
    row, column = _ROWS[_third(cy, height)], _COLUMNS[_third(cx, width)]
    return " ".join(w for w in (row, column) if w) or "center"


def box_gap(a: Sequence[float], b: Sequence[float]) -> float:
    """Shortest distance between two boxes in pixels; 0 when they touch or overlap."""
    ax1, ay1, ax2, ay2 = _check_box(a)
    bx1, by1, bx2, by2 = _check_box(b)
    dx = max(bx1 - ax2, ax1 - bx2, 0.0)
    dy = max(by1 - ay2, ay1 - by2, 0.0)
    return math.hypot(dx, dy)


def is_inside(inner: Sequence[float], outer: Sequence[float], *, min_cover: float = 0.9) -> bool:
    """True when at least ``min_cover`` of ``inner``'s area lies in ``outer``, and
    ``inner`` is the smaller box (two equal boxes are not "inside" each other)."""
    ix1, iy1, ix2, iy2 = _check_box(inner)
    ox1, oy1, ox2, oy2 = _check_box(outer)
    inner_area = (ix2 - ix1) * (iy2 - iy1)
    outer_area = (ox2 - ox1) * (oy2 - oy1)
    if inner_area <= 0 or inner_area >= outer_area:
        return False
    overlap_w = max(min(ix2, ox2) - max(ix1, ox1), 0.0)
    overlap_h = max(min(iy2, oy2) - max(iy1, oy1), 0.0)
    return overlap_w * overlap_h >= min_cover * inner_area


def is_near(
    a: Sequence[float], b: Sequence[float], width: int, height: int, *, max_gap: float = 0.1
) -> bool:
    """True when the gap between the boxes is at most ``max_gap`` of the image diagonal."""
    _check_size(width, height)
    return box_gap(a, b) <= max_gap * math.hypot(width, height)


def direction(a: Sequence[float], b: Sequence[float]) -> str | None:
    """Where ``a`` lies relative to ``b``: "left of", "right of", "above" or "below".

    Decided by the centers along the axis where they differ most (image y grows
    downward); None when the centers coincide.
    """
    acx, acy = box_center(a)
    bcx, bcy = box_center(b)
    dx, dy = acx - bcx, acy - bcy
    if dx == 0 and dy == 0:
        return None
    if abs(dx) >= abs(dy):
        return "left of" if dx < 0 else "right of"
    return "above" if dy < 0 else "below"


def relation(a: Sequence[float], b: Sequence[float], width: int, height: int) -> str | None:
    """The most telling relation of ``a`` to ``b``: "inside" when ``a`` lies within
    ``b``, else its direction ("left of", "right of", "above", "below")."""
    _check_size(width, height)
    if is_inside(a, b):
        return "inside"
    return direction(a, b)
