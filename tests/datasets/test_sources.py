import io
import json

import datasets
import polars as pl
import pytest
from PIL import Image

from cuekit.datasets.sources import (
    FieldMap,
    RawSample,
    RowError,
    SourceSpec,
    iter_source,
    with_overrides,
)
from cuekit.errors import ConfigError, SampleError


def _png(color=(10, 20, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 6), color).save(buffer, format="PNG")
    return buffer.getvalue()


def _rows(spec):
    return list(iter_source(spec))


def test_jsonl_with_relative_paths_and_bad_lines(tmp_path):
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "a.png").write_bytes(_png())
    lines = [
        json.dumps(
            {"id": "q1", "question": "Q?", "image": "img/a.png", "answer": 3, "extra": {"k": 1}}
        ),
        "{not json",
        json.dumps({"id": "q3", "image": "img/a.png"}),
        json.dumps([1, 2]),
    ]
    path = tmp_path / "data.jsonl"
    path.write_text("\n".join(lines) + "\n")
    items = _rows(SourceSpec(dataset=str(path)))
    assert [type(i) for i in items] == [RawSample, RowError, RowError, RowError]
    first = items[0]
    assert (first.row_index, first.original_id, first.source, first.split) == (
        0,
        "q1",
        "data",
        "train",
    )
    assert first.question == "Q?" and first.answer == 3 and first.images == ["img/a.png"]
    assert first.base_dir == tmp_path and first.metadata == {"extra": {"k": 1}}
    assert "line 2 is not valid JSON" in str(items[1].error)
    assert items[2].original_id == "q3" and items[2].error.field == "question"
    assert "not a JSON object" in str(items[3].error)
    assert [i.row_index for i in items] == [0, 1, 2, 3]


def test_parquet_with_bytes_and_hf_structs(tmp_path):
    data = _png()
    frame = pl.DataFrame(
        {
            "problem": ["a?", "b?"],
            "images": [[{"bytes": data, "path": "a.png"}], [{"bytes": data, "path": "x.png"}]],
            "answer": ["1", "2"],
        }
    )
    path = tmp_path / "whatever.parquet"
    frame.write_parquet(path)
    items = _rows(SourceSpec(dataset=str(path), split="test"))
    assert all(isinstance(i, RawSample) for i in items)
    # The schema matches the geometry3k preset: problem/images/answer, ids from rows.
    assert {i.preset for i in items} == {"geometry3k"}
    assert [i.original_id for i in items] == ["test-000000", "test-000001"]
    assert items[0].question == "a?" and items[0].images[0]["bytes"] == data
    assert items[1].images[0]["path"] == "x.png"


def test_image_folder_with_jsonl(tmp_path):
    (tmp_path / "a.png").write_bytes(_png())
    (tmp_path / "metadata.jsonl").write_text(
        json.dumps({"id": "f1", "question": "Q?", "image": "a.png"}) + "\n"
    )
    (items,) = _rows(SourceSpec(dataset=str(tmp_path)))
    assert items.base_dir == tmp_path and items.source == tmp_path.name


def test_folder_without_questions_is_a_usage_error(tmp_path):
    with pytest.raises(ConfigError, match="no .jsonl of questions and no .parquet or .arrow"):
        _rows(SourceSpec(dataset=str(tmp_path)))


def test_missing_local_file_is_a_usage_error(tmp_path):
    with pytest.raises(ConfigError, match="no such file or folder"):
        _rows(SourceSpec(dataset=str(tmp_path / "nope.parquet")))


def test_overrides_apply_on_top_of_the_detected_preset(tmp_path):
    assert with_overrides(FieldMap(), question="q", id=None).question == "q"
    path = tmp_path / "rows.jsonl"
    (tmp_path / "a.png").write_bytes(_png())
    path.write_text(
        json.dumps({"problem": "Q?", "text": "other", "image": "a.png", "answer": "1"}) + "\n"
    )
    (item,) = _rows(SourceSpec(dataset=str(path)))
    assert item.question == "Q?"  # generic preset: "problem" when there is no "question"
    (item,) = _rows(SourceSpec(dataset=str(path), overrides={"question": "text"}))
    assert item.question == "other" and item.metadata["problem"] == "Q?"


