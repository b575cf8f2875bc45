"""SinkTrack cue recovery module on a 7-layer tiny Qwen3-VL (modules after layers 0 and 5)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from transformers import Qwen3VLConfig

from cuekit.distill.cue_module import (
    CueModuleConfig,
    attach_cue_module,
    cue_module_size,
    detach_cue_module,
    get_cue_module,
    load_student,
    save_student,
    split_parameters,
)
from cuekit.distill.models import enable_activation_checkpointing
from cuekit.distill.prompts import build_prompt_batch, vision_token_ids
from cuekit.distill.tiny import build_tiny_qwen3_vl
from cuekit.errors import ConfigError

NUM_LAYERS = 7  # interval 5 -> modules after layers 0 and 5; layer 6 is the last
QUESTIONS = ["What is the angle?", "How long is side AB in the shaded triangle of the figure?"]


def make_image(seed: int, height: int, width: int) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels)


@pytest.fixture(scope="module")
def tiny():
    return build_tiny_qwen3_vl(seed=0, num_hidden_layers=NUM_LAYERS)


@pytest.fixture()
def model(tiny):
    """A fresh copy of the base model per test (tests attach and detach modules)."""
    base, _ = tiny
    copy, _ = build_tiny_qwen3_vl(seed=0, num_hidden_layers=NUM_LAYERS)
    copy.load_state_dict(base.state_dict())
    return copy.eval()


@pytest.fixture(scope="module")
def processor(tiny):
    return tiny[1]


def images_ab(seed_b: int = 2) -> list[list[Image.Image]]:
    return [[make_image(1, 32, 32)], [make_image(seed_b, 64, 48)]]


def attach_nonzero(model, seed: int = 0, std: float = 0.3):
    """Attach a module whose ``o`` is non-zero, so it changes the logits."""
    torch.manual_seed(seed)
    module = attach_cue_module(model, CueModuleConfig())
    with torch.no_grad():
        for block in module.blocks.values():
            block.o.weight.normal_(std=std)
    return module


def logits_of(model, batch) -> torch.Tensor:
    with torch.no_grad():
        return model(**batch).logits


# -- layout and size ------------------------------------------------------------------
def test_layers_follow_interval_and_skip_last_layer() -> None:
    assert CueModuleConfig().resolve_layers(7) == (0, 5)
    assert CueModuleConfig(interval=5).resolve_layers(6) == (0,)
    assert CueModuleConfig(interval=2).resolve_layers(7) == (0, 2, 4)  # 6 is the last
    assert CueModuleConfig(layers=(4, 1, 4)).resolve_layers(7) == (1, 4)
    with pytest.raises(ConfigError, match=r"cue layers \[6\] are out of range.*last layer, 6"):
        CueModuleConfig(layers=(0, 6)).resolve_layers(7)
    with pytest.raises(ConfigError, match="cue interval must be >= 1, got 0"):
        CueModuleConfig(interval=0)


def real_config(hidden: int, layers: int, heads: int, kv_heads: int) -> Qwen3VLConfig:
    return Qwen3VLConfig(
        text_config={
            "hidden_size": hidden,
            "num_hidden_layers": layers,
            "num_attention_heads": heads,
            "num_key_value_heads": kv_heads,
        }
    )


def test_param_count_of_real_2b_config() -> None:
    size = cue_module_size(real_config(2048, 28, 16, 8))
    assert size.layers == (0, 5, 10, 15, 20, 25)
    assert size.num_modules == 6
    assert size.num_params == 6 * 4 * 2048**2 + 2 * 2048
    assert round(size.num_params / 1e6, 1) == 100.7  # the paper's 100.7M


def test_param_count_of_real_8b_config_excludes_last_layer() -> None:
    # The paper's 8 modules (536.9M) include one after layer 35, the last of 36, which
    # gets no gradient; cuekit stops at layer 30: 7 modules, 469.8M.
    size = cue_module_size(real_config(4096, 36, 32, 8))
    assert size.layers == (0, 5, 10, 15, 20, 25, 30)
    assert size.num_params == 7 * 4 * 4096**2 + 2 * 4096
    assert round(size.num_params / 1e6, 1) == 469.8


def test_attached_module_matches_counted_size(model) -> None:
    module = attach_cue_module(model)
    assert module.layers == (0, 5)
    assert sum(p.numel() for p in module.parameters()) == cue_module_size(model.config).num_params
    backbone, module_params = split_parameters(model)
    assert {id(p) for p in module_params} == {id(p) for p in module.parameters()}
    assert len(backbone) + len(module_params) == len(list(model.parameters()))
    with pytest.raises(ConfigError, match="already has a cue module"):
        attach_cue_module(model)


# -- function -------------------------------------------------------------------------
def test_fresh_module_is_exact_identity(model, processor) -> None:
    batch = build_prompt_batch(processor, QUESTIONS, images_ab())
    base = logits_of(model, batch)
    attach_cue_module(model)
    assert torch.equal(logits_of(model, batch), base)


def test_detach_restores_base_model(model, processor) -> None:
    batch = build_prompt_batch(processor, QUESTIONS, images_ab())
    base = logits_of(model, batch)
    attach_nonzero(model)
    assert not torch.allclose(logits_of(model, batch), base, atol=1e-3)
    detach_cue_module(model)
    assert get_cue_module(model) is None
    assert torch.equal(logits_of(model, batch), base)


def reference_sink_update(
    module,
    layer: int,
    hidden: torch.Tensor,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    im_start_id: int,
    image_id: int,
) -> torch.Tensor:
    """The update written out per sample and per head with plain tensor ops."""
    block, expected = module.blocks[str(layer)], hidden.clone()
    heads, head_dim = block.num_heads, block.head_dim

    def rms(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        return weight * x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6)

    for row in range(hidden.shape[0]):
        real = attention_mask[row].bool()
        sink = int(torch.nonzero((input_ids[row] == im_start_id) & real)[0])
        visual = torch.nonzero(input_ids[row] == image_id).flatten()
        query = rms(hidden[row, sink], module.norm_q.weight) @ block.q.weight.T
        keys_in = rms(hidden[row, visual], module.norm_kv.weight)
        keys, values = keys_in @ block.k.weight.T, keys_in @ block.v.weight.T
        out = []
        for head in range(heads):
            part = slice(head * head_dim, (head + 1) * head_dim)
            weights = torch.softmax(keys[:, part] @ query[part] / head_dim**0.5, dim=0)
            out.append(weights @ values[:, part])
        expected[row, sink] += torch.cat(out) @ block.o.weight.T
    return expected


def test_update_runs_after_deepstack_and_matches_reference(model, processor) -> None:
    batch = build_prompt_batch(processor, QUESTIONS, images_ab())
    layers = model.model.language_model.layers
    captured: dict[str, torch.Tensor] = {}
    # Registered before the module: sees layer 1's input before the cue update.
    layers[0].register_forward_hook(lambda m, a, out: captured.__setitem__("layer0_out", out))
    for index in (1, 6):
        layers[index].register_forward_pre_hook(
            lambda m, a, i=index: captured.__setitem__(f"pre{i}", a[0].clone())
        )
    module = attach_nonzero(model)
    for index in (1, 6):  # registered after the module: sees the updated state
        layers[index].register_forward_pre_hook(
            lambda m, a, i=index: captured.__setitem__(f"post{i}", a[0].clone())
        )
    logits_of(model, batch)

    # DeepStack adds visual features between layer 0's output and layer 1's input.
    image_mask = batch["input_ids"] == processor.image_token_id
    added = captured["pre1"] - captured["layer0_out"]
    assert added[image_mask].abs().min() > 0
    assert torch.equal(added[~image_mask], torch.zeros_like(added[~image_mask]))
    for layer, index in ((0, 1), (5, 6)):
        expected = reference_sink_update(
            module,
            layer,
            captured[f"pre{index}"],
            batch["input_ids"],
            batch["attention_mask"],
            processor.im_start_token_id,
            processor.image_token_id,
        )
        torch.testing.assert_close(captured[f"post{index}"], expected, atol=1e-6, rtol=1e-5)
        changed = (captured[f"post{index}"] != captured[f"pre{index}"]).any(-1)
        assert changed.sum() == 2  # exactly one position (the sink) per sample


def test_each_sample_reads_only_its_own_image(model, processor) -> None:
    attach_nonzero(model)
    first = logits_of(model, build_prompt_batch(processor, QUESTIONS, images_ab(seed_b=2)))
    second = logits_of(model, build_prompt_batch(processor, QUESTIONS, images_ab(seed_b=3)))
    torch.testing.assert_close(second[0], first[0], atol=1e-6, rtol=0)
    assert (second[1] - first[1]).abs().max() > 1e-3


def test_padding_side_and_batching_do_not_change_logits(model, processor) -> None:
    attach_nonzero(model)
    images = images_ab()
    left = build_prompt_batch(processor, QUESTIONS, images, padding_side="left")
    right = build_prompt_batch(processor, QUESTIONS, images, padding_side="right")
    left_logits, right_logits = logits_of(model, left), logits_of(model, right)
    for row in range(2):
        alone = build_prompt_batch(processor, QUESTIONS[row : row + 1], images[row : row + 1])
        alone_logits = logits_of(model, alone)[0]
        length = alone_logits.shape[0]
        assert int(left["attention_mask"][row].sum()) == length
        torch.testing.assert_close(left_logits[row, -length:], alone_logits, atol=1e-5, rtol=0)
        torch.testing.assert_close(right_logits[row, :length], alone_logits, atol=1e-5, rtol=0)
    assert left["attention_mask"][0, 0] == 0 and right["attention_mask"][0, -1] == 0


def test_rows_without_image_are_left_alone(model, processor) -> None:
    batch = build_prompt_batch(processor, QUESTIONS, [[make_image(1, 32, 32)], []])
    base = logits_of(model, batch)
    attach_nonzero(model)
    with_module = logits_of(model, batch)
    torch.testing.assert_close(with_module[1], base[1], atol=1e-6, rtol=0)
    assert (with_module[0] - base[0]).abs().max() > 1e-3


def test_image_without_sink_is_an_error(model, processor) -> None:
    attach_nonzero(model)
    batch = processor(
        ["<|vision_start|><|image_pad|><|vision_end|>What is it?"], [make_image(1, 32, 32)]
    )
    with pytest.raises(ValueError, match=r"samples \[0\] have image tokens but no <\|im_start\|>"):
        logits_of(model, batch)


def test_generate_runs_module_at_prefill_only(model, processor) -> None:
    module = attach_nonzero(model)
    batch = build_prompt_batch(processor, QUESTIONS, images_ab())
    calls: list[tuple[str, int]] = []
    forwards: list[int] = []
    model.model.register_forward_pre_hook(
        lambda m, a, kw: forwards.append(kw["input_ids"].shape[1]), with_kwargs=True
    )
    for name, submodule in module.named_modules():
        submodule.register_forward_pre_hook(lambda m, a, n=name: calls.append((n, len(forwards))))
    new_tokens = 6
    generated = model.generate(
        **batch,
        max_new_tokens=new_tokens,
        min_new_tokens=new_tokens,
        do_sample=False,
        suppress_tokens=vision_token_ids(processor),
    )
    assert len(forwards) == new_tokens and forwards[1:] == [1] * (new_tokens - 1)
    # All calls happen in the first (prefill) forward: each block once, each norm per block.
    assert all(step == 1 for _, step in calls)
    assert sorted(name for name, _ in calls if name.startswith("blocks.")) == [
        "blocks.0",
        "blocks.0.k",
        "blocks.0.o",
        "blocks.0.q",
        "blocks.0.v",
        "blocks.5",
        "blocks.5.k",
        "blocks.5.o",
        "blocks.5.q",
        "blocks.5.v",
    ]
    assert [name for name, _ in calls].count("norm_q") == 2
    # Cached decoding equals greedy decoding by full teacher-forced forwards (no cache).
    prompt_length = batch["input_ids"].shape[1]
    sequence = batch["input_ids"]
    for _ in range(new_tokens):
        extended = dict(batch)
        extended["input_ids"] = sequence
        pad = sequence.shape[1] - prompt_length
        extended["attention_mask"] = torch.nn.functional.pad(
            batch["attention_mask"], (0, pad), value=1
        )
        extended["mm_token_type_ids"] = torch.nn.functional.pad(
            batch["mm_token_type_ids"], (0, pad)
        )
        logits = logits_of(model, extended)[:, -1]
        logits[:, vision_token_ids(processor)] = float("-inf")
        sequence = torch.cat([sequence, logits.argmax(-1, keepdim=True)], dim=1)
    assert torch.equal(generated, sequence)


def test_gradients_reach_every_module_parameter(model, processor) -> None:
    batch = build_prompt_batch(processor, QUESTIONS, images_ab())
    module = attach_cue_module(model)
    model(**batch).logits.float().pow(2).mean().backward()
    # At init only ``o`` (zero) gets a gradient: q/k/v/norm sit behind it.
    for name, param in module.named_parameters():
        assert (param.grad.abs().sum() > 0) == name.endswith(".o.weight"), name
    model.zero_grad(set_to_none=True)
    with torch.no_grad():
        for block in module.blocks.values():
            block.o.weight.normal_(std=0.3)
    model(**batch).logits.float().pow(2).mean().backward()
    for name, param in module.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name


def test_gradient_checkpointing_gives_same_gradients(model, processor) -> None:
    batch = build_prompt_batch(processor, QUESTIONS, images_ab())
    module = attach_nonzero(model)
    counts = {"attention": 0, "block": 0}
    model.model.language_model.layers[3].self_attn.register_forward_pre_hook(
        lambda *_: counts.__setitem__("attention", counts["attention"] + 1)
    )
    module.blocks["5"].register_forward_pre_hook(
        lambda *_: counts.__setitem__("block", counts["block"] + 1)
    )
    grads = []
    for checkpointing in (False, True):
        model.zero_grad(set_to_none=True)
        if checkpointing:
            enable_activation_checkpointing(model)
        model.train()
        model(**batch, use_cache=False).logits.float().pow(2).mean().backward()
        grads.append({n: p.grad.clone() for n, p in module.named_parameters()})
    # Checkpointing replays layer 3 in backward. transformers 5.2x checkpoints forward, so
    # the cue hook runs outside the replay; 5.1x checkpoints __call__ and replays it too.
    from transformers.modeling_layers import GradientCheckpointingLayer

    replays_hooks = "__call__" in GradientCheckpointingLayer.__dict__
    assert counts == {"attention": 3, "block": 3 if replays_hooks else 2}
    for name in grads[0]:
        torch.testing.assert_close(grads[1][name], grads[0][name], atol=1e-6, rtol=1e-4)


def test_save_and_load_student_round_trip(model, processor, tmp_path) -> None:
    module = attach_nonzero(model)
    batch = build_prompt_batch(processor, QUESTIONS, images_ab())
    settings = {
        "max_new_tokens": 8,
        "do_sample": False,
        "suppress_tokens": vision_token_ids(processor),
    }
    generated = model.generate(**batch, **settings)
    save_student(model, processor, tmp_path)
    record = json.loads((tmp_path / "cue_module.json").read_text())
    assert record == {
        "format_version": 1,
        "interval": 5,
        "layers": [0, 5],
        "num_heads": 4,
        "init_std": 0.02,
        "im_start_token_id": processor.im_start_token_id,
        "hidden_size": 64,
    }
    loaded, loaded_processor = load_student(tmp_path)
    loaded_module = get_cue_module(loaded)
    assert loaded_module is not None and loaded_module.layers == (0, 5)
    for name, tensor in module.state_dict().items():
        assert torch.equal(loaded_module.state_dict()[name], tensor), name
    reloaded_batch = build_prompt_batch(loaded_processor, QUESTIONS, images_ab())
    assert torch.equal(reloaded_batch["input_ids"], batch["input_ids"])
    assert torch.equal(loaded.generate(**reloaded_batch, **settings), generated)


def test_attach_refuses_other_models() -> None:
    with pytest.raises(
        ConfigError, match="attaches to a Qwen3VLForConditionalGeneration, got Linear"
    ):
        attach_cue_module(torch.nn.Linear(2, 2))
