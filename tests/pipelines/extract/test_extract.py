"""End-to-end extract: outputs field by field, bad input, resume, ranks and workers."""

import io
import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from crashing_backend import CrashingAnnotations
from PIL import Image

from cuekit.cues.leak import find_leak
from cuekit.datasets.sources import SourceSpec
from cuekit.errors import ConfigError, CuekitError
from cuekit.grounding.base import DetectorOptions, register_backend
from cuekit.pipelines.extract.layout import read_extracted
from cuekit.pipelines.extract.run import ExtractConfig, run_extract
from cuekit.schemas import xyxy_to_1000


def _config(tmp_path: Path, dataset: str = "sample", **kw) -> ExtractConfig:
    kw.setdefault("detectors", ("annotations",))
    return ExtractConfig(source=SourceSpec(dataset=dataset), output=tmp_path / "out", **kw)


def _frames(out: Path) -> tuple[pl.DataFrame, pl.DataFrame, dict]:
    run = json.loads((out / "run.json").read_text())
    return pl.read_parquet(out / "cues.parquet"), pl.read_parquet(out / "errors.parquet"), run


def test_sample_with_annotations_field_by_field(tmp_path):
    from cuekit.datasets.sample.rows import SAMPLE_SIZE, generate_sample_rows

    result = run_extract(_config(tmp_path))
    cues, errors, run = _frames(result.output)
    assert result.counts == run["counts"]
    assert run["counts"]["input"] == SAMPLE_SIZE == cues.height + errors.height
    assert cues["id"].to_list() == sorted(cues["id"].to_list())
    rows = {r["id"]: r for r in generate_sample_rows()}
    records = list(read_extracted(result.output))
    assert len(records) == cues.height
    for record in records:
        sample, cue = record.sample, record.cue
        raw = rows[sample.original_id]
        assert sample.id == raw["id"] and sample.question == raw["question"]
        assert sample.answer == raw["answer"] and sample.source == "sample"
        image = sample.images[0]
        assert (result.output / image.path).read_bytes() == raw["image"]
        assert Image.open(io.BytesIO(raw["image"])).size == (image.width, image.height)
        assert cue.sample_id == sample.id and cue.cue_style == "hint"
        assert cue.settings.backends == ["annotations"]
        assert cue.schema_version == sample.schema_version
        # Every annotation detection is a ground-truth object, in both conventions.
        truth = {(o["label"], tuple(round(v, 3) for v in o["xyxy"])) for o in raw["objects"]}
        for det in cue.detections:
            assert det.backend == "annotations"
            assert (det.label, tuple(round(v, 3) for v in det.xyxy)) in truth
            assert det.box_1000 == xyxy_to_1000(det.xyxy, image.width, image.height)
        if cue.detections and not cue.cue_text:
            # Only unmatched labels, silenced together because one of them is the answer
            # (listing the others would tell it by omission).
            assert all(d.phrase_index is None for d in cue.detections)
            assert any(find_leak(d.label, sample.answer, sample.choices) for d in cue.detections)
        elif cue.detections:
            assert cue.cue_text.startswith("[Hint]:")
        assert cue.leak == bool(cues.filter(pl.col("id") == sample.id)["leak"][0])
    assert run["versions"]["cuekit"] and run["settings"]["cue_style"] == "hint"
    assert "[Hint]" in result.summary() or "cues" in result.summary()


def _png(image: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kw)
    return buffer.getvalue()


