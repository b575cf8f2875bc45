"""Box conversions between absolute pixels and Qwen3-VL's 0-1000 integers."""

from __future__ import annotations

from collections.abc import Sequence

Box = tuple[float, float, float, float]
Box1000 = tuple[int, int, int, int]


def _check_size(width: int, height: int) -> None:
    if width <= 0 or height <= 0:
        raise ValueError(f"image size must be positive, got width={width}, height={height}")


def clip_xyxy(xyxy: Sequence[float], width: int, height: int) -> Box:
    """Clip a box to the image and order its corners."""
    _check_size(width, height)
    x1, y1, x2, y2 = (float(v) for v in xyxy)
    x1, x2 = sorted((min(max(x1, 0.0), width), min(max(x2, 0.0), width)))
    y1, y2 = sorted((min(max(y1, 0.0), height), min(max(y2, 0.0), height)))
    return (x1, y1, x2, y2)


def xyxy_to_1000(xyxy: Sequence[float], width: int, height: int) -> Box1000:
    """Absolute xyxy on a ``width``x``height`` image -> integers in [0, 1000]."""
    x1, y1, x2, y2 = clip_xyxy(xyxy, width, height)
    return (
        round(x1 / width * 1000),
        round(y1 / height * 1000),
        round(x2 / width * 1000),
        round(y2 / height * 1000),
    )


def xyxy_from_1000(box: Sequence[int], width: int, height: int) -> Box:
    """Integers in [0, 1000] -> absolute xyxy; inverse of :func:`xyxy_to_1000` up to rounding."""
    _check_size(width, height)
    if len(box) != 4:
        raise ValueError(f"expected 4 values, got {len(box)}")
    x1, y1, x2, y2 = (min(max(int(v), 0), 1000) for v in box)
    return (x1 * width / 1000, y1 * height / 1000, x2 * width / 1000, y2 * height / 1000)
