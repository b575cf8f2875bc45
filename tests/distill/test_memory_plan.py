"""The memory plan's arithmetic, checked against numbers worked out by hand."""

from __future__ import annotations

from dataclasses import replace

import pytest

from cuekit.distill.memory_plan import (
    GB,
    QWEN3_VL_2B,
    QWEN3_VL_8B,
    RunShape,
    check_fit,
    fewest_checkpoint_layers,
    logits_bytes,
    memory_plan,
    student_activation_bytes,
)


def test_2b_parameter_counts_by_hand():
    # per layer: q 2048*2048 + k,v 2*2048*1024 + o 2048*2048 + q/k norms 2*128
    #            + MLP 3*2048*6144 + two norms 2*2048
    per_layer = 4_194_304 + 4_194_304 + 4_194_304 + 256 + 37_748_736 + 4_096
    embeddings = 151_936 * 2048  # tied: counted once
    assert QWEN3_VL_2B.text_params() == 28 * per_layer + embeddings + 2048
    # vision: 24 blocks of 4*1024^2 + 2*1024*4096, mergers (1 + 3) * (4096^2 + 4096*2048)
    assert QWEN3_VL_2B.vision_params() == 24 * 12_582_912 + 4 * (16_777_216 + 8_388_608)
    assert QWEN3_VL_2B.params() == 2_123_228_160  # the published 2B is ~2.1B
    # docs/method.md §1: 6 modules, 100.7M params for the 2B
    assert QWEN3_VL_2B.cue_modules() == 6
    assert QWEN3_VL_2B.cue_module_params() == 6 * 4 * 2048 * 2048 + 2 * 2048


def test_8b_parameter_counts_by_hand():
    per_layer = 16_777_216 + 2 * 4_194_304 + 16_777_216 + 256 + 150_994_944 + 8_192
    embeddings = 2 * 151_936 * 4096  # untied: embedding and lm_head
    assert QWEN3_VL_8B.text_params() == 36 * per_layer + embeddings + 4096
    assert QWEN3_VL_8B.params() == 8_762_237_952  # the published 8B is ~8.8B
    # layers 0, 5, ..., 30: cuekit never puts a module after the last layer (35), so 7
    # modules where the released code's 8 include one that gets no gradient.
    assert QWEN3_VL_8B.cue_modules() == 7


def test_kv_cache_and_logits_by_hand():
    # 2 (K, V) * 28 layers * 8 heads * 128 dims * 2 bytes
    assert QWEN3_VL_2B.kv_bytes_per_token() == 114_688
    run = RunShape()
    assert logits_bytes(QWEN3_VL_2B, 6144, run, train=True) == 512 * 151_936 * 4 * 2
    full = replace(run, chunked_logprobs=False)
    # bf16 logits + fp32 copy + fp32 log-softmax + its fp32 gradient = 14 bytes per entry
    assert logits_bytes(QWEN3_VL_2B, 6144, full, train=True) == 6144 * 151_936 * 14
    assert logits_bytes(QWEN3_VL_2B, 6144, full, train=False) == 6144 * 151_936 * 10


def test_activation_checkpointing_by_hand():
    run = RunShape(micro_batch=1)
    # 26 d + 8 I + 10 q + 10 kv + 8 hd = 53,248 + 49,152 + 20,480 + 10,240 + 1,024
    assert QWEN3_VL_2B.layer_saved_bytes() == 134_144  # measured on the real shape: 134,312
    layer = 6144 * 134_144
    casts = 2 * QWEN3_VL_2B.text_params()  # autocast's bf16 weight copies
    all_layers = 28 * 6144 * 2048 * 4 + layer + casts  # fp32 inputs + one recompute
    assert student_activation_bytes(QWEN3_VL_2B, run) == all_layers
    plain = replace(run, grad_checkpointing=False)
    assert student_activation_bytes(QWEN3_VL_2B, plain) == 28 * layer + casts
    some = replace(run, checkpoint_layers=12)
    assert student_activation_bytes(QWEN3_VL_2B, some) == (
        12 * 6144 * 2048 * 4 + 16 * layer + layer + casts
    )
    none = replace(run, checkpoint_layers=0)
    assert student_activation_bytes(QWEN3_VL_2B, none) == 28 * layer + casts


