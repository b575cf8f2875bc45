"""The annotations backend: metadata boxes -> Detection records, and its errors."""

from __future__ import annotations

import pytest
from factories import make_sample
from PIL import Image

from cuekit.errors import SampleError
from cuekit.grounding.annotations import AnnotationsBackend, match_phrase
from cuekit.grounding.base import DetectItem, DetectorBackend, DetectorOptions, create_backend
from cuekit.schemas import Detection, ImageRef, Phrase

PHRASES = [
    Phrase(text="triangle ABC", start=3, end=15),
    Phrase(text="point A", start=20, end=27),
    Phrase(text="red circle", start=30, end=40),
]


def make_item(
    objects, *, field: str = "objects", images: tuple[Image.Image, ...] = ()
) -> DetectItem:
    refs = [
        ImageRef(path="a.png", sha256="a" * 64, width=200, height=100, format="png"),
        ImageRef(path="b.png", sha256="b" * 64, width=50, height=40, format="png"),
    ]
    metadata = {} if objects is None else {field: objects}
    sample = make_sample(
        id="geo-7",
        original_id="geo.7",
        question="In triangle ABC, point A and a red circle",
        images=refs,
        metadata=metadata,
    )
    return DetectItem(sample=sample, images=list(images), phrases=PHRASES)


def test_maps_entries_to_detections_field_by_field() -> None:
    objects = [
        {"label": "A", "xyxy": [10, 20, 30, 40], "kind": "point"},
        {"label": "circle", "xyxy": [0, 0, 25, 20], "image_index": 1, "score": 0.5},
        {"label": "Triangle abc", "xyxy": [5.5, 0, 205, 100]},  # pokes out: clipped
        {"label": "7", "xyxy": [100, 50, 110, 60], "kind": "text"},
    ]
    [dets] = AnnotationsBackend(DetectorOptions()).detect([make_item(objects)])
    fields = [
        (d.label, d.phrase_index, d.image_index, d.xyxy, d.box_1000, d.score, d.backend)
        for d in dets
    ]
    assert fields == [
        ("A", 1, 0, (10.0, 20.0, 30.0, 40.0), (50, 200, 150, 400), 1.0, "annotations"),
        ("circle", 2, 1, (0.0, 0.0, 25.0, 20.0), (0, 0, 500, 500), 0.5, "annotations"),
        ("Triangle abc", 0, 0, (5.5, 0.0, 200.0, 100.0), (28, 0, 1000, 1000), 1.0, "annotations"),
        ("7", None, 0, (100.0, 50.0, 110.0, 60.0), (500, 500, 550, 600), 1.0, "annotations"),
    ]
    assert all(isinstance(d, Detection) for d in dets)


def test_image_size_comes_from_the_decoded_images_when_given() -> None:
    # DetectItem images win over the refs (they are the pixels the boxes refer to).
    item = make_item(
        [{"label": "A", "xyxy": [10, 20, 30, 40]}], images=(Image.new("RGB", (100, 80)),)
    )
    [[detection]] = AnnotationsBackend().detect([item])
    assert detection.box_1000 == (100, 250, 300, 500)


def test_reads_the_configured_field_and_treats_a_missing_one_as_empty() -> None:
    backend = AnnotationsBackend(DetectorOptions(annotations_field="boxes"))
    item = make_item([{"label": "A", "xyxy": [0, 0, 1, 1]}], field="boxes")
    assert [d.label for d in backend.detect([item])[0]] == ["A"]
    assert backend.detect([make_item(None)]) == [[]]
    assert backend.settings() == {"annotations_field": "boxes"}


def test_is_registered_and_implements_the_protocol() -> None:
    backend = create_backend("annotations")
    assert isinstance(backend, AnnotationsBackend)
    assert isinstance(backend, DetectorBackend)
    assert backend.name == "annotations"


@pytest.mark.parametrize(
    ("objects", "field", "message"),
    [
        ({"label": "A"}, "metadata.objects", "expected a list of objects, got dict"),
        (["A"], "metadata.objects[0]", "expected an object, got str"),
        ([{"xyxy": [0, 0, 1, 1]}], "metadata.objects[0].label", "expected a non-empty string"),
        (
            [{"label": "A", "xyxy": [0, 0, 1, 1]}, {"label": "B", "xyxy": [0, 0, 1]}],
            "metadata.objects[1].xyxy",
            "expected 4 finite numbers",
        ),
        (
            [{"label": "B", "xyxy": [0, 0, "1", 2]}],
            "metadata.objects[0].xyxy",
            "expected 4 finite numbers",
        ),
        (
            [{"label": "B", "xyxy": [0, 0, float("nan"), 2]}],
            "metadata.objects[0].xyxy",
            "expected 4 finite numbers",
        ),
        (
            [{"label": "B", "xyxy": [5, 0, 1, 2]}],
            "metadata.objects[0].xyxy",
            r"expected x1<=x2 and y1<=y2, got \[5, 0, 1, 2\]",
        ),
        (
            [{"label": "B", "xyxy": [300, 0, 310, 2]}],
            "metadata.objects[0].xyxy",
            r"box \[300, 0, 310, 2\] lies outside the 200x100 image",
        ),
        (
            [{"label": "B", "xyxy": [0, 0, 1, 1], "image_index": 2}],
            "metadata.objects[0].image_index",
            r"expected an integer in \[0, 2\), got 2",
        ),
        (
            [{"label": "B", "xyxy": [0, 0, 1, 1], "score": 1.5}],
            "metadata.objects[0].score",
            r"expected a number in \[0, 1\], got 1.5",
        ),
    ],
)
def test_bad_entries_raise_sample_errors_naming_the_field(objects, field, message) -> None:
    with pytest.raises(SampleError, match=message) as excinfo:
        AnnotationsBackend().detect([make_item(objects)])
    error = excinfo.value
    assert error.sample_id == "geo-7"
    assert error.field == field
    assert error.stage == "detect"
    assert str(error).startswith(f"sample 'geo-7', field '{field}': ")


@pytest.mark.parametrize(
    ("label", "index"),
    [
        ("point A", 1),
        ("POINT a", 1),
        ("A", 1),
        ("ABC", 0),
        ("circle", 2),
        ("big red circle", 2),
        ("B", None),
        ("AB", None),
        ("triangle", 0),
    ],
)
def test_match_phrase(label: str, index: int | None) -> None:
    assert match_phrase(label, PHRASES) == index


def test_phrases_annotations_and_render_fit_together() -> None:
    from cuekit.cues import get_phrase_extractor, render_cue

    question = "In triangle ABC, AB = 3 and angle ABC = 35°. Find the length of AC."
    refs = [ImageRef(path="a.png", sha256="a" * 64, width=400, height=300, format="png")]
    objects = [
        {"label": "triangle ABC", "xyxy": [50, 40, 350, 250]},
        {"label": "AC", "xyxy": [50, 40, 200, 250]},
        {"label": "4", "xyxy": [100, 140, 115, 155], "kind": "text"},
    ]
    sample = make_sample(question=question, answer="4", images=refs, metadata={"objects": objects})
    phrases = get_phrase_extractor("rules")(question)
    [dets] = AnnotationsBackend().detect([DetectItem(sample=sample, images=[], phrases=phrases)])
    assert [d.phrase_index for d in dets] == [0, 3, None]
    cue = render_cue(sample, phrases, dets, "hint")
    # The "4" label is the answer, so it is left out.
    assert cue.text == (
        "[Hint]: The image shows triangle ABC (center) and segment AC (left). "
        "Segment AC is inside triangle ABC."
    )
