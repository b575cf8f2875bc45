"""The bundled sample dataset: deterministic, well-formed, ground truth that matches its pixels."""

from __future__ import annotations

import io
import re
import time
from collections import Counter

import pytest
from PIL import Image, ImageChops, ImageDraw, ImageFont

from cuekit.datasets.sample.rows import (
    CATEGORIES,
    DRAWING_KINDS,
    SAMPLE_SIZE,
    TEXT_KINDS,
    generate_sample_rows,
)

ROW_FIELDS = {"id", "category", "question", "answer", "choices", "image", "objects"}


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return generate_sample_rows()


def _decode(row: dict) -> Image.Image:
    image = Image.open(io.BytesIO(row["image"]))
    image.load()
    return image


def _answer_text(row: dict) -> str:
    """The answer as written: the chosen option's text for multiple-choice rows."""
    if row["choices"] is None:
        return row["answer"]
    return row["choices"]["ABCD".index(row["answer"])]


def test_same_seed_gives_identical_bytes_and_other_seed_differs(rows: list[dict]) -> None:
    again = generate_sample_rows(0)
    assert again == rows  # every field, PNG bytes included
    other = generate_sample_rows(1)
    assert [r["image"] for r in other] != [r["image"] for r in rows]


def test_generation_is_fast() -> None:
    start = time.perf_counter()
    generate_sample_rows(7)
    assert time.perf_counter() - start < 2.0


def test_category_counts_and_ids(rows: list[dict]) -> None:
    assert len(rows) == SAMPLE_SIZE
    counts = Counter(r["category"] for r in rows)
    assert counts == {c: SAMPLE_SIZE // len(CATEGORIES) for c in CATEGORIES}
    ids = [r["id"] for r in rows]
    assert len(set(ids)) == len(ids)
    for row in rows:
        assert re.fullmatch(r"[A-Za-z0-9_-]+", row["id"]), row["id"]
        assert row["id"].startswith(row["category"] + "-")


def test_row_schema(rows: list[dict]) -> None:
    for row in rows:
        assert set(row) == ROW_FIELDS, row["id"]
        assert isinstance(row["question"], str) and row["question"].strip()
        assert isinstance(row["answer"], str) and row["answer"]
        assert isinstance(row["image"], bytes) and row["image"].startswith(b"\x89PNG")
        if row["choices"] is not None:
            assert 2 <= len(row["choices"]) <= 4
            assert all(isinstance(c, str) and c for c in row["choices"])
            assert len(set(row["choices"])) == len(row["choices"])
            assert row["answer"] in "ABCD"[: len(row["choices"])]
        for obj in row["objects"]:
            assert set(obj) == {"label", "kind", "xyxy"}
            assert isinstance(obj["label"], str) and obj["label"]
            assert obj["kind"] in TEXT_KINDS + DRAWING_KINDS, obj["kind"]
            assert len(obj["xyxy"]) == 4 and all(isinstance(v, float) for v in obj["xyxy"])
    multiple_choice = [r for r in rows if r["choices"] is not None]
    assert 0 < len(multiple_choice) < len(rows)


def test_images_are_varied_non_square_rgb(rows: list[dict]) -> None:
    sizes = set()
    for row in rows:
        image = _decode(row)
        assert image.format == "PNG" and image.mode == "RGB"
        assert not image.info, f"{row['id']} carries PNG metadata {image.info}"
        assert 480 <= image.width <= 800 and 360 <= image.height <= 600
        assert image.width != image.height
        sizes.add(image.size)
    assert len(sizes) > len(rows) // 2


def test_object_boxes_lie_inside_the_image_and_cover_ink(rows: list[dict]) -> None:
    for row in rows:
        image = _decode(row)
        gray = image.convert("L")
        for obj in row["objects"]:
            x1, y1, x2, y2 = obj["xyxy"]
            assert 0 <= x1 < x2 <= image.width and 0 <= y1 < y2 <= image.height, (row["id"], obj)
            crop = gray.crop((int(x1), int(y1), int(x2 + 0.999), int(y2 + 0.999)))
            assert crop.getextrema()[0] < 128, f"{row['id']}: nothing drawn in {obj}"


def _render_matches(label: str, crop: Image.Image) -> bool:
    """Does ``label``, rendered in the bundled font at some size, reproduce ``crop``?"""
    for size in range(20, 41):
        font = ImageFont.load_default(size=size)
        left, top, right, bottom = font.getbbox(label)
        if (right - left, bottom - top) != crop.size:
            continue
        rendered = Image.new("L", crop.size, 255)
        ImageDraw.Draw(rendered).text((-left, -top), label, font=font, fill=0)
        diff = ImageChops.difference(rendered, crop).point(lambda v: 255 if v > 96 else 0)
        # Lines drawn later may cross a few pixels of the text box.
        if diff.histogram()[255] <= 0.05 * crop.width * crop.height:
            return True
    return False


def test_every_text_object_is_the_text_drawn_in_its_box(rows: list[dict]) -> None:
    for row in rows:
        gray = _decode(row).convert("L")
        texts = [o for o in row["objects"] if o["kind"] in TEXT_KINDS]
        for obj in texts:
            crop = gray.crop(tuple(int(v) for v in obj["xyxy"]))
            assert _render_matches(obj["label"], crop), f"{row['id']}: {obj} not drawn as boxed"
        for i, first in enumerate(texts):  # texts never overlap, so OCR can tell them apart
            for second in texts[i + 1 :]:
                a, b = first["xyxy"], second["xyxy"]
                overlap = min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1])
                assert not overlap, f"{row['id']}: {first} overlaps {second}"


def test_geometry_rows_hide_the_answer_and_label_their_points(rows: list[dict]) -> None:
    for row in (r for r in rows if r["category"] == "geometry"):
        kinds = Counter(o["kind"] for o in row["objects"])
        labels = {o["label"] for o in row["objects"] if o["kind"] in TEXT_KINDS}
        assert kinds["point_label"] >= 2 and kinds["length_label"] + kinds["angle_label"] >= 1
        answer = _answer_text(row)
        assert float(answer) > 0
        assert answer not in labels and f"{answer}°" not in labels and f"{answer} cm" not in labels
        for letter in re.findall(r"\b[A-Z]{2,4}\b", row["question"]):
            assert set(letter) <= labels, f"{row['id']}: {letter} has unlabelled points"


def test_charts_and_shapes_have_their_parts(rows: list[dict]) -> None:
    for row in rows:
        kinds = Counter(o["kind"] for o in row["objects"])
        if row["category"] == "chart":
            assert kinds["axis_title"] == 2 and kinds["axis"] == 2
            assert kinds["tick_label"] >= 5 and kinds["category_label"] >= 3
            assert kinds["bar"] == kinds["category_label"] or (
                kinds["marker"] == kinds["category_label"] and kinds["line"] == 1
            )
        if row["category"] == "shapes":
            shapes = [o["label"] for o in row["objects"] if o["kind"] == "shape"]
            assert 3 <= len(shapes) == len(row["objects"]) <= 6
            assert len(set(shapes)) == len(shapes)  # each colour-kind pair appears once
            if row["choices"] is None and row["question"].startswith("How many"):
                noun = row["question"].split()[2]
                counted = [s for s in shapes if noun.rstrip("s") in s.split()]
                assert row["answer"] == str(len(counted)), row["id"]


def test_bad_seed_is_refused() -> None:
    with pytest.raises(ValueError, match="seed must be an int, got str"):
        generate_sample_rows("0")  # type: ignore[arg-type]