def _bad_corpus(folder: Path) -> dict[str, tuple[str, str | None]]:
    """Write a jsonl of good and bad rows; return id -> (expected outcome, error field)."""
    folder.mkdir()
    good = Image.new("RGB", (64, 48), "white")
    (folder / "good.png").write_bytes(_png(good))
    (folder / "trunc.png").write_bytes(_png(Image.effect_noise((64, 64), 50).convert("RGB"))[:80])
    (folder / "junk.png").write_bytes(b"plain text")
    (folder / "cmyk.jpg").write_bytes(_png(good.convert("CMYK"), "JPEG"))
    (folder / "deep.png").write_bytes(_png(Image.fromarray(np.full((8, 8), 50000, np.uint16))))
    exif = Image.Exif()
    exif[0x0112] = 8
    (folder / "rotated.jpg").write_bytes(_png(good, "JPEG", exif=exif))
    (folder / "bomb.png").write_bytes(_png(Image.new("L", (3000, 3000))))
    rows = [
        (
            {"id": "good", "question": "Where is the dot?", "image": "good.png", "answer": "2"},
            ("ok", None),
        ),
        ({"id": "missing", "question": "Q?", "image": "nope.png"}, ("error", "images[0]")),
        ({"id": "trunc", "question": "Q?", "image": "trunc.png"}, ("error", "images[0]")),
        ({"id": "junk", "question": "Q?", "image": "junk.png"}, ("error", "images[0]")),
        ({"id": "empty-q", "question": "  ", "image": "good.png"}, ("error", "question")),
        ({"id": "no-q", "image": "good.png"}, ("error", "question")),
        ({"id": "list-q", "question": ["a"], "image": "good.png"}, ("error", "question")),
        ({"id": "no-image", "question": "Q?", "image": None}, ("error", "images")),
        ({"id": "cmyk", "question": "Q?", "image": "cmyk.jpg"}, ("ok", None)),
        ({"id": "deep", "question": "Q?", "image": "deep.png"}, ("ok", None)),
        ({"id": "rotated", "question": "Q?", "image": "rotated.jpg"}, ("ok", None)),
        ({"id": "bomb", "question": "Q?", "image": "bomb.png"}, ("error", "images[0]")),
        ({"id": "good", "question": "Again?", "image": "good.png"}, ("error", "id")),
        ({"id": "dir/file.v2", "question": "Q?", "image": "good.png"}, ("ok", None)),
    ]
    lines = [json.dumps(r) for r, _ in rows] + ["{broken"]
    (folder / "questions.jsonl").write_text("\n".join(lines) + "\n")
    expected = {r["id"]: o for r, o in rows[:-2]}
    return expected


def test_bad_input_corpus_reconciles(tmp_path):
    expected = _bad_corpus(tmp_path / "corpus")
    result = run_extract(_config(tmp_path, str(tmp_path / "corpus"), max_image_pixels=4_000_000))
    cues, errors, run = _frames(result.output)
    assert run["counts"] == {"input": 15, "ok": 5, "errors": 10, "leaky": 0}
    assert cues.height + errors.height == 15
    by_original = {r["original_id"]: r for r in errors.iter_rows(named=True)}
    for original, (outcome, field) in expected.items():
        if outcome == "error":
            assert by_original[original]["field"] == field, original
            assert by_original[original]["message"], original
    assert by_original["bomb"]["message"].startswith("image is 3000x3000")
    assert by_original["missing"]["message"].startswith("image file not found")
    assert by_original["empty-q"]["message"] == "question is empty"
    dup = errors.filter(pl.col("stage") == "dedupe").row(0, named=True)
    assert dup["sample_id"] == "good" and "row 12 has the same id as row 0" in dup["message"]
    assert errors.filter(pl.col("original_id") == "train-000014")["message"][0].startswith(
        "line 15 is not valid JSON"
    )
    records = {r.sample.original_id: r.sample for r in read_extracted(result.output)}
    assert set(records) == {"good", "cmyk", "deep", "rotated", "dir/file.v2"}
    unsafe = records["dir/file.v2"]
    assert "." not in unsafe.id and "/" not in unsafe.id
    assert records["rotated"].images[0].width == 48  # EXIF 8 swaps width and height
    assert records["rotated"].metadata["image_normalised"] == {"0": "EXIF orientation 8"}
    assert records["cmyk"].metadata["image_normalised"] == {"0": "mode CMYK"}
    assert records["deep"].metadata["image_normalised"] == {"0": "mode I;16"}


def test_strict_stops_at_the_first_bad_sample(tmp_path):
    _bad_corpus(tmp_path / "corpus")
    with pytest.raises(
        CuekitError, match="--strict: stopped at sample 'missing', field 'images\\[0\\]'"
    ):
        run_extract(_config(tmp_path, str(tmp_path / "corpus"), strict=True))


class _Interrupting(CrashingAnnotations):
    """Annotations, but raises KeyboardInterrupt on the n-th call (a simulated crash)."""

    name = "interrupting"


register_backend("interrupting", f"{__name__}:_Interrupting")


def test_resume_after_interruption_equals_uninterrupted_run(tmp_path):
    reference = run_extract(_config(tmp_path / "ref", detectors=("interrupting",), part_size=4))
    _Interrupting.calls, _Interrupting.fail_at = 0, 5
    config = _config(tmp_path / "run", detectors=("interrupting",), part_size=4)
    with pytest.raises(KeyboardInterrupt):
        run_extract(config)
    assert not (config.output / "cues.parquet").exists()
    _Interrupting.fail_at = None
    resumed = run_extract(config)
    assert 0 < resumed.processed < reference.processed
    ref_cues, ref_errors, _ = _frames(reference.output)
    cues, errors, _ = _frames(resumed.output)
    assert cues.equals(ref_cues) and errors.equals(ref_errors)
    # A finished run resumes to the same bytes without processing anything.
    again = run_extract(config)
    assert again.processed == 0 and _frames(again.output)[0].equals(ref_cues)