def _saved_bytes_per_token(hidden, intermediate, heads, kv_heads, head_dim, tokens=96):
    """What one HF Qwen3-VL text layer saves for backward (fp32 weights, bf16 autocast)."""
    import torch
    from transformers import Qwen3VLTextConfig
    from transformers.models.qwen3_vl.modeling_qwen3_vl import (
        Qwen3VLTextDecoderLayer,
        Qwen3VLTextRotaryEmbedding,
    )

    config = Qwen3VLTextConfig(
        hidden_size=hidden,
        intermediate_size=intermediate,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        head_dim=head_dim,
        num_hidden_layers=1,
        vocab_size=16,
        rope_parameters={
            "rope_type": "default",
            "rope_theta": 10_000.0,
            "mrope_section": [2, 3, 3],
        },
    )
    config._attn_implementation = "sdpa"
    layer = Qwen3VLTextDecoderLayer(config, 0)
    x = torch.randn(1, tokens, hidden, requires_grad=True)
    rope = Qwen3VLTextRotaryEmbedding(config)(x, torch.arange(tokens)[None].expand(3, 1, -1))
    weights = {p.untyped_storage().data_ptr() for p in layer.parameters()}
    saved = {}

    def pack(tensor):
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in weights and tokens in tensor.shape:
            saved[storage.data_ptr()] = storage.nbytes()
        return tensor

    with (
        torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t),
        torch.autocast("cpu", dtype=torch.bfloat16),
    ):
        layer(x, attention_mask=None, position_embeddings=rope)
    return sum(saved.values()) / tokens


@pytest.mark.parametrize("dims", [(64, 128, 4, 2, 16), (256, 512, 4, 2, 64), (128, 384, 8, 4, 16)])
def test_saved_bytes_formula_matches_a_measured_layer(dims):
    hidden, intermediate, heads, kv_heads, head_dim = dims
    shape = replace(
        QWEN3_VL_2B,
        hidden=hidden,
        intermediate=intermediate,
        heads=heads,
        kv_heads=kv_heads,
        head_dim=head_dim,
    )
    measured = _saved_bytes_per_token(*dims)
    assert measured == pytest.approx(shape.layer_saved_bytes(), rel=0.025)


def test_fewest_checkpoint_layers_is_the_smallest_count_that_fits():
    run = RunShape(rollout_batch=16)
    fewest = fewest_checkpoint_layers(QWEN3_VL_2B, QWEN3_VL_8B, run, device_gb=80.0)
    assert fewest is not None and 0 < fewest < 28  # the paper's setting: some, not all
    budget = 72 * GB

    def peak(count):
        shaped = replace(run, grad_checkpointing=count > 0, checkpoint_layers=count)
        return memory_plan(QWEN3_VL_2B, QWEN3_VL_8B, shaped).peak

    assert peak(fewest) <= budget < peak(fewest - 1)
    # More memory: nothing needs checkpointing; far less: not even all layers fit.
    assert fewest_checkpoint_layers(QWEN3_VL_2B, QWEN3_VL_8B, run, device_gb=141.0) == 0
    assert fewest_checkpoint_layers(QWEN3_VL_2B, QWEN3_VL_8B, run, device_gb=40.0) is None