def test_hf_dataset_keeps_encoded_bytes(monkeypatch):
    data = _png()
    features = datasets.Features(
        {
            "question": datasets.Value("string"),
            "decoded_image": datasets.Image(),
            "pid": datasets.Value("string"),
        }
    )
    ds = datasets.Dataset.from_dict(
        {"question": ["q?"], "decoded_image": [{"bytes": data, "path": None}], "pid": ["7"]},
        features=features,
    )
    calls = {}

    def fake_load(name, config, split, streaming):
        calls.update(name=name, config=config, split=split, streaming=streaming)
        return ds

    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    (item,) = _rows(SourceSpec(dataset="AI4Math/MathVista", split="testmini"))
    assert calls == {
        "name": "AI4Math/MathVista",
        "config": None,
        "split": "testmini",
        "streaming": False,
    }
    assert item.original_id == "7" and item.question == "q?"
    assert item.images[0]["bytes"] == data  # undecoded: the original bytes survive


def test_hf_load_failure_names_the_fixes(monkeypatch):
    def failing(*args, **kwargs):
        raise ConnectionError("offline")

    monkeypatch.setattr(datasets, "load_dataset", failing)
    with pytest.raises(Exception, match="HF_DATASETS_OFFLINE=1.*HF_ENDPOINT"):
        _rows(SourceSpec(dataset="org/name"))


def test_hf_streaming_dataset_with_a_list_of_images(monkeypatch):
    data = _png()
    features = datasets.Features(
        {
            "problem": datasets.Value("string"),
            "images": datasets.List(datasets.Image()),
            "answer": datasets.Value("string"),
        }
    )
    ds = datasets.Dataset.from_dict(
        {
            "problem": ["a?", "b?"],
            "images": [[{"bytes": data, "path": None}]] * 2,
            "answer": ["1", "2"],
        },
        features=features,
    ).to_iterable_dataset()
    seen = {}

    def fake_load(name, config, split, streaming):
        seen["streaming"] = streaming
        return ds

    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    items = _rows(SourceSpec(dataset="hiyouga/geometry3k", split="train", streaming=True))
    assert seen == {"streaming": True}
    assert [i.original_id for i in items] == ["train-000000", "train-000001"]
    assert [i.question for i in items] == ["a?", "b?"]
    assert items[0].images[0]["bytes"] == data  # still the encoded bytes


# ------------------------------------------------------------ presets by schema


def _prepared(item, tmp_path):
    from cuekit.pipelines.extract.prepare import prepare_sample

    return prepare_sample(item, tmp_path / "store", 10_000_000).sample


def test_geometry3k_hub_snapshot_folder_is_recognised_by_schema(geometry3k_snapshot, tmp_path):
    folder = geometry3k_snapshot("snapshot")  # data/train-00000-of-00001.parquet
    items = _rows(SourceSpec(dataset=str(folder), split="train"))
    assert [type(i) for i in items] == [RawSample, RawSample]
    assert [i.preset for i in items] == ["geometry3k", "geometry3k"]
    assert [i.source for i in items] == ["snapshot", "snapshot"]
    assert items[0].question == "<image>Find x." and items[0].answer == "3"
    assert items[0].images[0]["path"] is None and items[0].images[0]["bytes"][:4] == b"\x89PNG"
    sample = _prepared(items[0], tmp_path)
    # The dataset's placeholder is gone: the prompt builder places the one image itself.
    assert sample.question == "Find x." and sample.answer == "3"
    assert sample.metadata == {"cuekit_preset": "geometry3k"}
    assert (sample.question_type, sample.answer_type, sample.precision, sample.unit) == (
        None,
        None,
        None,
        None,
    )


def test_a_snapshot_in_the_hf_cache_is_named_by_its_hub_id(geometry3k_snapshot):
    folder = geometry3k_snapshot("datasets--hiyouga--geometry3k/snapshots/0123abcd")
    items = _rows(SourceSpec(dataset=str(folder / "data" / "train-00000-of-00001.parquet")))
    assert {i.source for i in items} == {"hiyouga/geometry3k"}
    assert {i.source for i in _rows(SourceSpec(dataset=str(folder)))} == {"hiyouga/geometry3k"}


