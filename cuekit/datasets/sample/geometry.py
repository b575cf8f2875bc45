"""Sample ``geometry`` rows: triangles, rectangles and circles with lettered points and
labelled lengths and angles; the answer is computed, never printed."""

from __future__ import annotations

import math
import random

from cuekit.datasets.sample.canvas import (
    GAP,
    INK,
    Canvas,
    Point,
    half_extent,
    points_box,
    unit_vector,
)

_POINT_NAMES = ("ABC", "PQR", "DEF", "XYZ", "KLM")
_RECT_NAMES = ("ABCD", "PQRS", "EFGH", "KLMN")


def _fit(
    points: dict[str, Point], width: int, height: int, margin_x: float, margin_y: float
) -> dict[str, Point]:
    """Scale abstract y-up coordinates into the canvas (y-down), centred."""
    xs, ys = [p[0] for p in points.values()], [p[1] for p in points.values()]
    span_x, span_y = max(xs) - min(xs) or 1.0, max(ys) - min(ys) or 1.0
    scale = min((width - 2 * margin_x) / span_x, (height - 2 * margin_y) / span_y)
    off_x = (width - span_x * scale) / 2 - min(xs) * scale
    off_y = (height - span_y * scale) / 2 + max(ys) * scale
    return {k: (off_x + x * scale, off_y - y * scale) for k, (x, y) in points.items()}


def _draw_figure(
    canvas: Canvas,
    points: dict[str, Point],
    size: int,
    edges: dict[str, str],
    angles: dict[str, str],
    right_angle: str | None,
) -> None:
    """Draw a polygon whose vertices are ``points`` (in order) with all its labels.

    ``edges`` maps a two-letter edge name to its length label, ``angles`` maps a vertex
    to its angle label, ``right_angle`` names a vertex that gets a square mark.
    """
    names = list(points)
    # Labels beside a near-vertical edge ("12 cm") need more room than those above or below.
    pix = _fit(points, canvas.width, canvas.height, margin_x=3.4 * size, margin_y=2.2 * size)
    centroid = (
        sum(p[0] for p in pix.values()) / len(pix),
        sum(p[1] for p in pix.values()) / len(pix),
    )
    outline = [pix[n] for n in names]
    canvas.draw.polygon(outline, outline=INK, width=3)
    kind_name = "triangle" if len(names) == 3 else "rectangle"
    canvas.add(f"{kind_name} {''.join(names)}", "polygon", points_box(outline, 2))
    for name in names:
        _draw_point(
            canvas,
            name,
            pix[name],
            unit_vector(pix[name][0] - centroid[0], pix[name][1] - centroid[1]),
            size,
        )
    for edge, text in edges.items():
        p, q = pix[edge[0]], pix[edge[1]]
        mid = ((p[0] + q[0]) / 2, (p[1] + q[1]) / 2)
        normal = unit_vector(q[1] - p[1], p[0] - q[0])
        if normal[0] * (mid[0] - centroid[0]) + normal[1] * (mid[1] - centroid[1]) < 0:
            normal = (-normal[0], -normal[1])  # point away from the figure
        dist = GAP + half_extent(normal, canvas.text_size(text, size))
        canvas.text(
            (mid[0] + normal[0] * dist, mid[1] + normal[1] * dist), text, size, "length_label"
        )
    for vertex, text in angles.items():
        _draw_angle(canvas, vertex, pix, text, size)
    if right_angle is not None:
        _draw_right_angle(canvas, right_angle, pix)


def _neighbours(vertex: str, pix: dict[str, Point]) -> tuple[Point, Point, Point]:
    names = list(pix)
    i = names.index(vertex)
    return pix[vertex], pix[names[i - 1]], pix[names[(i + 1) % len(names)]]


def _draw_point(canvas: Canvas, name: str, at: Point, outward: Point, size: int) -> None:
    canvas.draw.ellipse((at[0] - 4, at[1] - 4, at[0] + 4, at[1] + 4), fill=INK)
    canvas.add(name, "point", (at[0] - 4, at[1] - 4, at[0] + 4, at[1] + 4))
    dist = GAP + 4 + half_extent(outward, canvas.text_size(name, size))
    canvas.text((at[0] + outward[0] * dist, at[1] + outward[1] * dist), name, size, "point_label")