def test_plan_totals_are_sums_of_items():
    run = RunShape(rollout_batch=16)
    plan = memory_plan(QWEN3_VL_2B, QWEN3_VL_8B, run)
    items = plan.items
    student = QWEN3_VL_2B.params() + QWEN3_VL_2B.cue_module_params()
    assert items["student weights (fp32)"] == student * 4
    assert items["AdamW states (2 x fp32)"] == student * 8
    assert items["teacher weights (bf16)"] == QWEN3_VL_8B.params() * 2
    assert items["rollout KV cache (bf16)"] == 16 * 6144 * 114_688
    static = student * 16 + QWEN3_VL_8B.params() * 2
    copies = 2 * QWEN3_VL_2B.params()  # autocast's bf16 weight casts, cached per rollout
    assert items["rollout bf16 weight copies"] == copies
    assert plan.rollout_phase == static + 16 * 6144 * 114_688 + 16 * 151_936 * 4 + copies
    assert plan.peak == max(plan.rollout_phase, plan.update_phase)
    assert "peak" in plan.table()


def test_2b_student_8b_teacher_paper_batch_fits_80gb():
    """Prompt 2048 + response 4096, batch 128 via micro-batching, on one 80 GB GPU."""
    result = check_fit(QWEN3_VL_2B, QWEN3_VL_8B, RunShape(batch_size=128, rollout_batch=128))
    assert result.fits
    # All 128 rollouts at once need 128 * 6144 * 114,688 B = 90.2 GB of KV cache alone,
    # so the check halves the rollout batch until it fits within 72 GB (10% headroom).
    assert result.run.rollout_batch == 16
    assert result.plan.peak <= 72 * GB
    assert "fits in 80 GB" in result.summary()


def test_full_vocab_without_checkpointing_does_not_fit_the_update():
    run = RunShape(micro_batch=2, rollout_batch=1, grad_checkpointing=False, chunked_logprobs=False)
    result = check_fit(QWEN3_VL_2B, QWEN3_VL_8B, run)
    assert not result.fits
    assert result.plan.update_phase > 72 * GB
    assert "does NOT fit" in result.summary()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"device_gb": 0}, "device_gb must be > 0, got 0"),
        ({"headroom": 1.0}, "headroom must be in [0, 1), got 1.0"),
    ],
)
def test_check_fit_rejects_bad_budget(kwargs, message):
    with pytest.raises(ValueError) as info:
        check_fit(QWEN3_VL_2B, QWEN3_VL_8B, RunShape(), **kwargs)
    assert str(info.value) == message


def test_run_shape_rejects_zero_batch():
    with pytest.raises(ValueError, match=r"^micro_batch must be >= 1, got 0$"):
        RunShape(micro_batch=0)


def test_startup_plan_reports_the_checkpointed_layers_and_the_verdict():
    from cuekit.distill.memory_plan import startup_plan

    run = RunShape(rollout_batch=16, checkpoint_layers=12)
    text = startup_plan(QWEN3_VL_2B, QWEN3_VL_8B, run, device_gb=80.0)
    plan = memory_plan(QWEN3_VL_2B, QWEN3_VL_8B, run)
    assert text.startswith(plan.table())
    assert "checkpointed decoder layers: 12 of 28" in text
    assert "fits on this 80 GB device (10% headroom)" in text
    tight = startup_plan(
        QWEN3_VL_2B, QWEN3_VL_8B, replace(run, checkpoint_layers=0), device_gb=80.0
    )
    assert "may NOT fit on this 80 GB device" in tight and "--checkpoint-layers" in tight
    assert "device" not in startup_plan(QWEN3_VL_2B, QWEN3_VL_8B, run)  # no GPU: no verdict


def test_a_compiled_rollout_keeps_its_cache_and_weight_copies_through_the_update():
    run = RunShape(rollout_batch=16)
    eager = memory_plan(QWEN3_VL_2B, QWEN3_VL_8B, run)
    compiled = memory_plan(QWEN3_VL_2B, QWEN3_VL_8B, replace(run, compiled_rollout=True))
    copies = 2 * QWEN3_VL_2B.text_params()  # the decode path's linears only
    assert compiled.items["rollout bf16 weight copies"] == copies
    assert compiled.update_phase == eager.update_phase + 16 * 6144 * 114_688 + copies
    assert compiled.rollout_phase == (eager.rollout_phase - 2 * QWEN3_VL_2B.params() + copies)
