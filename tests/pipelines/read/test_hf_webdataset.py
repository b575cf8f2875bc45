"""Shards through Hugging Face ``load_dataset("webdataset")``: every sample, every field."""

from __future__ import annotations

import json

import datasets
import pytest

from cuekit.pipelines.read.hf_webdataset import hf_data_files, hf_features, member_fields
from cuekit.pipelines.read.reader import raw_samples


def _load(shards, tmp_path, **kwargs):
    return datasets.load_dataset(
        "webdataset",
        data_files={"train": hf_data_files(shards)},
        split="train",
        cache_dir=str(tmp_path / "hf-cache"),
        **kwargs,
    )


def test_without_features_mixed_shards_fail_to_load(sharded, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    out, _ = sharded  # first shard: png and jpeg, one image and two, a marked image
    with pytest.raises(ValueError, match="don't share the same prefix or the same types"):
        _load(str(out), tmp_path)


def test_with_hf_features_every_sample_and_field_survives(sharded, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    out, records = sharded
    assert member_fields(str(out)) == [
        "hint.txt",
        "img0.jpg",
        "img0.png",
        "img1.jpg",
        "json",
        "marked.png",
    ]
    loaded = _load(str(out), tmp_path, features=hf_features(str(out)))
    # undecoded images, to compare bytes with the tar members
    image_fields = [
        f for f, feature in loaded.features.items() if isinstance(feature, datasets.Image)
    ]
    for field in image_fields:
        loaded = loaded.cast_column(field, datasets.Image(decode=False))
    raw = list(raw_samples(hf_data_files(str(out))))
    assert len(loaded) == len(raw) == len(records) == 8
    for row, expected in zip(loaded, raw, strict=True):
        assert row["__key__"] == expected["__key__"]
        assert row["json"] == json.loads(expected["json"])  # every key, metadata included
        assert row["hint.txt"] == expected["hint.txt"].decode("utf-8")
        for field in image_fields:
            if field in expected:
                assert row[field]["bytes"] == expected[field], (row["__key__"], field)
            else:
                assert row[field] is None, (row["__key__"], field)
    by_key = {row["__key__"]: row for row in loaded}
    assert by_key["s001"]["img1.jpg"] is not None  # the two-image sample keeps both
    assert by_key["s002"]["marked.png"] is not None  # and marks are kept


def test_later_samples_are_not_degraded_when_the_first_agree(helpers, tmp_path, monkeypatch):
    """Five uniform png samples first, then a jpeg with other metadata keys: HF's own
    inference would set its image to None and drop its keys; hf_features keeps them."""
    from cuekit.pipelines.shard.run import ShardSettings, shard

    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    root = tmp_path / "extract"
    records = [helpers.make_record(root, i) for i in (0, 2, 4, 6, 8, 9)]  # s009: a jpeg
    records[-1] = records[-1].model_copy(
        update={
            "sample": records[-1].sample.model_copy(
                update={"metadata": {"row": 9, "note": "late key"}}
            )
        }
    )
    helpers.write_extract_dir(root, records)
    shard(root, tmp_path / "shards", ShardSettings(maxcount=100))
    plain = _load(str(tmp_path / "shards"), tmp_path / "a")
    late = {row["__key__"]: row for row in plain}["s009"]
    assert "img0.jpg" not in late and "note" not in late["json"]["sample"]["metadata"]
    loaded = _load(
        str(tmp_path / "shards"), tmp_path / "b", features=hf_features(str(tmp_path / "shards"))
    )
    late = {row["__key__"]: row for row in loaded}["s009"]
    assert late["img0.jpg"].size == (40, 30) and late["img0.png"] is None
    assert late["json"]["sample"]["metadata"] == {"row": 9, "note": "late key"}


def test_the_readme_documents_every_member_a_sample_can_hold(sharded):
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")
    out, _ = sharded  # png and jpeg, one image and two, marks
    for field in member_fields(str(out)):
        documented = re.sub(r"^(img\d+)\.\w+$", r"\1.<ext>", field)
        assert f"`KEY.{documented}`" in readme, field
