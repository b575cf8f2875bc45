"""verl and HF exports checked field by field; the exported student reloads identically."""

from __future__ import annotations

import io
from pathlib import Path

import polars as pl
import pytest
import torch
from PIL import Image

from cuekit.distill.cue_module import get_cue_module, load_student
from cuekit.distill.prompts import build_prompt_batch, format_question
from cuekit.errors import ConfigError
from cuekit.evaluate.export import (
    IMAGE_PLACEHOLDER,
    export_student,
    find_student_folder,
    run_export,
)
from cuekit.evaluate.inputs import iter_cue_items


def _assert_fields(row: dict, record: object, *names: str) -> None:
    """Each named column of an exported row equals the record's attribute of that name."""
    assert {n: row[n] for n in names} == {n: getattr(record, n) for n in names}


def test_verl_rows_field_by_field(
    sample_shards: Path, sample_extract: Path, tmp_path: Path
) -> None:
    [path] = run_export(str(sample_shards), tmp_path / "verl", "verl")
    assert path == tmp_path / "verl" / "train.parquet"
    frame = pl.read_parquet(path)
    items = {item.id: item for item in iter_cue_items(sample_extract)}
    assert frame.height == len(items) == 36
    for index, row in enumerate(frame.iter_rows(named=True)):
        info = row["extra_info"]
        item = items[info["id"]]
        sample = item.record.sample
        assert info["index"] == index
        _assert_fields(info, sample, "split", "question", "answer", "choices")
        _assert_fields(info, item, "hint")
        _assert_fields(info, item.record.cue, "cue_style", "leak")
        assert row["data_source"] == sample.source
        assert row["reward_model"] == {"style": "rule", "ground_truth": sample.answer}
        _assert_fields(info, sample, "question_type", "precision")
        [user] = row["prompt"]
        [teacher] = row["teacher_prompt"]
        assert user["role"] == teacher["role"] == "user"
        # one placeholder per image, in front of the question, on both sides
        assert user["content"].count(IMAGE_PLACEHOLDER) == len(row["images"]) == len(sample.images)
        assert teacher["content"].count(IMAGE_PLACEHOLDER) == len(row["images"])
        # the question with its options, as distill and eval show it
        assert user["content"] == IMAGE_PLACEHOLDER * len(sample.images) + format_question(
            sample.question, sample.choices
        )
        # the teacher prompt is the prompt plus the hint, as distill appends it (a sample
        # with nothing to say has no hint: both prompts are then the same)
        if item.hint:
            assert item.hint.startswith("[Hint]:")
            assert teacher["content"] == user["content"] + "\n\n" + item.hint
        else:
            assert teacher["content"] == user["content"]
        # images are the original bytes, unchanged by sharding
        assert [image["bytes"] for image in row["images"]] == item.image_bytes
        assert Image.open(io.BytesIO(row["images"][0]["bytes"])).size == (
            sample.images[0].width,
            sample.images[0].height,
        )