def test_two_ranks_and_workers_match_a_single_run(tmp_path):
    single = run_extract(_config(tmp_path / "one", limit=12))
    for rank in (0, 1):
        part = run_extract(_config(tmp_path / "two", limit=12, rank=rank, world_size=2))
    assert part.counts == single.counts
    workers = run_extract(_config(tmp_path / "workers", limit=12, num_workers=2))
    for other in (part, workers):
        assert _frames(other.output)[0].equals(_frames(single.output)[0])


def test_changed_settings_refuse_to_resume(tmp_path):
    run_extract(_config(tmp_path, limit=2))
    with pytest.raises(ConfigError, match="different settings \\(cue_style\\).*--overwrite"):
        run_extract(_config(tmp_path, limit=2, cue_style="boxes"))
    result = run_extract(_config(tmp_path, limit=2, cue_style="boxes", overwrite=True))
    assert set(_frames(result.output)[0]["cue_style"]) == {"boxes"}


def test_marks_style_writes_marked_images(tmp_path):
    result = run_extract(_config(tmp_path, limit=4, cue_style="marks"))
    for record in read_extracted(result.output):
        if record.cue.detections:
            marked = result.output / record.cue.marked_image
            assert Image.open(marked).size == (
                record.sample.images[0].width,
                record.sample.images[0].height,
            )


def test_drop_leaky_moves_leaky_cues_to_errors(tmp_path, monkeypatch):
    import cuekit.pipelines.extract.cue_stage as cue_stage

    # The renderer already leaves answer labels out, so leaks are rare; flag the
    # samples whose answer is "15" to exercise the policy itself.
    monkeypatch.setattr(
        cue_stage, "find_leak", lambda text, answer, choices: "15" if answer == "15" else None
    )
    kept = run_extract(_config(tmp_path / "keep"))
    leaky = kept.counts["leaky"]
    assert leaky == sum(r.sample.answer == "15" for r in read_extracted(kept.output)) > 0
    dropped = run_extract(_config(tmp_path / "drop", drop_leaky=True))
    assert dropped.counts["ok"] == kept.counts["ok"] - leaky
    assert dropped.counts["leaky"] == 0 and dropped.counts["input"] == kept.counts["input"]
    errors = _frames(dropped.output)[1].filter(pl.col("stage") == "leak")
    assert errors.height == leaky and set(errors["field"]) == {"cue_text"}


@pytest.mark.parametrize(
    ("kw", "fragment"),
    [
        ({"detectors": ()}, "at least one --detector"),
        ({"detectors": ("ocr", "ocr")}, "--detector given twice"),
        ({"cue_style": "fancy"}, "--cue-style must be one of hint, boxes, marks"),
        ({"rank": 2, "world_size": 2}, "--rank must be in [0, 2)"),
        ({"num_workers": -1}, "--num-workers must be >= 0"),
    ],
)
def test_config_errors(tmp_path, kw, fragment):
    with pytest.raises(ConfigError) as info:
        _config(tmp_path, **kw)
    assert fragment in str(info.value)


class _Broken:
    """A backend whose failure is about the environment, not one sample."""

    name = "broken"
    error: BaseException = ImportError("No module named 'requests'")

    def __init__(self, options: DetectorOptions) -> None:
        pass

    def settings(self):
        return {}

    def detect(self, items):
        raise type(self).error


register_backend("broken", f"{__name__}:_Broken")


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (
            ImportError("No module named 'requests'"),
            "a detector needs a package that is not installed: No module named 'requests'",
        ),
        (MemoryError(), "out of memory in the detector (MemoryError): lower --batch-size"),
    ],
)
def test_environment_failures_stop_the_run_instead_of_failing_every_sample(
    tmp_path, monkeypatch, error, message
):
    monkeypatch.setattr(_Broken, "error", error)
    with pytest.raises(CuekitError) as info:
        run_extract(_config(tmp_path, limit=3, detectors=("broken",)))
    assert str(info.value).startswith(message)


def test_a_sample_specific_detector_failure_is_isolated(tmp_path, monkeypatch):
    # A plain error on one sample's images fails that sample only; the batch is retried
    # one by one so its neighbours still get their cues.
    monkeypatch.setattr(
        _Broken,
        "detect",
        lambda self, items: [
            [] if all(it.sample.id != "geometry-001" for it in items) else 1 / 0 for _ in items
        ],
    )
    result = run_extract(
        _config(tmp_path, limit=4, detectors=("broken",), detector=DetectorOptions(batch_size=4))
    )
    errors = _frames(result.output)[1]
    assert result.counts["ok"] == 3 and errors["sample_id"].to_list() == ["geometry-001"]
    assert errors["error_type"][0] == "ZeroDivisionError" and errors["stage"][0] == "detect"
