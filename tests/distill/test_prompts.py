"""Student/teacher prompts, the tokenizer check, and prompt + response scoring batches."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from cuekit.distill.processor import ImageOnlyProcessor
from cuekit.distill.prompts import (
    append_hint,
    build_prompt_batch,
    build_prompt_pair,
    build_scoring_batch,
    check_same_tokenizer,
    response_mask_until_stop,
    vision_token_ids,
)
from cuekit.distill.tiny import build_tiny_qwen3_vl, build_tiny_tokenizer
from cuekit.errors import ConfigError

QUESTIONS = ["What is the angle?", "Find the length of side AB."]
HINTS = ["the arc AB subtends 60 degrees", None]


def make_image(seed: int, height: int, width: int) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels)


IMAGES = [[make_image(1, 32, 32)], [make_image(2, 48, 64), make_image(3, 32, 32)]]


@pytest.fixture(scope="module")
def tiny():
    return build_tiny_qwen3_vl(seed=0)


def unpadded_text(processor: ImageOnlyProcessor, batch, row: int) -> str:
    ids = batch["input_ids"][row][batch["attention_mask"][row].bool()]
    return processor.decode(ids)


def test_append_hint() -> None:
    assert append_hint("Q?", "two chords") == "Q?\n\n[Hint]: two chords"
    assert append_hint("Q?", " [Hint]: already labelled ") == "Q?\n\n[Hint]: already labelled"
    assert append_hint("Q?", None) == "Q?"
    assert append_hint("Q?", "  ") == "Q?"


def test_teacher_prompt_is_student_prompt_plus_hint(tiny) -> None:
    _, processor = tiny
    pair = build_prompt_pair(processor, processor, QUESTIONS, IMAGES, HINTS)
    student_0 = unpadded_text(processor, pair.student, 0)
    teacher_0 = unpadded_text(processor, pair.teacher, 0)
    assert student_0.endswith(f"{QUESTIONS[0]}<|im_end|>\n<|im_start|>assistant\n")
    assert teacher_0 == student_0.replace(
        f"{QUESTIONS[0]}<|im_end|>", f"{QUESTIONS[0]}\n\n[Hint]: {HINTS[0]}<|im_end|>"
    )
    assert student_0.startswith("<|im_start|>user\n<|vision_start|>")
    # No hint: identical prompts. Two images: two placeholder groups, in order.
    assert unpadded_text(processor, pair.teacher, 1) == unpadded_text(processor, pair.student, 1)
    assert unpadded_text(processor, pair.student, 1).count("<|vision_start|>") == 2
    assert torch.equal(pair.teacher["pixel_values"], pair.student["pixel_values"])
    assert pair.student["image_grid_thw"].tolist() == [[1, 4, 4], [1, 6, 8], [1, 4, 4]]
    for batch in (pair.student, pair.teacher):  # left-padded for generation
        assert batch["attention_mask"][:, -1].all()


def test_prompt_batch_validates_lengths(tiny) -> None:
    _, processor = tiny
    with pytest.raises(ValueError, match="got 2 questions but 1 image lists"):
        build_prompt_batch(processor, QUESTIONS, IMAGES[:1])
    with pytest.raises(ValueError, match="got 2 questions but 1 hints"):
        build_prompt_batch(processor, QUESTIONS, IMAGES, hints=["x"])


def test_tokenizer_mismatch_is_a_config_error(tiny) -> None:
    _, processor = tiny
    other_tokenizer = build_tiny_tokenizer()
    other_tokenizer.add_tokens(["<extra_a>", "<extra_b>"])
    other = ImageOnlyProcessor(other_tokenizer, processor.image_processor, processor.chat_template)
    with pytest.raises(ConfigError) as error:
        build_prompt_pair(processor, other, QUESTIONS, IMAGES, HINTS)
    assert str(error.value) == (
        "tokenizer mismatch: vocab sizes 542 vs 544, 0 tokens only in the student (e.g. []), "
        "2 only in the teacher (e.g. ['<extra_a>', '<extra_b>']), 0 with different ids "
        "(e.g. []); student and teacher must share one tokenizer so both score identical "
        "response token ids; pick a teacher from the same model family"
    )


def test_special_token_mismatch_is_named() -> None:
    student = build_tiny_tokenizer()
    teacher = build_tiny_tokenizer()
    teacher.pad_token = "<|im_end|>"
    with pytest.raises(
        ConfigError,
        match=r"tokenizer mismatch: pad_token_id is 528 for the "
        r"student but 530 for the teacher",
    ):
        check_same_tokenizer(student, teacher)
    check_same_tokenizer(student, build_tiny_tokenizer())  # same tokenizer: no error


def test_response_mask_until_stop() -> None:
    ids = torch.tensor([[5, 6, 9, 7, 9], [5, 5, 5, 5, 5], [9, 1, 1, 1, 1]])
    mask = response_mask_until_stop(ids, [9, 8])
    expected = [[1 if 9 not in row[:t] else 0 for t in range(len(row))] for row in ids.tolist()]
    assert mask.tolist() == expected == [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]]


def test_scoring_batches_share_identical_response_ids(tiny) -> None:
    _, processor = tiny
    pair = build_prompt_pair(processor, processor, QUESTIONS, IMAGES, HINTS)
    response = torch.tensor([[300, 301, processor.im_end_token_id, 528], [302, 303, 304, 305]])
    mask = response_mask_until_stop(response, [processor.im_end_token_id])
    student = build_scoring_batch(pair.student, response, mask)
    teacher = build_scoring_batch(pair.teacher, response, mask)
    assert teacher.prompt_length > student.prompt_length  # the hint is longer
    for scored, prompts in ((student, pair.student), (teacher, pair.teacher)):
        length = scored.prompt_length
        assert torch.equal(scored.inputs["input_ids"][:, length:], response)
        assert torch.equal(scored.inputs["input_ids"][:, :length], prompts["input_ids"])
        assert torch.equal(scored.inputs["attention_mask"][:, length:], mask)
        assert not scored.inputs["mm_token_type_ids"][:, length:].any()
        assert torch.equal(scored.inputs["pixel_values"], prompts["pixel_values"])
        assert scored.logits_to_keep == 5
        positions = range(scored.inputs["input_ids"].shape[1])[scored.predictor_positions]
        assert [p + 1 for p in positions] == list(range(length, length + 4))
    assert torch.equal(student.response_ids, teacher.response_ids)


def test_scored_log_probs_match_unpadded_single_forwards(tiny) -> None:
    model, processor = tiny
    prompts = build_prompt_batch(processor, QUESTIONS, IMAGES)
    response = torch.tensor([[300, 301, processor.im_end_token_id, 528], [302, 303, 304, 305]])
    mask = response_mask_until_stop(response, [processor.im_end_token_id])
    scored = build_scoring_batch(prompts, response, mask)
    with torch.no_grad():
        logits = model(**scored.inputs, logits_to_keep=scored.logits_to_keep).logits[:, :-1]
    log_probs = torch.log_softmax(logits, -1).gather(-1, response[..., None])[..., 0]
    for row in range(2):
        alone = build_prompt_batch(processor, QUESTIONS[row : row + 1], IMAGES[row : row + 1])
        kept = int(mask[row].sum())
        full = dict(alone)
        full["input_ids"] = torch.cat([alone["input_ids"], response[row : row + 1, :kept]], 1)
        full["attention_mask"] = torch.ones_like(full["input_ids"])
        full["mm_token_type_ids"] = torch.nn.functional.pad(alone["mm_token_type_ids"], (0, kept))
        with torch.no_grad():
            row_logits = model(**full).logits[0, -kept - 1 : -1]
        expected = torch.log_softmax(row_logits, -1).gather(-1, response[row, :kept, None])[..., 0]
        torch.testing.assert_close(log_probs[row, :kept], expected, atol=1e-5, rtol=0)


def test_scoring_batch_errors(tiny) -> None:
    _, processor = tiny
    left = build_prompt_batch(processor, QUESTIONS, IMAGES)
    right = build_prompt_batch(processor, QUESTIONS, IMAGES, padding_side="right")
    response = torch.tensor([[300, 301], [302, 303]])
    mask = torch.ones_like(response)
    with pytest.raises(ValueError, match="prompts must be left-padded"):
        build_scoring_batch(right, response, mask)
    with pytest.raises(ValueError, match=r"response_ids must be \(B=2, R\), got \(1, 2\)"):
        build_scoring_batch(left, response[:1], mask[:1])
    with pytest.raises(ValueError, match=r"response_mask must have shape \(2, 2\), got \(2, 1\)"):
        build_scoring_batch(left, response, mask[:, :1])
    bad = torch.tensor([[300, processor.image_token_id], [302, 303]])
    with pytest.raises(ValueError, match="the response contains vision placeholder tokens"):
        build_scoring_batch(left, bad, mask, forbidden_token_ids=vision_token_ids(processor))


def test_selected_prompt_rows_equal_tokenizing_those_rows_alone(tiny) -> None:
    """A step tokenizes its prompts once; a rollout chunk or a micro-batch selects rows
    and gets exactly the tensors tokenizing them alone gives (padding trimmed, each
    row's own image patches), so training computes what it computed before."""
    from cuekit.distill.prompts import PromptRows, PromptStyle, build_chat_pair, pair_batch

    _, processor = tiny
    images = [[make_image(10 + i, 32 + 16 * (i % 3), 32)] * (1 + i % 2) for i in range(5)]
    pairs = [
        build_chat_pair(
            f"Question {i}?" + " more words" * i,
            ims,
            cue=f"cue {i} " * (i + 1),
            style=PromptStyle(system="Be brief."),
        )
        for i, ims in enumerate(images)
    ]
    for side in ("student", "teacher"):
        rows = PromptRows.tokenize(processor, pairs, side)
        for selected in ([0], [2, 4], [4, 4, 1], [3, 0, 0, 2], list(range(5))):
            alone = pair_batch(processor, [pairs[i] for i in selected], side)
            got = rows.select(selected).inputs
            assert set(got) == set(alone)
            for key in alone:
                assert torch.equal(got[key], alone[key]), (side, selected, key)