def test_a_hub_shard_file_is_read_directly(geometry3k_snapshot):
    path = geometry3k_snapshot("geo") / "data" / "train-00000-of-00001.parquet"
    items = _rows(SourceSpec(dataset=str(path)))
    assert [i.question for i in items] == [
        "<image>Find x.",
        "<image>Find the area of the figure. Round to the nearest tenth.",
    ]
    assert {i.source for i in items} == {"geo"}  # named after the snapshot, not the shard


def test_geometry3k_copy_keeps_its_own_id_and_choices(geometry3k_snapshot, tmp_path):
    folder = geometry3k_snapshot("copy", with_extras=True)
    (item,) = _rows(SourceSpec(dataset=str(folder)))
    sample = _prepared(item, tmp_path)
    assert (sample.id, sample.original_id) == ("2401", "2401")
    assert sample.choices == ["3", "5", "7", "9"] and sample.answer == "5"
    assert sample.question == "Find y." and sample.metadata["ground_truth"] == "B"


def test_mathvista_snapshot_uses_decoded_image_and_judging_fields(mathvista_snapshot, tmp_path):
    items = _rows(SourceSpec(dataset=str(mathvista_snapshot), split="testmini"))
    assert [type(i) for i in items] == [RawSample] * 3
    samples = [_prepared(i, tmp_path) for i in items]
    assert [s.id for s in samples] == ["1", "2", "3"]
    assert [s.images[0].format for s in samples] == ["jpeg", "png", "png"]
    assert [s.choices for s in samples] == [["True", "False"], None, None]
    assert [s.question_type for s in samples] == ["multi_choice", "free_form", "free_form"]
    assert [s.answer_type for s in samples] == ["text", "integer", "float"]
    assert [s.precision for s in samples] == [None, None, 1]  # 1.0 in the file
    assert [s.unit for s in samples] == [None, "cm", None]
    assert samples[0].metadata["image"] == "images/1.jpg"  # the path string, kept as metadata
    assert samples[0].metadata["metadata"]["skills"] == ["scientific reasoning"]
    assert samples[0].metadata["cuekit_preset"] == "mathvista"


def test_snapshot_folder_names_its_splits_when_the_split_is_missing(mathvista_snapshot):
    with pytest.raises(ConfigError, match=r"no files for split 'train'.*\['testmini'\]"):
        _rows(SourceSpec(dataset=str(mathvista_snapshot), split="train"))


def test_arrow_folder_from_save_to_disk(tmp_path):
    features = datasets.Features(
        {
            "question": datasets.Value("string"),
            "image": datasets.Image(),
            "answer": datasets.Value("string"),
            "question_id": datasets.Value("int64"),
        }
    )
    ds = datasets.Dataset.from_dict(
        {
            "question": ["q1?", "q2?"],
            "image": [{"bytes": _png(), "path": None}] * 2,
            "answer": ["a", "b"],
            "question_id": [11, 12],
        },
        features=features,
    )
    ds.save_to_disk(str(tmp_path / "saved"))
    items = _rows(SourceSpec(dataset=str(tmp_path / "saved")))
    assert [(i.original_id, i.question, i.answer) for i in items] == [
        ("11", "q1?", "a"),
        ("12", "q2?", "b"),
    ]
    assert items[0].images[0]["bytes"] == _png()


def _mmmu_row(folder, sample_id: str, question: str, options: str, images: int):
    """One MMMU validation row (answer A, multiple choice) with its first ``images`` of the
    three image columns filled, as the hub's parquet holds it; read back as a source row."""
    image = {"bytes": _png(), "path": None}
    columns = {f"image_{i}": [image if i <= images else None] for i in (1, 2, 3)}
    frame = pl.DataFrame(
        {
            "id": [sample_id],
            "question": [question],
            "options": [options],
            "answer": ["A"],
            **columns,
            "question_type": ["multiple-choice"],
        },
        schema_overrides={
            name: pl.Struct({"bytes": pl.Binary, "path": pl.String}) for name in columns
        },
    )
    frame.write_parquet(folder / "validation-00000-of-00001.parquet")
    (item,) = _rows(SourceSpec(dataset=str(folder), split="validation"))
    return item


