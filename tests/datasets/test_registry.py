"""The built-in dataset registry: sample and CueWorld by name, new ones by one call."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cuekit.datasets import registry
from cuekit.datasets.registry import builtin_rows, dataset_names, is_builtin, register_dataset
from cuekit.datasets.sample.rows import generate_sample_rows
from cuekit.datasets.sources import RawSample, SourceSpec, iter_source
from cuekit.errors import ConfigError


def _two_rows(split: str, seed: int) -> Iterator[dict]:
    for index in range(2):
        yield {
            "id": f"{split}-{seed}-{index}",
            "question": f"q{index}?",
            "answer": str(index),
            "image": b"not decoded here",
        }


def test_sample_and_cueworld_are_registered() -> None:
    assert dataset_names() == ["cueworld", "sample"]
    assert is_builtin("sample") and is_builtin("cueworld") and not is_builtin("sample.parquet")


def test_sample_reads_the_same_rows_for_every_split() -> None:
    expected = generate_sample_rows(3)
    assert list(builtin_rows("sample", "test", 3)) == expected
    assert [r["id"] for r in builtin_rows("sample", "train", 3)] == [r["id"] for r in expected]


def test_cueworld_rows_follow_split_and_seed() -> None:
    rows = builtin_rows("cueworld", "val", 1)
    first = next(rows)
    assert first["id"] == "cueworld-val-000000"
    assert next(builtin_rows("cueworld", "val", 2))["question"] is not None


def test_unknown_dataset_and_bad_split_name_the_choices() -> None:
    with pytest.raises(
        ConfigError,
        match=r"unknown built-in dataset 'nope'; choose one of: "
        r"cueworld, sample",
    ):
        builtin_rows("nope", "train", 0)
    with pytest.raises(
        ConfigError,
        match=r"--dataset cueworld: cueworld has splits train, "
        r"val, test, not 'dev'",
    ):
        builtin_rows("cueworld", "dev", 0)


def test_a_registered_dataset_is_a_source(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry._DATASETS, "two", "")  # removed again after the test
    register_dataset("two", f"{__name__}:_two_rows")
    samples = list(iter_source(SourceSpec(dataset="two", split="dev", seed=5)))
    assert [type(s) for s in samples] == [RawSample, RawSample]
    assert [(s.original_id, s.source, s.split, s.question, s.answer) for s in samples] == [
        ("dev-5-0", "two", "dev", "q0?", "0"),
        ("dev-5-1", "two", "dev", "q1?", "1"),
    ]


def test_register_refuses_a_target_without_a_function() -> None:
    with pytest.raises(ValueError, match="target must be 'module:function', got 'cuekit'"):
        register_dataset("bad", "cuekit")
    assert not is_builtin("bad")


def test_only_a_dataset_that_pins_a_wording_has_one() -> None:
    from cuekit.cueworld.dataset import CUE_WORDING
    from cuekit.datasets.registry import pinned_cue_wording

    assert pinned_cue_wording("cueworld") == CUE_WORDING
    assert pinned_cue_wording("sample") is None
    assert pinned_cue_wording("some/hf-dataset") is None
    with pytest.raises(ValueError, match="cue_wording must be 'module:attribute', got 'v1'"):
        register_dataset("pinned", f"{__name__}:_two_rows", cue_wording="v1")
