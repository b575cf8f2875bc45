"""Model registry, the offline tiny-random Qwen3-VL, its tokenizer and processor."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from cuekit.distill.models import MODEL_ALIASES, load_model, resolve_dtype, resolve_model_id
from cuekit.distill.processor import ImageOnlyProcessor
from cuekit.distill.tiny import SPECIAL_TOKENS, build_tiny_qwen3_vl, build_tiny_tokenizer
from cuekit.errors import ModelLoadError

QUESTION = "What is the area of the shaded region?"
PROMPT = (
    "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>"
    f"{QUESTION}<|im_end|>\n<|im_start|>assistant\n"
)


def make_image(seed: int, height: int, width: int) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels)


@pytest.fixture(scope="module")
def tiny():
    return build_tiny_qwen3_vl(seed=0)


def test_aliases_resolve_to_instruct_checkpoints() -> None:
    assert {alias: resolve_model_id(alias) for alias in MODEL_ALIASES} == {
        "qwen3-vl-2b": "Qwen/Qwen3-VL-2B-Instruct",
        "qwen3-vl-4b": "Qwen/Qwen3-VL-4B-Instruct",
        "qwen3-vl-8b": "Qwen/Qwen3-VL-8B-Instruct",
        "qwen3-vl-32b": "Qwen/Qwen3-VL-32B-Instruct",
    }
    assert resolve_model_id("Qwen3-VL-2B") == "Qwen/Qwen3-VL-2B-Instruct"
    assert resolve_model_id("org/some-model") == "org/some-model"
    assert resolve_model_id("./runs/step-10") == "./runs/step-10"
    assert resolve_model_id("tiny-random") == "tiny-random"
    with pytest.raises(ModelLoadError, match="model name is empty"):
        resolve_model_id("  ")


def test_resolve_dtype() -> None:
    assert resolve_dtype(None) is None
    assert resolve_dtype("bfloat16") is torch.bfloat16
    assert resolve_dtype(torch.float16) is torch.float16
    with pytest.raises(ValueError, match="dtype must be one of .* got 'int8'"):
        resolve_dtype("int8")


def test_tiny_config_field_by_field(tiny) -> None:
    model, processor = tiny
    text, vision = model.config.text_config, model.config.vision_config
    assert (
        text.hidden_size,
        text.num_hidden_layers,
        text.num_attention_heads,
        text.num_key_value_heads,
        text.head_dim,
    ) == (64, 2, 4, 2, 16)
    assert text.rope_parameters["mrope_section"] == [2, 3, 3]
    assert text.vocab_size == len(processor.tokenizer)
    assert (vision.depth, vision.hidden_size, vision.out_hidden_size) == (2, 32, 64)
    assert list(vision.deepstack_visual_indexes) == [0, 1]
    assert model.config.image_token_id == processor.image_token_id
    assert model.config.vision_start_token_id == processor.vision_start_token_id
    assert not model.training


def test_tiny_weights_follow_the_seed() -> None:
    first, _ = build_tiny_qwen3_vl(seed=3)
    second, _ = build_tiny_qwen3_vl(seed=3)
    other, _ = build_tiny_qwen3_vl(seed=4)
    state, state_other = first.state_dict(), other.state_dict()
    assert all(torch.equal(tensor, second.state_dict()[name]) for name, tensor in state.items())
    assert not torch.equal(state["lm_head.weight"], state_other["lm_head.weight"])


def test_tiny_tokenizer_is_deterministic_byte_level_with_qwen_specials() -> None:
    tokenizer = build_tiny_tokenizer()
    again = build_tiny_tokenizer()
    assert tokenizer.get_vocab() == again.get_vocab()
    vocab = tokenizer.get_vocab()
    special_ids = [vocab[token] for token in SPECIAL_TOKENS]
    # Qwen's order, right after the trained pieces.
    assert special_ids == list(range(special_ids[0], special_ids[0] + len(SPECIAL_TOKENS)))
    assert tokenizer.eos_token == "<|im_end|>" and tokenizer.pad_token == "<|endoftext|>"
    text = "Find angle ABC = 45°, résumé ÿ!\n<|im_start|>"
    ids = tokenizer.encode(text, add_special_tokens=False)
    assert ids[-1] == vocab["<|im_start|>"]
    assert tokenizer.decode(ids) == text  # byte-level: any text round-trips
    # Words of the built-in corpus are whole pieces.
    assert tokenizer.convert_ids_to_tokens(
        tokenizer.encode("What is the shaded region", add_special_tokens=False)
    ) == ["What", "Ġis", "Ġthe", "Ġshaded", "Ġregion"]


def test_processor_expands_images_and_marks_them(tiny) -> None:
    _, processor = tiny
    images = [make_image(1, 32, 32), make_image(2, 64, 48)]
    batch = processor([PROMPT, PROMPT.replace(QUESTION, "Why?")], images)
    assert batch["image_grid_thw"].tolist() == [[1, 4, 4], [1, 8, 6]]
    image_tokens = (batch["input_ids"] == processor.image_token_id).sum(dim=1)
    assert image_tokens.tolist() == [4, 12]  # grid / merge_size**2
    assert torch.equal(
        batch["mm_token_type_ids"], (batch["input_ids"] == processor.image_token_id).long()
    )
    assert batch["pixel_values"].shape == (16 + 48, 3 * 2 * 8 * 8)
    # Left padding by default: the first prompt (4 image tokens, not 12) is the shorter.
    pad = processor.tokenizer.pad_token_id
    padding = int((batch["attention_mask"][0] == 0).sum())
    assert padding > 0 and batch["attention_mask"][1].all()
    assert batch["input_ids"][0, :padding].eq(pad).all()
    assert batch["attention_mask"][0, padding:].all()
    text = processor.decode(batch["input_ids"][0, padding:])
    assert text == PROMPT.replace("<|image_pad|>", "<|image_pad|>" * 4)


def test_processor_chat_template(tiny) -> None:
    _, processor = tiny
    user = {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": QUESTION}]}
    messages = [{"role": "system", "content": "Be brief."}, user]
    expected = "<|im_start|>system\nBe brief.<|im_end|>\n" + PROMPT
    assert processor.apply_chat_template(messages) == expected
    assert processor.apply_chat_template(messages, add_generation_prompt=False).endswith(
        "<|im_end|>\n"
    )


def test_processor_rejects_count_mismatch(tiny) -> None:
    _, processor = tiny
    with pytest.raises(ValueError, match="the text has 1 image placeholders but 2 images"):
        processor([PROMPT], [make_image(1, 32, 32), make_image(2, 32, 32)])


def test_save_and_reload_gives_identical_generations(tiny, tmp_path) -> None:
    model, processor = tiny
    batch = processor([PROMPT], [make_image(1, 40, 50)])
    settings = {"max_new_tokens": 6, "do_sample": False}
    with torch.no_grad():
        generated = model.generate(**batch, **settings)
    model.save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)
    loaded, loaded_processor = load_model(str(tmp_path))
    assert isinstance(loaded_processor, ImageOnlyProcessor)
    assert loaded_processor.tokenizer.get_vocab() == processor.tokenizer.get_vocab()
    assert loaded_processor.chat_template == processor.chat_template
    reloaded = loaded_processor([PROMPT], [make_image(1, 40, 50)])
    for key, value in batch.items():
        assert torch.equal(reloaded[key], value), key
    with torch.no_grad():
        assert torch.equal(loaded.generate(**reloaded, **settings), generated)


def test_load_tiny_random_in_bf16() -> None:
    model, processor = load_model("tiny-random", dtype="bfloat16")
    assert model.dtype == torch.bfloat16 and not model.training
    assert isinstance(processor, ImageOnlyProcessor)


def test_non_qwen3_vl_model_is_refused(tmp_path) -> None:
    from transformers import Qwen2Config

    Qwen2Config(
        vocab_size=64,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
    ).save_pretrained(tmp_path)
    with pytest.raises(ModelLoadError) as error:
        load_model(str(tmp_path))
    assert str(error.value) == (
        f"model {str(tmp_path)!r} is a qwen2, not a Qwen3-VL (config.model_type must be 'qwen3_vl')"
    )


def test_missing_local_folder_is_a_load_error(tmp_path) -> None:
    missing = str(tmp_path / "nowhere")
    with pytest.raises(ModelLoadError, match=f"local path '{missing}' does not exist"):
        load_model(missing)