def test_mmmu_layout_gathers_image_columns_and_parses_options(tmp_path):
    item = _mmmu_row(
        tmp_path, "validation_Art_1", "Compare <image 1> and <image 2>.", "['left', 'right']", 2
    )
    assert item.preset == "mmmu" and len(item.images) == 2
    sample = _prepared(item, tmp_path)
    assert sample.choices == ["left", "right"] and sample.question_type == "multiple-choice"
    assert sample.question == "Compare image 1 and image 2." and len(sample.images) == 2


def test_bad_precision_names_the_sample_and_field(tmp_path):
    from cuekit.errors import SampleError

    item = RawSample(
        row_index=0,
        original_id="p7",
        source="s",
        split="test",
        question="Q?",
        answer="1.5",
        choices=None,
        images=[_png()],
        precision=1.5,
    )
    with pytest.raises(SampleError, match="whole number of decimal places, got 1.5") as info:
        _prepared(item, tmp_path)
    assert (info.value.sample_id, info.value.field) == ("p7", "precision")


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("<image>Find x.", "Find x."),
        ("<image1> What is shown?", "What is shown?"),
        ("Compare <image 1> with <image_2>.", "Compare image 1 with image 2."),
        ("Look at\n<image>\nthen answer.", "Look at\n\nthen answer."),
        ("In <image>, find x.", "In the image, find x."),
        ("<|image|>Find x.", "Find x."),
        ("<|vision_start|><|image_pad|><|vision_end|>Find x in <|image_1|>.", "Find x in image 1."),
        ("No placeholder here.", "No placeholder here."),
    ],
)
def test_image_placeholders_are_mapped(question, expected):
    from cuekit.datasets.presets import map_image_placeholders

    assert map_image_placeholders(question) == expected
    assert "<image" not in map_image_placeholders(question)


def test_a_null_in_the_first_json_row_still_maps_the_field(tmp_path):
    (tmp_path / "a.png").write_bytes(_png())
    rows = [
        {"id": "1", "question": "Q1?", "image": "a.png", "choices": None, "answer": None},
        {"id": "2", "question": "Q2?", "image": "a.png", "choices": ["x", "y"], "answer": "B"},
    ]
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    items = _rows(SourceSpec(dataset=str(path)))
    assert [(i.choices, i.answer) for i in items] == [(None, None), (["x", "y"], "B")]
    assert items[1].metadata == {}


def test_streamed_mathvista_without_features_picks_the_decoded_image(monkeypatch):
    """A stream that knows no features yields decoded PIL images; the path string in
    ``image`` must not be taken for the image."""
    decoded = Image.new("RGB", (8, 6), (1, 2, 3))

    class Stream:
        features = None

        def __iter__(self):
            yield {
                "pid": "9",
                "question": "Q?",
                "image": "images/9.jpg",
                "decoded_image": decoded,
                "choices": None,
                "unit": None,
                "precision": 2.0,
                "answer": "1.25",
                "question_type": "free_form",
                "answer_type": "float",
            }

    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: Stream())
    (item,) = _rows(SourceSpec(dataset="AI4Math/MathVista", split="testmini", streaming=True))
    assert item.preset == "mathvista" and item.images == [decoded]
    assert (item.original_id, item.precision, item.metadata) == (
        "9",
        2.0,
        {"image": "images/9.jpg"},
    )


# ------------------------------------------------------------ review: unseen variants

_THREE = [{"id": f"q{i}", "question": f"Q{i}?", "image": "a.png", "answer": "1"} for i in range(3)]


