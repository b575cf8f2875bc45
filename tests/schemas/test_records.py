import json

import pytest

from cuekit.errors import SampleError
from cuekit.schemas import (
    SCHEMA_VERSION,
    CueRecord,
    Detection,
    ExtractedSample,
    ExtractorSettings,
    ImageRef,
    Phrase,
    Sample,
    is_safe_key,
    json_schema,
    safe_key,
    validate,
    xyxy_from_1000,
    xyxy_to_1000,
)

SHA = "a" * 64


def _image(**kw):
    return {
        "path": f"images/aa/{SHA}.png",
        "sha256": SHA,
        "width": 640,
        "height": 480,
        "format": "png",
        **kw,
    }


def _sample(**kw):
    return {
        "id": "s1",
        "original_id": "s1",
        "source": "t",
        "split": "train",
        "question": "Where is A?",
        "images": [_image()],
        **kw,
    }


def _det(**kw):
    return {
        "label": "point a",
        "phrase_index": 0,
        "xyxy": (1.0, 2.0, 30.0, 40.0),
        "box_1000": (2, 4, 47, 83),
        "score": 0.9,
        "backend": "annotations",
        **kw,
    }


def test_sample_round_trips_through_json_field_by_field():
    sample = validate(Sample, _sample(answer="5", choices=["1", "5"], metadata={"k": [1]}))
    again = Sample.model_validate_json(sample.model_dump_json())
    assert again == sample
    assert again.schema_version == SCHEMA_VERSION
    assert again.images[0].width == 640 and again.images[0].sha256 == SHA
    assert again.choices == ["1", "5"] and again.metadata == {"k": [1]}


@pytest.mark.parametrize(
    ("data", "field", "fragment"),
    [
        (_sample(id="a.b"), "id", "should match pattern"),
        (_sample(id="a/b"), "id", "should match pattern"),
        (_sample(question="   "), "question", "question is blank"),
        (_sample(images=[]), "images", "at least 1 item"),
        (_sample(images=[_image(width=0)]), "images.0.width", "greater than 0"),
        (_sample(images=[_image(sha256="xyz")]), "images.0.sha256", "should match pattern"),
        (_sample(extra_field=1), "extra_field", "Extra inputs are not permitted"),
    ],
)
def test_bad_sample_names_the_field(data, field, fragment):
    with pytest.raises(SampleError) as info:
        validate(Sample, data, sample_id="s1")
    assert info.value.field == field
    assert info.value.sample_id == "s1"
    assert fragment in str(info.value)


@pytest.mark.parametrize(
    ("data", "field", "fragment"),
    [
        (_det(box_1000=(0, 0, 1001, 5)), "box_1000", "integers in [0, 1000]"),
        (_det(box_1000=(50, 0, 10, 5)), "box_1000", "x1<=x2"),
        (_det(xyxy=(10.0, 0.0, 5.0, 5.0)), "xyxy", "x1<=x2"),
        (_det(score=1.5), "score", "less than or equal to 1"),
        (_det(phrase_index=-1), "phrase_index", "greater than or equal to 0"),
    ],
)
def test_bad_detection_names_the_field(data, field, fragment):
    with pytest.raises(SampleError) as info:
        validate(Detection, data, sample_id="s9")
    assert info.value.field == field
    assert fragment in str(info.value)


def test_phrase_span_must_be_ordered():
    with pytest.raises(SampleError, match="span end 3 must be greater than start 5"):
        validate(Phrase, {"text": "ab", "start": 5, "end": 3})


def test_cue_record_checks_phrase_indices_and_sample_ids():
    settings = ExtractorSettings(backends=["annotations"])
    base = {
        "sample_id": "s1",
        "phrases": [{"text": "A", "start": 9, "end": 10}],
        "detections": [_det(phrase_index=1)],
        "cue_text": "[Hint]: x",
        "cue_style": "hint",
        "leak": False,
        "settings": settings,
    }
    with pytest.raises(
        SampleError,
        match=r"detections\[0\].phrase_index is 1, but there are "
        r"only 1 phrases",
    ):
        validate(CueRecord, base)
    cue = validate(CueRecord, {**base, "detections": [_det()]})
    sample = validate(Sample, _sample(id="other"))
    with pytest.raises(SampleError, match="cue.sample_id 's1' differs from sample.id 'other'"):
        validate(ExtractedSample, {"sample": sample, "cue": cue})


def test_cue_style_is_restricted():
    with pytest.raises(SampleError) as info:
        validate(
            CueRecord,
            {
                "sample_id": "s1",
                "phrases": [],
                "detections": [],
                "cue_text": "",
                "cue_style": "fancy",
                "leak": False,
                "settings": {"backends": ["x"]},
            },
        )
    assert info.value.field == "cue_style"


def test_json_schema_lists_every_record_and_is_json():
    schema = json_schema()
    assert set(schema["records"]) == {
        "Sample",
        "Phrase",
        "Detection",
        "CueRecord",
        "ExtractedSample",
        "ErrorRow",
    }
    assert schema["version"] == SCHEMA_VERSION
    sample_props = schema["records"]["Sample"]["properties"]
    assert {"id", "original_id", "question", "answer", "choices", "images"} <= set(sample_props)
    json.dumps(schema)  # serialisable
    assert ImageRef.model_json_schema()["properties"]["sha256"]["pattern"] == "^[0-9a-f]{64}$"


@pytest.mark.parametrize(
    "original",
    ["a.b", "a/b", "x\\y", "dir/file.png", "with space", "ünïcode", "", "a" * 400, "..", "-"],
)
def test_safe_key_is_safe_and_deterministic(original):
    key = safe_key(original)
    assert is_safe_key(key)
    assert "." not in key and "/" not in key
    assert safe_key(original) == key


def test_safe_key_keeps_safe_ids_and_separates_collisions():
    assert safe_key("geometry-001_x") == "geometry-001_x"
    assert safe_key("a.b") != safe_key("a_b")
    assert safe_key("a.b") != safe_key("a/b")
    long_a, long_b = "p" * 300 + "a", "p" * 300 + "b"
    assert safe_key(long_a) != safe_key(long_b)


@pytest.mark.parametrize("size", [(640, 480), (480, 640), (1000, 37), (3, 2000)])
def test_box_round_trip_on_non_square_images(size):
    width, height = size
    box = (0.13 * width, 0.21 * height, 0.77 * width, 0.9 * height)
    b1000 = xyxy_to_1000(box, width, height)
    assert all(isinstance(v, int) and 0 <= v <= 1000 for v in b1000)
    back = xyxy_from_1000(b1000, width, height)
    # One 0-1000 step is width/1000 pixels; rounding loses at most half of it.
    for got, want, scale in zip(back, box, (width, height, width, height), strict=True):
        assert abs(got - want) <= scale / 2000 + 1e-9
    assert xyxy_to_1000(back, width, height) == b1000


def test_box_conversion_clips_and_orders():
    assert xyxy_to_1000((-10, 500, 700, -5), 640, 480) == (0, 0, 1000, 1000)
    assert xyxy_to_1000((320, 240, 0, 0), 640, 480) == (0, 0, 500, 500)
    with pytest.raises(ValueError, match="image size must be positive"):
        xyxy_to_1000((0, 0, 1, 1), 0, 10)
