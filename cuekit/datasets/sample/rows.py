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

import io
import math
import random
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from PIL import Image, ImageDraw, ImageFont

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
    "polygon", "circle", "segment", "point", "angle_mark", "right_angle_mark",
    "axis", "bar", "line", "marker", "shape",
)

Point = tuple[float, float]
Box = tuple[float, float, float, float]
_INK = (0, 0, 0)
_WHITE = (255, 255, 255)
_GAP = 8  # pixels between a label and what it labels
_COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40), "blue": (40, 90, 220), "green": (40, 160, 60),
    "yellow": (235, 200, 30), "purple": (140, 60, 180), "orange": (245, 140, 30),
}
_SHAPE_KINDS = ("circle", "square", "triangle")
_POINT_NAMES = ("ABC", "PQR", "DEF", "XYZ", "KLM")
_RECT_NAMES = ("ABCD", "PQRS", "EFGH", "KLMN")


class _LayoutError(Exception):
    """A random layout put text out of the image or over other text; draw again."""


@lru_cache(maxsize=32)
def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)  # Pillow's bundled Aileron TTF


class _Canvas:
    """A white image plus the ground-truth objects of everything drawn on it."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.image = Image.new("RGB", (width, height), _WHITE)
        self.draw = ImageDraw.Draw(self.image)
        self.objects: list[dict[str, Any]] = []
        self._text_boxes: list[Box] = []

    def add(self, label: str, kind: str, box: Box) -> None:
        x1, y1, x2, y2 = box
        clipped = [max(0.0, float(x1)), max(0.0, float(y1)),
                   min(float(self.width), float(x2)), min(float(self.height), float(y2))]
        self.objects.append({"label": label, "kind": kind, "xyxy": clipped})

    def text_size(self, text: str, size: int) -> tuple[int, int]:
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
            raise _LayoutError(f"{text!r} leaves the image")
        # Keep texts apart by ~half a glyph so that OCR reads them as separate words.
        if any(_boxes_touch(box, other, pad=size / 2) for other in self._text_boxes):
            raise _LayoutError(f"{text!r} overlaps other text")
        self.draw.text((x, y), text, font=font, fill=_INK)
        self._text_boxes.append(box)
        self.add(text, kind, box)
        return box

    def png(self) -> bytes:
        buffer = io.BytesIO()
        self.image.save(buffer, format="PNG", compress_level=6)  # no metadata chunks
        return buffer.getvalue()


def _boxes_touch(a: Box, b: Box, pad: float) -> bool:
    return a[0] - pad < b[2] and b[0] - pad < a[2] and a[1] - pad < b[3] and b[1] - pad < a[3]


def _random_size(rng: random.Random) -> tuple[int, int]:
    width = rng.randrange(520, 801, 4)
    height = max(360, min(600, round(width * rng.uniform(0.62, 0.8))))
    return width, height


def _unit(vx: float, vy: float) -> Point:
    norm = math.hypot(vx, vy) or 1.0
    return vx / norm, vy / norm


def _half_extent(direction: Point, size: tuple[int, int]) -> float:
    """Half the extent of a w x h box measured along a unit direction."""
    return (abs(direction[0]) * size[0] + abs(direction[1]) * size[1]) / 2


def _points_box(points: list[Point], pad: float) -> Box:
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return (min(xs) - pad, min(ys) - pad, max(xs) + pad, max(ys) + pad)


# ---------------------------------------------------------------- multiple choice


def _as_choices(rng: random.Random, answer: str, distractors: list[str]) -> tuple[list[str], str]:
    """Four options (fewer if the pool is small) holding the answer; returns (choices, letter)."""
    pool = sorted({d for d in distractors if d != answer})
    options = [answer, *rng.sample(pool, min(3, len(pool)))]
    rng.shuffle(options)
    return options, "ABCD"[options.index(answer)]


def _number_distractors(value: float) -> list[str]:
    step = max(1, round(abs(value) * 0.2))
    return [f"{value + k * step:g}" for k in (-3, -2, -1, 1, 2, 3) if value + k * step > 0]


# ---------------------------------------------------------------- geometry


def _fit(points: dict[str, Point], width: int, height: int, margin_x: float,
         margin_y: float) -> dict[str, Point]:
    """Scale abstract y-up coordinates into the canvas (y-down), centred."""
    xs, ys = [p[0] for p in points.values()], [p[1] for p in points.values()]
    span_x, span_y = max(xs) - min(xs) or 1.0, max(ys) - min(ys) or 1.0
    scale = min((width - 2 * margin_x) / span_x, (height - 2 * margin_y) / span_y)
    off_x = (width - span_x * scale) / 2 - min(xs) * scale
    off_y = (height - span_y * scale) / 2 + max(ys) * scale
    return {k: (off_x + x * scale, off_y - y * scale) for k, (x, y) in points.items()}


def _draw_figure(canvas: _Canvas, points: dict[str, Point], size: int,
                 edges: dict[str, str], angles: dict[str, str], right_angle: str | None) -> None:
    """Draw a polygon whose vertices are ``points`` (in order) with all its labels.

    ``edges`` maps a two-letter edge name to its length label, ``angles`` maps a vertex
    to its angle label, ``right_angle`` names a vertex that gets a square mark.
    """
    names = list(points)
    # Labels beside a near-vertical edge ("12 cm") need more room than those above or below.
    pix = _fit(points, canvas.width, canvas.height, margin_x=3.4 * size, margin_y=2.2 * size)
    centroid = (sum(p[0] for p in pix.values()) / len(pix),
                sum(p[1] for p in pix.values()) / len(pix))
    outline = [pix[n] for n in names]
    canvas.draw.polygon(outline, outline=_INK, width=3)
    kind_name = "triangle" if len(names) == 3 else "rectangle"
    canvas.add(f"{kind_name} {''.join(names)}", "polygon", _points_box(outline, 2))
    for name in names:
        _draw_point(canvas, name, pix[name], _unit(pix[name][0] - centroid[0],
                                                   pix[name][1] - centroid[1]), size)
    for edge, text in edges.items():
        p, q = pix[edge[0]], pix[edge[1]]
        mid = ((p[0] + q[0]) / 2, (p[1] + q[1]) / 2)
        normal = _unit(q[1] - p[1], p[0] - q[0])
        if normal[0] * (mid[0] - centroid[0]) + normal[1] * (mid[1] - centroid[1]) < 0:
            normal = (-normal[0], -normal[1])  # point away from the figure
        dist = _GAP + _half_extent(normal, canvas.text_size(text, size))
        canvas.text((mid[0] + normal[0] * dist, mid[1] + normal[1] * dist), text, size,
                    "length_label")
    for vertex, text in angles.items():
        _draw_angle(canvas, vertex, pix, text, size)
    if right_angle is not None:
        _draw_right_angle(canvas, right_angle, pix)


def _neighbours(vertex: str, pix: dict[str, Point]) -> tuple[Point, Point, Point]:
    names = list(pix)
    i = names.index(vertex)
    return pix[vertex], pix[names[i - 1]], pix[names[(i + 1) % len(names)]]


def _draw_point(canvas: _Canvas, name: str, at: Point, outward: Point, size: int) -> None:
    canvas.draw.ellipse((at[0] - 4, at[1] - 4, at[0] + 4, at[1] + 4), fill=_INK)
    canvas.add(name, "point", (at[0] - 4, at[1] - 4, at[0] + 4, at[1] + 4))
    dist = _GAP + 4 + _half_extent(outward, canvas.text_size(name, size))
    canvas.text((at[0] + outward[0] * dist, at[1] + outward[1] * dist), name, size, "point_label")


def _draw_angle(canvas: _Canvas, vertex: str, pix: dict[str, Point], text: str, size: int) -> None:
    at, prev, nxt = _neighbours(vertex, pix)
    u, v = _unit(prev[0] - at[0], prev[1] - at[1]), _unit(nxt[0] - at[0], nxt[1] - at[1])
    bisector = _unit(u[0] + v[0], u[1] + v[1])
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
    arc = [(at[0] + radius * math.cos(start + sweep * t / 16),
            at[1] + radius * math.sin(start + sweep * t / 16)) for t in range(17)]
    canvas.draw.line(arc, fill=_INK, width=2)
    canvas.add(f"angle {vertex}", "angle_mark", _points_box(arc, 1))


def _draw_right_angle(canvas: _Canvas, vertex: str, pix: dict[str, Point]) -> None:
    at, prev, nxt = _neighbours(vertex, pix)
    u, v = _unit(prev[0] - at[0], prev[1] - at[1]), _unit(nxt[0] - at[0], nxt[1] - at[1])
    side = 16
    corner = [(at[0] + u[0] * side, at[1] + u[1] * side),
              (at[0] + (u[0] + v[0]) * side, at[1] + (u[1] + v[1]) * side),
              (at[0] + v[0] * side, at[1] + v[1] * side)]
    canvas.draw.line(corner, fill=_INK, width=2)
    canvas.add(f"right angle {vertex}", "right_angle_mark", _points_box([at, *corner], 1))


def _geometry(rng: random.Random, index: int, canvas: _Canvas) -> tuple[str, str]:
    """Draw one geometry figure; returns (question, numeric answer)."""
    size = rng.randint(22, 30)
    kind = ("right", "angle_sum", "isosceles", "perimeter", "rectangle", "circle")[index % 6]
    a, b, c = rng.choice(_POINT_NAMES)
    unit = rng.choice(("", "", " cm"))
    if kind == "right":
        leg1, leg2, hyp = rng.choice(((3, 4, 5), (6, 8, 10), (5, 12, 13), (8, 15, 17),
                                      (9, 12, 15), (12, 16, 20)))
        flip = rng.choice((1, -1))
        pts = {a: (0.0, float(leg1)), b: (0.0, 0.0), c: (flip * float(leg2), 0.0)}
        _draw_figure(canvas, pts, size, {a + b: f"{leg1}{unit}", b + c: f"{leg2}{unit}"},
                     {}, right_angle=b)
        return (f"In triangle {a}{b}{c}, angle {b} is a right angle. "
                f"What is the length of {a}{c}?", str(hyp))
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
        return (f"In triangle {a}{b}{c}, {a}{b} = {a}{c}. "
                f"What is the measure of angle {b} in degrees?", str((180 - apex_angle) // 2))
    if kind == "perimeter":
        while True:
            s_ab, s_bc, s_ca = rng.randint(4, 12), rng.randint(4, 12), rng.randint(4, 12)
            if max(s_ab, s_bc, s_ca) * 2 < s_ab + s_bc + s_ca - 2:  # well-shaped triangle
                break
        cos_a = (s_ab**2 + s_ca**2 - s_bc**2) / (2 * s_ab * s_ca)
        angle_a = math.acos(cos_a)
        pts = {a: (0.0, 0.0), b: (float(s_ab), 0.0),
               c: (s_ca * math.cos(angle_a), s_ca * math.sin(angle_a))}
        labels = {a + b: f"{s_ab}{unit}", b + c: f"{s_bc}{unit}", c + a: f"{s_ca}{unit}"}
        _draw_figure(canvas, pts, size, labels, {}, None)
        return f"What is the perimeter of triangle {a}{b}{c}?", str(s_ab + s_bc + s_ca)
    if kind == "rectangle":
        p, q, r, s = rng.choice(_RECT_NAMES)
        width, height = rng.sample(range(3, 13), 2)
        pts = {p: (0.0, float(height)), q: (float(width), float(height)),
               r: (float(width), 0.0), s: (0.0, 0.0)}
        _draw_figure(canvas, pts, size, {p + q: f"{width}{unit}", q + r: f"{height}{unit}"},
                     {}, None)
        if rng.random() < 0.5:
            return f"{p}{q}{r}{s} is a rectangle. What is its area?", str(width * height)
        return f"{p}{q}{r}{s} is a rectangle. What is its perimeter?", str(2 * (width + height))
    return _circle(rng, canvas, size, unit)


def _circle(rng: random.Random, canvas: _Canvas, size: int, unit: str) -> tuple[str, str]:
    radius_value = rng.randint(2, 15)
    center = (canvas.width / 2, canvas.height / 2)
    radius = min(canvas.width, canvas.height) / 2 - 2.6 * size
    theta = math.radians(rng.choice((20, 35, 150, 200, 320, 340)))
    on_circle = (center[0] + radius * math.cos(theta), center[1] - radius * math.sin(theta))
    canvas.draw.ellipse((center[0] - radius, center[1] - radius, center[0] + radius,
                         center[1] + radius), outline=_INK, width=3)
    canvas.add("circle O", "circle", (center[0] - radius - 2, center[1] - radius - 2,
                                      center[0] + radius + 2, center[1] + radius + 2))
    canvas.draw.line((center, on_circle), fill=_INK, width=3)
    canvas.add("OA", "segment", _points_box([center, on_circle], 2))
    radial = _unit(on_circle[0] - center[0], on_circle[1] - center[1])
    _draw_point(canvas, "O", center, (-radial[0], -radial[1]), size)
    _draw_point(canvas, "A", on_circle, radial, size)
    mid = ((center[0] + on_circle[0]) / 2, (center[1] + on_circle[1]) / 2)
    normal = (-radial[1], radial[0])
    text = f"{radius_value}{unit}"
    dist = _GAP + _half_extent(normal, canvas.text_size(text, size))
    canvas.text((mid[0] + normal[0] * dist, mid[1] + normal[1] * dist), text, size, "length_label")
    if rng.random() < 0.5:
        return ("O is the centre of the circle and A lies on the circle. "
                "What is the diameter of the circle?", str(2 * radius_value))
    circumference = f"{2 * 3.14 * radius_value:.2f}".rstrip("0").rstrip(".")
    return ("O is the centre of the circle and A lies on the circle. What is the circumference "
            "of the circle? Use 3.14 for pi.", circumference)


# ---------------------------------------------------------------- charts

# (x-axis title, y-axis title, what the y axis measures, x positions)
_BAR_TOPICS = (
    ("Fruit", "Sales", "sales", ("Apple", "Pear", "Plum", "Fig", "Kiwi", "Lime")),
    ("Pet", "Votes", "votes", ("Cat", "Dog", "Fish", "Bird", "Frog")),
    ("Sport", "Players", "players", ("Golf", "Judo", "Polo", "Ski", "Swim")),
)
_LINE_TOPICS = (
    ("Year", "Visitors", "the number of visitors",
     ("2018", "2019", "2020", "2021", "2022", "2023")),
    ("Month", "Rainfall", "the rainfall", ("Jan", "Feb", "Mar", "Apr", "May", "Jun")),
    ("Day", "Orders", "the number of orders", ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat")),
)


def _chart(rng: random.Random, index: int, canvas: _Canvas) -> tuple[str, str, list[str]]:
    """Draw a bar (even index) or line chart; returns (question, answer, distractors)."""
    size = rng.randint(22, 26)
    is_bar = index % 2 == 0
    x_title, y_title, measure, names = rng.choice(_BAR_TOPICS if is_bar else _LINE_TOPICS)
    count = rng.randint(3, 5) if is_bar else rng.randint(4, 6)
    names = rng.sample(names, count) if is_bar else list(names[:count])
    y_max = rng.choice((40, 50, 60))
    while True:
        values = [rng.randrange(5, y_max + 1, 5) for _ in names]
        if values.count(max(values)) == 1 and len(set(values)) > 2:
            break
    left, right = 2.6 * size + 12, canvas.width - 24
    top, bottom = 2.4 * size, canvas.height - 3.4 * size

    def y_of(value: float) -> float:
        return bottom - (bottom - top) * value / y_max

    canvas.draw.line(((left, top), (left, bottom)), fill=_INK, width=2)
    canvas.add("y axis", "axis", (left - 1, top - 1, left + 1, bottom + 1))
    canvas.draw.line(((left, bottom), (right, bottom)), fill=_INK, width=2)
    canvas.add("x axis", "axis", (left - 1, bottom - 1, right + 1, bottom + 1))
    for tick in range(0, y_max + 1, 10):
        canvas.draw.line(((left - 6, y_of(tick)), (left, y_of(tick))), fill=_INK, width=2)
        w, _ = canvas.text_size(str(tick), size)
        canvas.text((left - 6 - size / 2 - w / 2, y_of(tick)), str(tick), size, "tick_label")
    w, _ = canvas.text_size(y_title, size)
    canvas.text((max(left - 2.2 * size + w / 2, 6 + w / 2), 1.0 * size), y_title, size,
                "axis_title")
    canvas.text(((left + right) / 2, canvas.height - 0.9 * size), x_title, size, "axis_title")
    slot = (right - left) / count
    centers = [left + slot * (i + 0.5) for i in range(count)]
    for name, x in zip(names, centers, strict=True):
        canvas.text((x, bottom + 0.9 * size), name, size, "category_label")
    if is_bar:
        colour = rng.choice(list(_COLOURS.values()))
        for name, x, value in zip(names, centers, values, strict=True):
            box = (x - slot * 0.28, y_of(value), x + slot * 0.28, bottom)
            canvas.draw.rectangle(box, fill=colour, outline=_INK, width=1)
            canvas.add(name, "bar", box)
    else:
        points = [(x, y_of(v)) for x, v in zip(centers, values, strict=True)]
        canvas.draw.line(points, fill=(40, 90, 220), width=3)
        canvas.add(y_title.lower(), "line", _points_box(points, 2))
        for name, (x, y) in zip(names, points, strict=True):
            canvas.draw.ellipse((x - 5, y - 5, x + 5, y + 5), fill=(40, 90, 220))
            canvas.add(name, "marker", (x - 5, y - 5, x + 5, y + 5))
    return _chart_question(rng, is_bar, x_title.lower(), measure, names, values)


def _chart_question(rng: random.Random, is_bar: bool, thing: str, measure: str,
                    names: list[str], values: list[int]) -> tuple[str, str, list[str]]:
    by_name = dict(zip(names, values, strict=True))
    numbers = [f"{v}" for v in range(5, 70, 5)]
    kind = rng.choice(("largest", "value", "difference"))
    if kind == "largest":
        best = names[values.index(max(values))]
        if is_bar:
            return f"Which {thing} has the tallest bar?", best, list(names)
        return f"In which {thing} was {measure} highest?", best, list(names)
    if kind == "value":
        name = rng.choice(names)
        if is_bar:
            return f"What is the value of the bar for {name}?", str(by_name[name]), numbers
        return f"What was {measure} in {name}?", str(by_name[name]), numbers
    while True:
        first, second = sorted(rng.sample(range(len(names)), 2))
        diff = values[second] - values[first]
        if diff != 0:
            break
    distractors = _number_distractors(abs(diff)) + numbers
    if is_bar:
        return (f"What is the difference between the values of {names[first]} and "
                f"{names[second]}?", str(abs(diff)), distractors)
    trend = "increase" if diff > 0 else "decrease"
    return (f"By how much did {measure} {trend} from {names[first]} to {names[second]}?",
            str(abs(diff)), distractors)


# ---------------------------------------------------------------- shapes


def _draw_shape(canvas: _Canvas, colour: str, kind: str, center: Point, size: float) -> None:
    x, y, half = center[0], center[1], size / 2
    fill = _COLOURS[colour]
    if kind == "circle":
        box = (x - half, y - half, x + half, y + half)
        canvas.draw.ellipse(box, fill=fill, outline=_INK, width=2)
    elif kind == "square":
        box = (x - half, y - half, x + half, y + half)
        canvas.draw.rectangle(box, fill=fill, outline=_INK, width=2)
    else:
        corners = [(x, y - half), (x + half, y + half), (x - half, y + half)]
        canvas.draw.polygon(corners, fill=fill, outline=_INK, width=2)
        box = _points_box(corners, 0)
    canvas.add(f"{colour} {kind}", "shape", (box[0] - 1, box[1] - 1, box[2] + 1, box[3] + 1))


def _shapes(rng: random.Random, index: int, canvas: _Canvas) -> tuple[str, str, list[str]]:
    """Draw 3-6 shapes, each (colour, kind) once; returns (question, answer, distractors)."""
    combos = rng.sample([(c, k) for c in _COLOURS for k in _SHAPE_KINDS], rng.randint(3, 6))
    placed: list[tuple[str, str, Point, float]] = []
    for colour, kind in combos:
        for _ in range(200):
            size = rng.randint(60, 100)
            center = (rng.uniform(size / 2 + 12, canvas.width - size / 2 - 12),
                      rng.uniform(size / 2 + 12, canvas.height - size / 2 - 12))
            if all(math.hypot(center[0] - c[0], center[1] - c[1]) > (size + s) * 0.75 + 20
                   for _, _, c, s in placed):
                placed.append((colour, kind, center, size))
                break
        else:
            raise _LayoutError("no room for another shape")
    for colour, kind, center, size in placed:
        _draw_shape(canvas, colour, kind, center, size)
    question_kind = ("count_kind", "count_colour", "left_of", "rightmost", "above")[index % 5]
    counts = [str(n) for n in range(1, 7)]
    if question_kind == "count_kind":
        kind = rng.choice([k for _, k, _, _ in placed])
        answer = sum(k == kind for _, k, _, _ in placed)
        return f"How many {kind}s are there in the image?", str(answer), counts
    if question_kind == "count_colour":
        colour = rng.choice([c for c, _, _, _ in placed])
        answer = sum(c == colour for c, _, _, _ in placed)
        return f"How many {colour} shapes are there in the image?", str(answer), counts
    if question_kind == "rightmost":
        ordered = sorted(placed, key=lambda item: item[2][0])
        if ordered[-1][2][0] - ordered[-2][2][0] < 30:
            raise _LayoutError("no clear rightmost shape")
        return ("What colour is the shape furthest to the right?", ordered[-1][0],
                list(_COLOURS))
    axis = 0 if question_kind == "left_of" else 1
    first, second = rng.sample(placed, 2)
    if abs(first[2][axis] - second[2][axis]) < 40:
        raise _LayoutError("relation too close to call")
    relation = "to the left of" if axis == 0 else "above"
    answer = "yes" if first[2][axis] < second[2][axis] else "no"
    return f"Is the {first[0]} {first[1]} {relation} the {second[0]} {second[1]}?", answer, [
        "yes", "no"]


# ---------------------------------------------------------------- rows


def _geometry_row(rng: random.Random, index: int, canvas: _Canvas) -> tuple[str, str, list[str]]:
    question, answer = _geometry(rng, index, canvas)
    return question, answer, _number_distractors(float(answer))


_BUILDERS: dict[str, Callable[[random.Random, int, _Canvas], tuple[str, str, list[str]]]] = {
    "geometry": _geometry_row,
    "chart": _chart,
    "shapes": _shapes,
}


def _build_row(seed: int, category: str, index: int) -> dict[str, Any]:
    rng = random.Random(f"cuekit-sample:{seed}:{category}:{index}")
    for _ in range(100):  # retry layouts that put text over text; each retry draws anew
        canvas = _Canvas(*_random_size(rng))
        try:
            question, answer, distractors = _BUILDERS[category](rng, index, canvas)
        except _LayoutError:
            continue
        choices = None
        if index % 3 == 2:  # every third row is multiple choice
            choices, answer = _as_choices(rng, answer, distractors)
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