@pytest.mark.parametrize(
    ("name", "encode"),
    [
        ("utf-16 BOM", lambda text: text.encode("utf-16")),
        ("utf-32 BOM, CRLF", lambda text: text.replace("\n", "\r\n").encode("utf-32")),
        ("utf-16 BOM, CR only", lambda text: text.replace("\n", "\r").encode("utf-16")),
        ("utf-8 BOM, CRLF", lambda text: b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode()),
        ("CR only (classic Mac)", lambda text: text.replace("\n", "\r").encode()),
    ],
)
def test_jsonl_in_any_bom_encoding_and_line_ending_reads_every_row(tmp_path, name, encode):
    path = tmp_path / "rows.jsonl"
    path.write_bytes(encode("".join(json.dumps(r) + "\n" for r in _THREE)))
    items = _rows(SourceSpec(dataset=str(path)))
    assert [(type(i), i.original_id, i.question) for i in items] == [
        (RawSample, f"q{i}", f"Q{i}?") for i in range(3)
    ], name


def test_a_bad_byte_after_cr_line_ends_names_its_own_line(tmp_path):
    text = "".join(json.dumps(r) + "\r" for r in _THREE).encode().replace(b"Q2", b"Q\xff2")
    (tmp_path / "rows.jsonl").write_bytes(text)
    items = _rows(SourceSpec(dataset=str(tmp_path / "rows.jsonl")))
    assert [type(i) for i in items] == [RawSample, RawSample, RowError]
    assert items[2].error.reason == (
        "line 3 is not valid UTF-8: byte 0xff at column 28 (in rows.jsonl)"
    )


def test_json_list_loses_only_the_element_with_bad_bytes_or_no_object(tmp_path):
    rows = [_THREE[0], _THREE[1], "not an object", _THREE[2]]
    data = json.dumps(rows).encode().replace(b"Q1", b"Q\xff1")
    (tmp_path / "rows.json").write_bytes(data)
    items = _rows(SourceSpec(dataset=str(tmp_path / "rows.json")))
    assert [type(i) for i in items] == [RawSample, RowError, RowError, RawSample]
    assert [items[0].original_id, items[3].original_id] == ["q0", "q2"]
    assert items[1].error.reason == (
        "element 1 is not valid UTF-8: field 'question' holds "
        "bytes that do not decode (in rows.json)"
    )
    assert items[2].error.reason == "element 2 is not a JSON object (in rows.json)"


def test_broken_json_list_names_the_file_and_position(tmp_path):
    path = tmp_path / "rows.json"
    path.write_text('[{"id": "a",\n  oops}]')
    with pytest.raises(ConfigError, match=r"rows\.json: not valid JSON at line 2 column 3"):
        _rows(SourceSpec(dataset=str(path)))


def test_chartqa_layout_one_answer_in_a_list(tmp_path):
    """ChartQA: ``query`` and ``label`` (a list holding the one answer)."""
    frame = pl.DataFrame(
        {
            "image": [{"bytes": _png(), "path": None}] * 2,
            "query": ["What is the peak?", "Which year?"],
            "label": [["14"], ["2019", "2020"]],
            "human_or_machine": [0, 1],
        }
    )
    (tmp_path / "data").mkdir()
    frame.write_parquet(tmp_path / "data" / "test-00000-of-00001.parquet")
    items = _rows(SourceSpec(dataset=str(tmp_path), split="test"))
    sample = _prepared(items[0], tmp_path)
    assert (sample.question, sample.answer, sample.metadata) == (
        "What is the peak?",
        "14",
        {"human_or_machine": 0},
    )
    with pytest.raises(SampleError, match="field 'answer': expected one answer, got a list of 2"):
        _prepared(items[1], tmp_path)


def test_scienceqa_layout_answer_is_the_index_of_an_option(tmp_path):
    """ScienceQA: ``answer`` is the position of the right option; the judge needs the
    option itself. An integer that is one of the options stays that value."""
    frame = pl.DataFrame(
        {
            "image": [{"bytes": _png(), "path": None}] * 2,
            "question": ["Which is a mammal?", "How many?"],
            "choices": [["fish", "cat"], ["2", "3"]],
            "answer": [1, 3],
            "hint": ["", ""],
            "subject": ["natural science"] * 2,
        }
    )
    frame.write_parquet(tmp_path / "train-00000-of-00001-0a1b2c.parquet")
    first, second = (_prepared(i, tmp_path) for i in _rows(SourceSpec(dataset=str(tmp_path))))
    assert (first.answer, first.choices, first.metadata["answer_index"]) == (
        "cat",
        ["fish", "cat"],
        1,
    )
    assert (second.answer, "answer_index" in second.metadata) == ("3", False)
    from cuekit.evaluate.answers import judge

    assert judge("The answer is (B).", first.answer, first.choices).correct


