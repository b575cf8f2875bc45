"""Sample ``chart`` rows: bar and line charts with axis titles, ticks and category labels."""

from __future__ import annotations

import random

from cuekit.datasets.sample.canvas import COLOURS, INK, Canvas, points_box
from cuekit.datasets.sample.choices import number_distractors

# (x-axis title, y-axis title, what the y axis measures, x positions)
_BAR_TOPICS = (
    ("Fruit", "Sales", "sales", ("Apple", "Pear", "Plum", "Fig", "Kiwi", "Lime")),
    ("Pet", "Votes", "votes", ("Cat", "Dog", "Fish", "Bird", "Frog")),
    ("Sport", "Players", "players", ("Golf", "Judo", "Polo", "Ski", "Swim")),
)
_LINE_TOPICS = (
    (
        "Year",
        "Visitors",
        "the number of visitors",
        ("2018", "2019", "2020", "2021", "2022", "2023"),
    ),
    ("Month", "Rainfall", "the rainfall", ("Jan", "Feb", "Mar", "Apr", "May", "Jun")),
    ("Day", "Orders", "the number of orders", ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat")),
)


def draw_chart(rng: random.Random, index: int, canvas: Canvas) -> tuple[str, str, list[str]]:
    """Draw a bar (even index) or line chart; returns (question, answer, distractors)."""
    size = rng.randint(22, 26)
    is_bar = index % 2 == 0
    x_title, y_title, measure, pool = rng.choice(_BAR_TOPICS if is_bar else _LINE_TOPICS)
    count = rng.randint(3, 5) if is_bar else rng.randint(4, 6)
    names = rng.sample(pool, count) if is_bar else list(pool[:count])
    y_max = rng.choice((40, 50, 60))
    while True:
        values = [rng.randrange(5, y_max + 1, 5) for _ in names]
        if values.count(max(values)) == 1 and len(set(values)) > 2:
            break
    left, right = 2.6 * size + 12, canvas.width - 24
    top, bottom = 2.4 * size, canvas.height - 3.4 * size

    def y_of(value: float) -> float:
        return bottom - (bottom - top) * value / y_max

    canvas.draw.line(((left, top), (left, bottom)), fill=INK, width=2)
    canvas.add("y axis", "axis", (left - 1, top - 1, left + 1, bottom + 1))
    canvas.draw.line(((left, bottom), (right, bottom)), fill=INK, width=2)
    canvas.add("x axis", "axis", (left - 1, bottom - 1, right + 1, bottom + 1))
    for tick in range(0, y_max + 1, 10):
        canvas.draw.line(((left - 6, y_of(tick)), (left, y_of(tick))), fill=INK, width=2)
        w, _ = canvas.text_size(str(tick), size)
        canvas.text((left - 6 - size / 2 - w / 2, y_of(tick)), str(tick), size, "tick_label")
    w, _ = canvas.text_size(y_title, size)
    canvas.text(
        (max(left - 2.2 * size + w / 2, 6 + w / 2), 1.0 * size), y_title, size, "axis_title"
    )
    canvas.text(((left + right) / 2, canvas.height - 0.9 * size), x_title, size, "axis_title")
    slot = (right - left) / count
    centers = [left + slot * (i + 0.5) for i in range(count)]
    for name, x in zip(names, centers, strict=True):
        canvas.text((x, bottom + 0.9 * size), name, size, "category_label")
    if is_bar:
        colour = rng.choice(list(COLOURS.values()))
        for name, x, value in zip(names, centers, values, strict=True):
            box = (x - slot * 0.28, y_of(value), x + slot * 0.28, bottom)
            canvas.draw.rectangle(box, fill=colour, outline=INK, width=1)
            canvas.add(name, "bar", box)
    else:
        points = [(x, y_of(v)) for x, v in zip(centers, values, strict=True)]
        canvas.draw.line(points, fill=(40, 90, 220), width=3)
        canvas.add(y_title.lower(), "line", points_box(points, 2))
        for name, (x, y) in zip(names, points, strict=True):
            canvas.draw.ellipse((x - 5, y - 5, x + 5, y + 5), fill=(40, 90, 220))
            canvas.add(name, "marker", (x - 5, y - 5, x + 5, y + 5))
    return _chart_question(rng, is_bar, x_title.lower(), measure, names, values)


def _chart_question(
    rng: random.Random, is_bar: bool, thing: str, measure: str, names: list[str], values: list[int]
) -> tuple[str, str, list[str]]:
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
    distractors = number_distractors(abs(diff)) + numbers
    if is_bar:
        return (
            f"What is the difference between the values of {names[first]} and {names[second]}?",
            str(abs(diff)),
            distractors,
        )
    trend = "increase" if diff > 0 else "decrease"
    return (
        f"By how much did {measure} {trend} from {names[first]} to {names[second]}?",
        str(abs(diff)),
        distractors,
    )