def _draw_angle(canvas: Canvas, vertex: str, pix: dict[str, Point], text: str, size: int) -> None:
    at, prev, nxt = _neighbours(vertex, pix)
    u = unit_vector(prev[0] - at[0], prev[1] - at[1])
    v = unit_vector(nxt[0] - at[0], nxt[1] - at[1])
    bisector = unit_vector(u[0] + v[0], u[1] + v[1])
    half_angle = math.acos(max(-1.0, min(1.0, u[0] * v[0] + u[1] * v[1]))) / 2
    w, h = canvas.text_size(text, size)
    radius = 24.0  # of the angle arc
    # Far enough along the bisector that the label's circumscribed circle clears both
    # sides and the arc.
    dist = max((math.hypot(w, h) / 2 + 6) / math.sin(half_angle), radius + math.hypot(w, h) / 2 + 6)
    canvas.text((at[0] + bisector[0] * dist, at[1] + bisector[1] * dist), text, size, "angle_label")
    start, end = math.atan2(u[1], u[0]), math.atan2(v[1], v[0])
    sweep = (end - start) % (2 * math.pi)
    if sweep > math.pi:  # draw the interior angle, which is below 180 degrees
        start, sweep = end, 2 * math.pi - sweep
    arc = [
        (
            at[0] + radius * math.cos(start + sweep * t / 16),
            at[1] + radius * math.sin(start + sweep * t / 16),
        )
        for t in range(17)
    ]
    canvas.draw.line(arc, fill=INK, width=2)
    canvas.add(f"angle {vertex}", "angle_mark", points_box(arc, 1))


def _draw_right_angle(canvas: Canvas, vertex: str, pix: dict[str, Point]) -> None:
    at, prev, nxt = _neighbours(vertex, pix)
    u = unit_vector(prev[0] - at[0], prev[1] - at[1])
    v = unit_vector(nxt[0] - at[0], nxt[1] - at[1])
    side = 16
    corner = [
        (at[0] + u[0] * side, at[1] + u[1] * side),
        (at[0] + (u[0] + v[0]) * side, at[1] + (u[1] + v[1]) * side),
        (at[0] + v[0] * side, at[1] + v[1] * side),
    ]
    canvas.draw.line(corner, fill=INK, width=2)
    canvas.add(f"right angle {vertex}", "right_angle_mark", points_box([at, *corner], 1))


