import io
import json

import datasets
import polars as pl
import pytest
from PIL import Image

from cuekit.errors import ConfigError
from cuekit.pipelines.sources import (
    FieldMap,
    RawSample,
    RowError,
    SourceSpec,
    iter_source,
    preset_for,
    with_overrides,
)


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
        json.dumps({"id": "q1", "question": "Q?", "image": "img/a.png", "answer": 3,
                    "extra": {"k": 1}}),
        "{not json",
        json.dumps({"id": "q3", "image": "img/a.png"}),
        json.dumps([1, 2]),
    ]
    path = tmp_path / "data.jsonl"
    path.write_text("\n".join(lines) + "\n")
    items = _rows(SourceSpec(dataset=str(path)))
    assert [type(i) for i in items] == [RawSample, RowError, RowError, RowError]
    first = items[0]
    assert (first.row_index, first.original_id, first.source, first.split) == (0, "q1", "data",
                                                                              "train")
    assert first.question == "Q?" and first.answer == 3 and first.images == ["img/a.png"]
    assert first.base_dir == tmp_path and first.metadata == {"extra": {"k": 1}}
    assert "line 2 is not valid JSON" in str(items[1].error)
    assert items[2].original_id == "q3" and items[2].error.field == "question"
    assert "not a JSON object" in str(items[3].error)
    assert [i.row_index for i in items] == [0, 1, 2, 3]


def test_parquet_with_bytes_and_hf_structs(tmp_path):
    data = _png()
    frame = pl.DataFrame({
        "problem": ["a?", "b?"],
        "images": [[{"bytes": data, "path": "a.png"}], [{"bytes": data, "path": "x.png"}]],
        "answer": ["1", "2"],
    })
    path = tmp_path / "geometry3k.parquet"
    frame.write_parquet(path)
    items = _rows(SourceSpec(dataset=str(path), split="test"))
    assert all(isinstance(i, RawSample) for i in items)
    # The file stem matches the geometry3k preset: problem/images/answer, ids from rows.
    assert [i.original_id for i in items] == ["test-000000", "test-000001"]
    assert items[0].question == "a?" and items[0].images[0]["bytes"] == data
    assert items[1].images[0]["path"] == "x.png"


def test_image_folder_with_jsonl(tmp_path):
    (tmp_path / "a.png").write_bytes(_png())
    (tmp_path / "metadata.jsonl").write_text(json.dumps(
        {"id": "f1", "question": "Q?", "image": "a.png"}) + "\n")
    (items,) = _rows(SourceSpec(dataset=str(tmp_path)))
    assert items.base_dir == tmp_path and items.source == tmp_path.name


def test_folder_without_questions_is_a_usage_error(tmp_path):
    with pytest.raises(ConfigError, match="no .jsonl of questions"):
        _rows(SourceSpec(dataset=str(tmp_path)))


def test_missing_local_file_is_a_usage_error(tmp_path):
    with pytest.raises(ConfigError, match="no such file or folder"):
        _rows(SourceSpec(dataset=str(tmp_path / "nope.parquet")))


def test_presets_and_overrides():
    assert preset_for("hiyouga/geometry3k") == FieldMap(question="problem", image="images",
                                                        answer="answer", choices=None, id=None)
    mathvista = preset_for("AI4Math/MathVista")
    assert (mathvista.question, mathvista.image, mathvista.choices) == (
        "question", "decoded_image", "choices")
    assert preset_for("someone/else") == FieldMap()
    assert with_overrides(FieldMap(), question="q", id=None).question == "q"


def test_hf_dataset_keeps_encoded_bytes(monkeypatch):
    data = _png()
    features = datasets.Features({"question": datasets.Value("string"),
                                  "decoded_image": datasets.Image(),
                                  "pid": datasets.Value("string")})
    ds = datasets.Dataset.from_dict(
        {"question": ["q?"], "decoded_image": [{"bytes": data, "path": None}], "pid": ["7"]},
        features=features)
    calls = {}

    def fake_load(name, config, split, streaming):
        calls.update(name=name, config=config, split=split, streaming=streaming)
        return ds

    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    (item,) = _rows(SourceSpec(dataset="AI4Math/MathVista", split="testmini"))
    assert calls == {"name": "AI4Math/MathVista", "config": None, "split": "testmini",
                     "streaming": False}
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
    features = datasets.Features({"problem": datasets.Value("string"),
                                  "images": datasets.List(datasets.Image()),
                                  "answer": datasets.Value("string")})
    ds = datasets.Dataset.from_dict(
        {"problem": ["a?", "b?"], "images": [[{"bytes": data, "path": None}]] * 2,
         "answer": ["1", "2"]}, features=features).to_iterable_dataset()
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
