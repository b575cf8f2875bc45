"""The verl export against verl's dataset contract, and against distill's own tokens.

``verl_dataset_rows`` restates what the ViCuR fork's ``RLHFDataset`` does with a row
(``verl/utils/dataset/rl_dataset.py``, read 2026-11-30): it loads the parquet with
``datasets.load_dataset("parquet")``, splits each message string of ``prompt`` and of
``teacher_prompt`` on ``<image>``/``<video>``, puts the row's ``images`` (the same list
for both prompts) in their place, and asserts the placeholders match the images. A row
that fails is skipped; a file whose rows all fail ends as an empty dataset.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import datasets
import polars as pl
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from cuekit.cli import cli
from cuekit.distill.config import DistillConfig
from cuekit.distill.prompts import PromptStyle, chat_prompt_pair, record_chat_pair
from cuekit.distill.recipe import DistillRecipe
from cuekit.errors import SampleError
from cuekit.evaluate.export import run_export
from cuekit.evaluate.inputs import iter_cue_items
from cuekit.evaluate.verl_reward import compute_score

STYLE = PromptStyle(
    system="You are a careful geometry tutor.", instruction="Put the final answer in \\boxed{}."
)


def _verl_messages(row: dict, key: str) -> list[dict]:
    """One prompt column as verl turns it into chat messages (placeholders -> items)."""
    images = row["images"] or []
    used, messages = 0, []
    for message in row[key]:
        parts = []
        for segment in (s for s in re.split("(<image>|<video>)", message["content"]) if s):
            if segment == "<video>":
                raise AssertionError("row has a <video> placeholder but no videos")
            if segment == "<image>":
                if used >= len(images):
                    raise AssertionError(f"image_offset {used} >= len(images) {len(images)}")
                parts.append(
                    {"type": "image", "image": Image.open(io.BytesIO(images[used]["bytes"]))}
                )
                used += 1
            else:
                parts.append({"type": "text", "text": segment})
        messages.append({"role": message["role"], "content": parts})
    if used != len(images):
        raise AssertionError(f"image_offset {used} != len(images) {len(images)}")
    return messages


def verl_dataset_rows(path: Path) -> list[dict]:
    """The rows verl's dataset keeps: those whose prompts both pass its placeholder check."""
    table = datasets.load_dataset("parquet", data_files=str(path))["train"]
    kept = []
    for row in table:
        try:
            row["raw_prompt"] = _verl_messages(row, "prompt")
            row["teacher_raw_prompt"] = _verl_messages(row, "teacher_prompt")
        except AssertionError:
            continue  # verl prints the error and skips the row
        kept.append(row)
    return kept


def _render(processor, messages: list[dict]):
    """verl's rendering: the chat template, then the processor on the prompt's images."""
    text = processor.apply_chat_template(messages, add_generation_prompt=True)
    images = [
        part["image"].convert("RGB")
        for m in messages
        for part in m["content"]
        if part["type"] == "image"
    ]
    return processor([text], images)


def test_geometry3k_rows_survive_verls_dataset(geometry3k_snapshot, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))
    snapshot = geometry3k_snapshot("geometry3k-snapshot")
    runner = CliRunner()
    result = runner.invoke(
        cli,
        [
            "extract",
            "--dataset",
            str(snapshot),
            "--detector",
            "annotations",
            "-o",
            str(tmp_path / "ex"),
        ],
    )
    assert result.exit_code == 0, result.output
    [path] = run_export(str(tmp_path / "ex"), tmp_path / "verl", "verl", style=STYLE)
    rows = verl_dataset_rows(path)
    assert len(rows) == pl.read_parquet(path).height == 2  # none dropped
    for row in rows:
        # verl's default reward scores geometry3k by this name
        assert row["data_source"] == "hiyouga/geometry3k"
        assert row["prompt"][0] == {"role": "system", "content": STYLE.system}
        user = row["prompt"][1]["content"]
        assert user.count("<image>") == 1 and user.startswith("<image>Find")
        assert user.endswith("\n\nPut the final answer in \\boxed{}.")
    assert [r["reward_model"]["ground_truth"] for r in rows] == ["3", "25.1"]
    assert compute_score("hiyouga/geometry3k", "so \\boxed{25.1}", "25.1") == 1.0


def test_geometry3k_export_without_a_boxed_instruction_warns(
    geometry3k_snapshot, tmp_path, caplog
) -> None:
    from cuekit.datasets.sources import SourceSpec
    from cuekit.pipelines.extract.run import ExtractConfig, run_extract

    run_extract(
        ExtractConfig(
            source=SourceSpec(dataset=str(geometry3k_snapshot("g"))),
            output=tmp_path / "ex",
            detectors=("annotations",),
        )
    )
    with caplog.at_level("WARNING", logger="cuekit.export"):
        run_export(str(tmp_path / "ex"), tmp_path / "plain", "verl")
    assert "2 rows are scored by verl's hiyouga/geometry3k reward" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="cuekit.export"):
        run_export(str(tmp_path / "ex"), tmp_path / "boxed", "verl", style=STYLE)
    assert caplog.text == ""