def draw_geometry(rng: random.Random, index: int, canvas: Canvas) -> tuple[str, str]:
    """Draw one geometry figure; returns (question, numeric answer)."""
    size = rng.randint(22, 30)
    kind = ("right", "angle_sum", "isosceles", "perimeter", "rectangle", "circle")[index % 6]
    a, b, c = tuple(rng.choice(_POINT_NAMES))
    unit = rng.choice(("", "", " cm"))
    if kind == "right":
        leg1, leg2, hyp = rng.choice(
            ((3, 4, 5), (6, 8, 10), (5, 12, 13), (8, 15, 17), (9, 12, 15), (12, 16, 20))
        )
        flip = rng.choice((1, -1))
        pts = {a: (0.0, float(leg1)), b: (0.0, 0.0), c: (flip * float(leg2), 0.0)}
        _draw_figure(
            canvas, pts, size, {a + b: f"{leg1}{unit}", b + c: f"{leg2}{unit}"}, {}, right_angle=b
        )
        return (
            f"In triangle {a}{b}{c}, angle {b} is a right angle. What is the length of {a}{c}?",
            str(hyp),
        )
    if kind == "angle_sum":
        while True:
            alpha, beta = rng.randrange(30, 85, 5), rng.randrange(30, 85, 5)
            gamma = 180 - alpha - beta
            if gamma >= 25 and len({alpha, beta, gamma}) == 3:
                break
        side = math.sin(math.radians(beta)) / math.sin(math.radians(gamma))
        apex = (side * math.cos(math.radians(alpha)), side * math.sin(math.radians(alpha)))
        pts = {a: (0.0, 0.0), b: (1.0, 0.0), c: apex}
        _draw_figure(canvas, pts, size, {}, {a: f"{alpha}°", b: f"{beta}°"}, None)
        return f"In triangle {a}{b}{c}, what is the measure of angle {c} in degrees?", str(gamma)
    if kind == "isosceles":
        apex_angle = rng.choice((40, 50, 70, 80, 90, 100))
        half_base = math.tan(math.radians(apex_angle / 2))
        pts = {a: (0.0, 1.0), b: (-half_base, 0.0), c: (half_base, 0.0)}
        _draw_figure(canvas, pts, size, {}, {a: f"{apex_angle}°"}, None)
        return (
            f"In triangle {a}{b}{c}, {a}{b} = {a}{c}. What is the measure of angle {b} in degrees?",
            str((180 - apex_angle) // 2),
        )
    if kind == "perimeter":
        while True:
            s_ab, s_bc, s_ca = rng.randint(4, 12), rng.randint(4, 12), rng.randint(4, 12)
            if max(s_ab, s_bc, s_ca) * 2 < s_ab + s_bc + s_ca - 2:  # well-shaped triangle
                break
        cos_a = (s_ab**2 + s_ca**2 - s_bc**2) / (2 * s_ab * s_ca)
        angle_a = math.acos(cos_a)
        pts = {
            a: (0.0, 0.0),
            b: (float(s_ab), 0.0),
            c: (s_ca * math.cos(angle_a), s_ca * math.sin(angle_a)),
        }
        labels = {a + b: f"{s_ab}{unit}", b + c: f"{s_bc}{unit}", c + a: f"{s_ca}{unit}"}
        _draw_figure(canvas, pts, size, labels, {}, None)
        return f"What is the perimeter of triangle {a}{b}{c}?", str(s_ab + s_bc + s_ca)
    if kind == "rectangle":
        p, q, r, s = tuple(rng.choice(_RECT_NAMES))
        width, height = rng.sample(range(3, 13), 2)
        pts = {
            p: (0.0, float(height)),
            q: (float(width), float(height)),
            r: (float(width), 0.0),
            s: (0.0, 0.0),
        }
        _draw_figure(
            canvas, pts, size, {p + q: f"{width}{unit}", q + r: f"{height}{unit}"}, {}, None
        )
        if rng.random() < 0.5:
            return f"{p}{q}{r}{s} is a rectangle. What is its area?", str(width * height)
        return f"{p}{q}{r}{s} is a rectangle. What is its perimeter?", str(2 * (width + height))
    return _circle(rng, canvas, size, unit)


def _circle(rng: random.Random, canvas: Canvas, size: int, unit: str) -> tuple[str, str]:
    radius_value = rng.randint(2, 15)
    center = (canvas.width / 2, canvas.height / 2)
    radius = min(canvas.width, canvas.height) / 2 - 2.6 * size
    theta = math.radians(rng.choice((20, 35, 150, 200, 320, 340)))
    on_circle = (center[0] + radius * math.cos(theta), center[1] - radius * math.sin(theta))
    canvas.draw.ellipse(
        (center[0] - radius, center[1] - radius, center[0] + radius, center[1] + radius),
        outline=INK,
        width=3,
    )
    canvas.add(
        "circle O",
        "circle",
        (
            center[0] - radius - 2,
            center[1] - radius - 2,
            center[0] + radius + 2,
            center[1] + radius + 2,
        ),
    )
    canvas.draw.line((center, on_circle), fill=INK, width=3)
    canvas.add("OA", "segment", points_box([center, on_circle], 2))
    radial = unit_vector(on_circle[0] - center[0], on_circle[1] - center[1])
    _draw_point(canvas, "O", center, (-radial[0], -radial[1]), size)
    _draw_point(canvas, "A", on_circle, radial, size)
    mid = ((center[0] + on_circle[0]) / 2, (center[1] + on_circle[1]) / 2)
    normal = (-radial[1], radial[0])
    text = f"{radius_value}{unit}"
    dist = GAP + half_extent(normal, canvas.text_size(text, size))
    canvas.text((mid[0] + normal[0] * dist, mid[1] + normal[1] * dist), text, size, "length_label")
    if rng.random() < 0.5:
        return (
            "O is the centre of the circle and A lies on the circle. "
            "What is the diameter of the circle?",
            str(2 * radius_value),
        )
    circumference = f"{2 * 3.14 * radius_value:.2f}".rstrip("0").rstrip(".")
    return (
        "O is the centre of the circle and A lies on the circle. What is the circumference "
        "of the circle? Use 3.14 for pi.",
        circumference,
    )