def test_hf_export_loads_with_datasets(
    sample_extract: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import datasets

    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    written = run_export(str(sample_extract), tmp_path / "hf", "hf", limit=5)
    assert written == [tmp_path / "hf" / "data" / "train.parquet"]
    loaded = datasets.load_dataset(str(tmp_path / "hf"), cache_dir=str(tmp_path / "cache"))
    assert list(loaded) == ["train"]
    split = loaded["train"]
    assert isinstance(split.features["images"], datasets.List)
    assert isinstance(split.features["images"].feature, datasets.Image)
    items = list(iter_cue_items(sample_extract, limit=5))
    assert split["id"] == [item.id for item in items]
    for row, item in zip(split, items, strict=True):
        sample = item.record.sample
        _assert_fields(row, sample, "question", "answer", "choices")
        _assert_fields(row, item, "hint")
        assert (row["n_phrases"], row["n_detections"], row["leak"]) == (
            len(item.record.cue.phrases),
            len(item.record.cue.detections),
            item.record.cue.leak,
        )
        assert row["cue"] == item.record.cue.model_dump_json()
        assert isinstance(row["images"][0], Image.Image)
        assert row["images"][0].tobytes() == item.images()[0].tobytes()


def test_export_rejects_unknown_format(sample_extract: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"format must be one of \('verl', 'hf'\)"):
        run_export(str(sample_extract), tmp_path, "csv")


def _greedy(model, processor, image: Image.Image) -> torch.Tensor:
    inputs = build_prompt_batch(
        processor, ["How long is AB?", "Which bar is tallest?"], [[image], [image]]
    )
    with torch.no_grad():
        out = model.generate(
            **inputs,
            max_new_tokens=6,
            do_sample=False,
            eos_token_id=processor.im_end_token_id,
            pad_token_id=processor.tokenizer.pad_token_id,
        )
    return out[:, inputs["input_ids"].shape[1] :]


def test_exported_student_reloads_and_generates_identically(
    distill_run: Path, tmp_path: Path
) -> None:
    folder = export_student(distill_run, tmp_path / "student")
    names = {p.name for p in folder.iterdir()}
    assert {
        "model.safetensors",
        "config.json",
        "cue_module.json",
        "cue_module.safetensors",
        "tokenizer.json",
        "preprocessor_config.json",
        "distill_config.yaml",
        "README.md",
    } <= names
    readme = (folder / "README.md").read_text()
    assert f'load_student("{folder}")' in readme and "Trained for 2 steps" in readme
    original, original_processor = load_student(distill_run / "student")
    exported, processor = load_student(folder)
    assert get_cue_module(exported) is not None
    original_state, exported_state = original.state_dict(), exported.state_dict()
    assert original_state.keys() == exported_state.keys()
    for name, tensor in original_state.items():
        assert torch.equal(tensor, exported_state[name]), name
    image = Image.new("RGB", (64, 48), (40, 120, 200))
    torch.testing.assert_close(
        _greedy(exported, processor, image),
        _greedy(original, original_processor, image),
        rtol=0,
        atol=0,
    )


def test_export_student_errors(distill_run: Path, tmp_path: Path) -> None:
    assert find_student_folder(distill_run) == distill_run / "student"
    assert find_student_folder(distill_run / "student") == distill_run / "student"
    with pytest.raises(ConfigError, match="is not a distill run, checkpoint or student folder"):
        export_student(tmp_path, tmp_path / "out")
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "file.txt").write_text("x")
    with pytest.raises(ConfigError, match="is not empty; pass --overwrite"):
        export_student(distill_run, busy)
    assert export_student(distill_run, busy, overwrite=True) == busy


def _logits(model, processor, image: Image.Image) -> torch.Tensor:
    inputs = build_prompt_batch(processor, ["Which bar is tallest?"], [[image]])
    with torch.no_grad():
        return model(**inputs).logits