def test_mmmu_options_that_are_image_references_stay_words(tmp_path):
    """MMMU options are often ``<image 2>``: as text they would be placeholders the chat
    template never fills (and an empty option if dropped like a question's)."""
    item = _mmmu_row(
        tmp_path,
        "validation_Art_2",
        "<image 1> Which painting is by Monet?",
        "['<image 2>', '<image 3>', 'Neither <image>']",
        3,
    )
    sample = _prepared(item, tmp_path)
    assert sample.choices == ["image 2", "image 3", "Neither the image"]
    assert sample.question == "Which painting is by Monet?" and len(sample.images) == 3


def test_hf_imagefolder_with_split_subfolders(tmp_path):
    """HF ImageFolder: ``train/metadata.jsonl`` beside its images, paths in ``file_name``
    relative to that subfolder; ``--split`` picks the subfolder."""
    for split, color in (("train", (1, 2, 3)), ("test", (4, 5, 6))):
        (tmp_path / split).mkdir()
        (tmp_path / split / "0001.png").write_bytes(_png(color))
        (tmp_path / split / "metadata.jsonl").write_text(
            json.dumps({"file_name": "0001.png", "question": f"Q {split}?", "answer": "2"}) + "\n"
        )
    (item,) = _rows(SourceSpec(dataset=str(tmp_path), split="test"))
    assert (item.question, item.images, item.base_dir) == (
        "Q test?",
        ["0001.png"],
        tmp_path / "test",
    )
    assert _prepared(item, tmp_path).images[0].width == 8


def test_split_named_jsonl_files_in_an_image_folder(tmp_path):
    (tmp_path / "a.png").write_bytes(_png())
    for split in ("train", "test"):
        (tmp_path / f"{split}.jsonl").write_text(
            json.dumps({"id": split, "question": "Q?", "image": "a.png"}) + "\n"
        )
    assert [i.original_id for i in _rows(SourceSpec(dataset=str(tmp_path), split="test"))] == [
        "test"
    ]
    with pytest.raises(
        ConfigError,
        match=r"several \.jsonl files \(test\.jsonl, train\.jsonl\) "
        r"and none is named after the split 'dev'",
    ):
        _rows(SourceSpec(dataset=str(tmp_path), split="dev"))


def test_mathverse_like_columns_keep_their_own_id_and_capitalised_names_are_found(tmp_path):
    """MathVerse numbers its rows in ``sample_index``; other copies capitalise columns."""
    image = {"bytes": _png(), "path": None}
    pl.DataFrame(
        {
            "sample_index": ["17"],
            "problem_index": ["3"],
            "question": ["Find x."],
            "image": [image],
            "answer": ["5"],
            "question_type": ["free-form"],
            "query_wo": ["..."],
        }
    ).write_parquet(tmp_path / "testmini.parquet")
    (item,) = _rows(SourceSpec(dataset=str(tmp_path / "testmini.parquet"), split="testmini"))
    assert (item.original_id, item.question, item.answer, item.question_type) == (
        "17",
        "Find x.",
        "5",
        "free-form",
    )
    pl.DataFrame(
        {
            "ID": ["w1"],
            "Question": ["Which?"],
            "Image": [image],
            "Answer": ["B"],
            "Options": [["p", "q"]],
        }
    ).write_parquet(tmp_path / "caps.parquet")
    (item,) = _rows(SourceSpec(dataset=str(tmp_path / "caps.parquet")))
    assert (item.original_id, item.question, item.answer, item.choices, len(item.images)) == (
        "w1",
        "Which?",
        "B",
        ["p", "q"],
        1,
    )