def test_a_row_verl_would_drop_is_refused(sample_extract, tmp_path) -> None:
    import cuekit.evaluate.export as export

    item = next(iter_cue_items(sample_extract))
    sample = item.record.sample.model_copy(update={"question": "<image>Find x."})
    bad = type(item)(
        record=item.record.model_copy(update={"sample": sample}),
        hint=item.hint,
        image_bytes=item.image_bytes,
    )
    with pytest.raises(
        SampleError,
        match=r"sample .*field 'prompt': prompt holds 2 <image>.*"
        r"for 1 image\(s\); verl would drop the row",
    ):
        export.verl_row(bad, 0)


def test_marked_teacher_images_are_refused(sample_extract, tmp_path) -> None:
    item = next(iter_cue_items(sample_extract))
    marked = type(item)(
        record=item.record,
        hint=item.hint,
        image_bytes=item.image_bytes,
        marked_bytes=item.image_bytes[0],
    )
    from cuekit.evaluate.export import verl_row

    with pytest.raises(
        SampleError,
        match="field 'cue.marked_image': cue style 'marks' gives the teacher a marked image",
    ):
        verl_row(marked, 0)


def test_exported_rows_render_to_the_tokens_distill_trains_on(sample_shards, tmp_path) -> None:
    config = DistillConfig(
        student="tiny-random",
        shards=str(sample_shards),
        output=str(tmp_path / "run"),
        batch_size=6,
        max_steps=1,
        tensorboard=False,
        shuffle_buffer=0,
        system_prompt=STYLE.system,
        instruction=STYLE.instruction,
    )
    recipe = DistillRecipe(config)
    recipe.setup()
    try:
        batch = next(recipe.batches())
        prompts = recipe.step_batch(batch)  # exactly what the training step builds
    finally:
        recipe.cleanup()
    [path] = run_export(str(sample_shards), tmp_path / "verl", "verl", style=STYLE)
    rows = {row["extra_info"]["id"]: row for row in verl_dataset_rows(path)}
    processor = recipe.processor
    assert prompts is not None and len(prompts.chats) == 6
    for sample, chat in zip(batch.samples, prompts.chats, strict=True):
        row = rows[sample.key]
        pair = chat_prompt_pair(processor, recipe.teacher_processor, [chat])
        for side, column in (("student", "raw_prompt"), ("teacher", "teacher_raw_prompt")):
            distilled = getattr(pair, side)
            exported = _render(processor, row[column])
            assert sorted(exported) == sorted(distilled), side
            for key in distilled:
                assert torch.equal(exported[key], distilled[key]), (sample.key, side, key)
        assert row["teacher_prompt"][-1]["content"].endswith(sample.hint)


def test_marks_reach_the_teacher_and_never_the_student(sample_shards) -> None:
    from cuekit.pipelines.read.reader import ShardReader

    sample = next(
        iter(ShardReader(str(sample_shards), shuffle_shards=False, shuffle_buffer=0, seed=0))
    )
    marked = Image.new("RGB", sample.images[0].size, (255, 0, 0))
    pair = record_chat_pair(
        sample.record.sample,
        sample.images,
        cue="[Hint]: mark 1 is A",
        marked_image=marked,
        marked_index=0,
    )
    assert pair.teacher_images == [marked, *sample.images[1:]]
    assert pair.student_images == sample.images
    for privilege in ("answer", "none"):  # the marks are part of the cue only
        other = record_chat_pair(
            sample.record.sample, sample.images, cue="x", marked_image=marked, privilege=privilege
        )
        assert other.teacher_images == sample.images


def test_multiple_choice_rows_show_their_options(geometry3k_snapshot, tmp_path) -> None:
    from cuekit.datasets.sources import SourceSpec
    from cuekit.pipelines.extract.run import ExtractConfig, run_extract

    snapshot = geometry3k_snapshot("copy", with_extras=True)  # id 2401, choices 3/5/7/9
    run_extract(
        ExtractConfig(
            source=SourceSpec(dataset=str(snapshot)),
            output=tmp_path / "ex",
            detectors=("annotations",),
        )
    )
    [path] = run_export(str(tmp_path / "ex"), tmp_path / "verl", "verl")
    [row] = verl_dataset_rows(path)
    assert row["prompt"] == [
        {"role": "user", "content": "<image>Find y.\nChoices:\n(A) 3\n(B) 5\n(C) 7\n(D) 9"}
    ]
    assert row["extra_info"]["id"] == "2401" and row["extra_info"]["choices"] == [
        "3",
        "5",
        "7",
        "9",
    ]
    assert row["reward_model"]["ground_truth"] == "5"
    assert compute_score(row["data_source"], "\\boxed{B}", "5", row["extra_info"]) == 1.0


def test_verl_reward_uses_the_rows_judging_fields() -> None:
    info = {
        "choices": ["12", "14"],
        "question_type": "free_form",
        "answer_type": "integer",
        "precision": None,
        "unit": "cm",
    }
    assert compute_score("x", "\\boxed{B}", "14", info) == 0.0  # free form ignores choices
    assert compute_score("x", "\\boxed{14 cm}", "14", info) == 1.0
    assert compute_score("x", "\\boxed{14.5}", "14", info) == 0.0  # integer answers are whole
    assert compute_score("x", "\\boxed{B}", "14", dict(info, question_type="multi_choice")) == 1.0


def test_reward_reads_the_question_in_extra_info() -> None:
    response = "So $y = 18$, with $x = 9$."
    assert compute_score("geo", response, "9", {"question": "<image>Find x."}) == 1.0
    assert compute_score("geo", response, "9", {"question": "<image>Find y."}) == 0.0
    assert compute_score("geo", response, "9", {}) == 0.0  # without it: the last value
