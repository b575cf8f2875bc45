"""Coarse positions and pairwise relations on hand-built boxes."""

from __future__ import annotations

import math

import pytest

from cuekit.cues.layout import (
    POSITIONS,
    box_gap,
    coarse_position,
    direction,
    is_inside,
    is_near,
    relation,
)


@pytest.mark.parametrize(
    ("cx", "cy", "expected"),
    [
        (50, 40, "top left"),
        (300, 40, "top"),
        (550, 40, "top right"),
        (50, 100, "left"),
        (300, 100, "center"),
        (550, 100, "right"),
        (50, 180, "bottom left"),
        (300, 180, "bottom"),
        (550, 180, "bottom right"),
    ],
)
def test_coarse_position_on_a_wide_image(cx: float, cy: float, expected: str) -> None:
    # 600x200: thirds are 200 px wide and about 67 px tall.
    box = (cx - 5, cy - 5, cx + 5, cy + 5)
    assert coarse_position(box, 600, 200) == expected
    assert expected in POSITIONS


def test_coarse_position_uses_each_axis_of_a_non_square_image() -> None:
    # Center (250, 150). On 300x900 it is in the right third across, top third down;
    # on 900x300 it is in the left third across, middle third down.
    assert coarse_position((240, 140, 260, 160), 300, 900) == "top right"
    assert coarse_position((240, 140, 260, 160), 900, 300) == "left"


def test_coarse_position_clamps_boxes_on_the_far_edge() -> None:
    assert coarse_position((590, 190, 600, 200), 600, 200) == "bottom right"
    assert coarse_position((0, 0, 0, 0), 600, 200) == "top left"


def test_bad_sizes_and_boxes_raise() -> None:
    with pytest.raises(ValueError, match="image size must be positive, got width=0, height=5"):
        coarse_position((0, 0, 1, 1), 0, 5)
    with pytest.raises(ValueError, match=r"expected x1<=x2 and y1<=y2, got \[5.0, 0.0, 1.0, 1.0\]"):
        coarse_position((5, 0, 1, 1), 10, 10)
    with pytest.raises(ValueError, match="expected a box"):
        box_gap((0, 0, 1), (0, 0, 1, 1))


def test_direction_follows_the_dominant_axis() -> None:
    a, b = (0, 0, 10, 10), (100, 20, 110, 30)
    assert direction(a, b) == "left of"
    assert direction(b, a) == "right of"
    c = (20, 200, 30, 210)
    assert direction(a, c) == "above"
    assert direction(c, a) == "below"
    assert direction(a, a) is None


def test_box_gap_is_the_euclidean_distance_between_rectangles() -> None:
    assert box_gap((0, 0, 10, 10), (13, 14, 20, 20)) == pytest.approx(5.0)
    assert box_gap((0, 0, 10, 10), (5, 5, 20, 20)) == 0.0
    assert box_gap((0, 0, 10, 10), (10, 0, 20, 10)) == 0.0
    assert box_gap((0, 0, 10, 10), (30, 2, 40, 8)) == pytest.approx(20.0)


def test_is_inside_needs_cover_and_a_smaller_box() -> None:
    outer = (0, 0, 100, 100)
    assert is_inside((10, 10, 20, 20), outer)
    assert not is_inside(outer, (10, 10, 20, 20))
    assert not is_inside(outer, outer)
    # 95% covered counts, 50% does not.
    assert is_inside((-1, 0, 19, 10), outer)
    assert not is_inside((-10, 0, 10, 10), outer)
    assert not is_inside((10, 10, 10, 20), outer)  # zero area


def test_is_near_scales_with_the_image_diagonal() -> None:
    a, b = (0, 0, 10, 10), (60, 0, 70, 10)  # gap 50 px
    assert is_near(a, b, 300, 400)  # diagonal 500: 50 <= 0.1 * 500
    assert not is_near(a, b, 240, 320)  # diagonal 400: 50 > 40
    assert is_near(a, b, 240, 320, max_gap=0.125)
    assert math.isclose(0.1 * math.hypot(300, 400), 50.0)


def test_relation_prefers_inside_over_direction() -> None:
    triangle = (100, 100, 300, 300)
    label = (150, 120, 170, 140)
    assert relation(label, triangle, 400, 400) == "inside"
    assert relation(triangle, label, 400, 400) == "below"
    assert relation((0, 0, 10, 10), (50, 0, 60, 10), 400, 400) == "left of"