def test_plain_transformers_gets_the_full_student_or_stops(
    distill_run: Path, tmp_path: Path
) -> None:
    """Stock transformers loading must never be the student minus its cue module."""
    import json

    from transformers import AutoConfig, AutoModelForImageTextToText

    from cuekit.evaluate.eval import load_eval_model

    folder = export_student(distill_run, tmp_path / "student")
    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == "cuekit_qwen3_vl"
    assert config["auto_map"]["AutoModelForImageTextToText"] == (
        "modeling_cuekit_student.CuekitStudentForConditionalGeneration"
    )
    assert (folder / "modeling_cuekit_student.py").is_file()
    # trust_remote_code stays off by default: transformers refuses instead of loading
    # the stock Qwen3-VL without the module.
    for loader in (AutoConfig.from_pretrained, AutoModelForImageTextToText.from_pretrained):
        with pytest.raises(ValueError, match=r"(?s)contains custom code.*trust_remote_code=True"):
            loader(str(folder))
    plain = AutoModelForImageTextToText.from_pretrained(str(folder), trust_remote_code=True)
    assert get_cue_module(plain) is not None
    # the shipped config class drops the stock-class refusal (or no weights would load)
    assert not hasattr(plain.config, "transformers_weights")
    reference, processor = load_student(folder)
    assert get_cue_module(reference) is not None
    image = Image.new("RGB", (64, 48), (40, 120, 200))
    expected = _logits(reference, processor, image)
    torch.testing.assert_close(_logits(plain.eval(), processor, image), expected, rtol=0, atol=0)
    # `cuekit eval --model folder` loads through load_eval_model
    evaluated, eval_processor, _ = load_eval_model(str(folder), device="cpu", dtype="fp32")
    assert get_cue_module(evaluated) is not None
    torch.testing.assert_close(_logits(evaluated, eval_processor, image), expected, rtol=0, atol=0)
    # the module matters: without it the logits differ
    bare = AutoModelForImageTextToText.from_pretrained(str(distill_run / "student"))
    assert get_cue_module(bare) is None
    assert not torch.equal(_logits(bare.eval(), processor, image), expected)
    readme = (folder / "README.md").read_text()
    for text in (
        "trust_remote_code=True",
        "load_student",
        "at prefill",
        "vLLM, SGLang, TGI, llama.cpp/GGUF**: cannot run it",
    ):
        assert text in readme, text


def test_the_stock_class_refuses_the_student_and_names_load_student(
    distill_run: Path, tmp_path: Path
) -> None:
    """``Qwen3VLForConditionalGeneration.from_pretrained`` (Qwen's own model cards load
    Qwen3-VL so) bypasses the Auto classes and their custom-code check. It used to load
    the base weights without the module, warned only by transformers' model-type
    mismatch; now config.json's ``transformers_weights`` makes it stop, naming
    load_student, without running any code from the folder."""
    import json
    import re
    import shutil

    from transformers import Qwen3VLForConditionalGeneration, Qwen3VLModel

    from cuekit.distill.remote_code import STOCK_CLASS_REFUSAL

    folder = export_student(distill_run, tmp_path / "student")
    config = json.loads((folder / "config.json").read_text())
    assert config["transformers_weights"] == STOCK_CLASS_REFUSAL
    assert "/" not in STOCK_CLASS_REFUSAL  # a path-like value could resolve inside the folder
    refusal = (
        r"The transformers file in the config seems to be incorrect: .*: "
        + re.escape(STOCK_CLASS_REFUSAL)
        + "$"
    )
    for stock in (Qwen3VLForConditionalGeneration, Qwen3VLModel):
        with pytest.raises(ValueError, match=refusal) as caught:
            stock.from_pretrained(str(folder))
        message = str(caught.value)
        assert "cuekit.distill.load_student(folder)" in message
        assert "trust_remote_code=True" in message

    # The original failure, reproduced on a copy without the refusal: the stock class
    # loads silently, without the module, and its logits are not the student's.
    unguarded = tmp_path / "unguarded"
    shutil.copytree(folder, unguarded)
    del config["transformers_weights"]
    (unguarded / "config.json").write_text(json.dumps(config))
    stock = Qwen3VLForConditionalGeneration.from_pretrained(str(unguarded))
    assert get_cue_module(stock) is None
    reference, processor = load_student(folder)
    image = Image.new("RGB", (64, 48), (40, 120, 200))
    assert not torch.equal(
        _logits(stock.eval(), processor, image), _logits(reference, processor, image)
    )

    card = (folder / "README.md").read_text()
    assert "`Qwen3VLForConditionalGeneration.from_pretrained(folder)`" in card
    assert f"`ValueError` whose message ends:\n\n  > {STOCK_CLASS_REFUSAL}\n" in card
    assert "loads the base weights *without* the module" not in card
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert "`Qwen3VLForConditionalGeneration.from_pretrained(folder)`" in readme
    assert "One path is not covered" not in readme
    assert STOCK_CLASS_REFUSAL in " ".join(readme.split())
