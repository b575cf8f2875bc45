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
    # shared README §1: 6 modules, 100.7M params for the 2B
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
    per_token_layer = 6 * 2048 + 2 * 8 * 128 + 4 * 6144  # 38,912 values
    layer = 6144 * per_token_layer * 2
    assert student_activation_bytes(QWEN3_VL_2B, run) == 28 * 6144 * 2048 * 2 + layer
    plain = replace(run, grad_checkpointing=False)
    assert student_activation_bytes(QWEN3_VL_2B, plain) == 28 * layer


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
    assert plan.rollout_phase == static + 16 * 6144 * 114_688 + 16 * 151_936 * 4
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
    run = RunShape(micro_batch=2, rollout_batch=1, grad_checkpointing=False,
                   chunked_logprobs=False)
    result = check_fit(QWEN3_VL_2B, QWEN3_VL_8B, run)
    assert not result.fits
    assert result.plan.update_phase > 72 * GB
    assert "does NOT fit" in result.summary()


@pytest.mark.parametrize("kwargs, message", [
    ({"device_gb": 0}, "device_gb must be > 0, got 0"),
    ({"headroom": 1.0}, "headroom must be in [0, 1), got 1.0"),
])
def test_check_fit_rejects_bad_budget(kwargs, message):
    with pytest.raises(ValueError) as info:
        check_fit(QWEN3_VL_2B, QWEN3_VL_8B, RunShape(), **kwargs)
    assert str(info.value) == message


def test_run_shape_rejects_zero_batch():
    with pytest.raises(ValueError, match=r"^micro_batch must be >= 1, got 0$"):
        RunShape(micro_batch=0)
