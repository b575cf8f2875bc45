"""cuekit's static-cache rollout engine against HF ``generate`` and the training forward."""

import pytest
import torch
from PIL import Image

from cuekit.distill.cue_module import CueModuleConfig, attach_cue_module, get_cue_module
from cuekit.distill.prompts import build_prompt_batch, build_scoring_batch, vision_token_ids
from cuekit.distill.rollout.decoding import DecodeSettings, StaticDecoder, decoder_for
from cuekit.distill.scoring import score_responses
from cuekit.distill.tiny import build_tiny_qwen3_vl


@pytest.fixture(scope="module")
def setup(varied_rows):
    """A 7-layer tiny model with a cue module that changes outputs, and 5 left-padded
    prompts whose images differ in size (so M-RoPE offsets differ per row)."""
    model, processor = build_tiny_qwen3_vl(seed=0, num_hidden_layers=7)
    module = attach_cue_module(model, CueModuleConfig(interval=5))
    with torch.no_grad():
        for block in module.blocks.values():
            block.o.weight.normal_(std=0.5, generator=torch.Generator().manual_seed(1))
    questions, images = varied_rows
    prompt = dict(build_prompt_batch(processor, questions, images))
    return model.eval(), processor, prompt


def _settings(processor, new_tokens, stop=None, **sampling):
    stop_id = processor.im_end_token_id if stop is None else stop
    return DecodeSettings(
        new_tokens,
        (stop_id,),
        processor.tokenizer.pad_token_id,
        tuple(vision_token_ids(processor)),
        **sampling,
    )


def _hf(model, processor, prompt, new_tokens, stop=None, greedy=False, top_k=0, **sampling):
    sampling = {"do_sample": False} if greedy else {"do_sample": True, "top_k": top_k, **sampling}
    out = model.generate(
        **prompt,
        max_new_tokens=new_tokens,
        eos_token_id=processor.im_end_token_id if stop is None else stop,
        pad_token_id=processor.tokenizer.pad_token_id,
        suppress_tokens=vision_token_ids(processor),
        **sampling,
    )
    return out[:, prompt["input_ids"].shape[1] :]


@pytest.mark.parametrize(
    "sampling",
    [
        {"greedy": True},
        {},  # plain sampling at temperature 1
        {"temperature": 0.7, "top_p": 0.9, "top_k": 50},
    ],
)
def test_same_tokens_as_generate_for_the_same_seed(setup, sampling):
    model, processor, prompt = setup
    torch.manual_seed(11)
    expected = _hf(model, processor, prompt, 20, **sampling)
    torch.manual_seed(11)
    # block 8: the cache starts a few slots past the prompt and is regrown twice.
    got = StaticDecoder(model, block=8, check_every=3).generate(
        prompt, _settings(processor, 20, **sampling)
    )
    assert got.shape == expected.shape == (5, 20)
    assert torch.equal(got, expected)


def test_stops_where_generate_stops_and_pads_finished_rows(setup):
    model, processor, prompt = setup
    pad = processor.tokenizer.pad_token_id
    free = StaticDecoder(model).generate(prompt, _settings(processor, 16, greedy=True))
    stop = int(free[0, 2])  # a token that row 0 emits third: every such row stops early
    expected = _hf(model, processor, prompt, 16, stop=stop, greedy=True)
    got = StaticDecoder(model, check_every=4).generate(
        prompt, _settings(processor, 16, stop=stop, greedy=True)
    )
    assert torch.equal(got, expected)
    assert got.shape[1] <= 16
    for row in got.tolist():  # after its stop token a row holds only pad ids
        if stop in row:
            assert set(row[row.index(stop) + 1 :]) <= {pad}
    assert stop in got[0].tolist()[:3]


def test_rollout_logprobs_equal_training_forward_logprobs(setup, monkeypatch):
    """The engine samples from the same function the trainer scores with (cue module on)."""
    model, processor, prompt = setup
    seen = []
    original = StaticDecoder._forward

    def recording_forward(self, weights=None, **inputs):
        logits = original(self, weights, **inputs)
        seen.append(logits.clone())
        return logits

    monkeypatch.setattr(StaticDecoder, "_forward", recording_forward)
    torch.manual_seed(2)
    response = StaticDecoder(model, check_every=100).generate(
        prompt, _settings(processor, 8, stop=-1)
    )  # no stop id: 8 tokens in every row
    logits = torch.stack(seen[:8], dim=1)  # (B, 8, V): the prefill and 7 decode steps
    logits[..., vision_token_ids(processor)] = float("-inf")
    rollout_lp = logits.log_softmax(-1).gather(-1, response[..., None])[..., 0]

    batch = build_scoring_batch(prompt, response, torch.ones_like(response))
    with torch.no_grad():
        scores, _ = score_responses(model, batch, chunk_size=5)
        hidden = model.model(**batch.inputs).last_hidden_state[:, batch.predictor_positions]
        full = torch.nn.functional.linear(hidden, model.get_output_embeddings().weight)
    full = full.float().log_softmax(-1)
    allowed = torch.ones(full.shape[-1], dtype=torch.bool)
    allowed[vision_token_ids(processor)] = False
    # The trainer normalises over the whole vocabulary; sampling excluded the vision ids.
    renormalised = scores.logprobs - torch.logsumexp(full[..., allowed], dim=-1)
    torch.testing.assert_close(renormalised, rollout_lp, atol=2e-5, rtol=1e-5)


def test_cue_module_runs_once_at_prefill_and_never_while_decoding(setup):
    model, processor, prompt = setup
    module = get_cue_module(model)
    calls = []
    handles = [
        block.register_forward_hook(lambda *_: calls.append(1)) for block in module.blocks.values()
    ]
    try:
        out = StaticDecoder(model).generate(prompt, _settings(processor, 12, stop=-1))
    finally:
        for handle in handles:
            handle.remove()
    assert out.shape == (5, 12)
    assert len(calls) == len(module.blocks)  # one forward with images: the prefill


def test_cache_grows_by_doubling_and_is_freed_after_an_eager_call(setup, monkeypatch):
    model, processor, prompt = setup
    torch.manual_seed(0)
    decoder = StaticDecoder(model, block=16)
    lengths = []
    original = StaticDecoder._allocate

    def recording_allocate(self, batch, length):
        lengths.append((batch, length))
        original(self, batch, length)

    monkeypatch.setattr(StaticDecoder, "_allocate", recording_allocate)
    prompt_len = prompt["input_ids"].shape[1]
    new_tokens = 100
    got = decoder.generate(prompt, _settings(processor, new_tokens, stop=-1))
    # Starts one block past the prompt, doubles whenever the next slot is past the end,
    # and never exceeds prompt + new_tokens rounded up to the block. The last token is
    # sampled but never fed back, so the last slot written is prompt + new_tokens - 2.
    full = -(-(prompt_len + new_tokens) // 16) * 16
    expected = [-(-(prompt_len + 16) // 16) * 16]
    while expected[-1] < prompt_len + new_tokens - 1:
        expected.append(min(2 * expected[-1], full))
    assert lengths == [(5, length) for length in expected]
    assert expected[1] == 2 * expected[0] and expected[-1] == full  # a doubling, then the cap
    torch.manual_seed(0)
    unblocked = StaticDecoder(model, block=512).generate(
        prompt, _settings(processor, new_tokens, stop=-1)
    )
    assert torch.equal(got, unblocked)
    assert decoder._cache is None  # eager: memory goes back to training


def test_compiled_step_traces_as_one_graph_and_keeps_its_cache(setup):
    """``fullgraph=True`` fails on any graph break, which CUDA graphs could not capture;
    the eager backend keeps this CPU test fast while tracing the real decode step."""
    model, processor, prompt = setup
    settings = _settings(processor, 10, temperature=0.9)
    torch.manual_seed(4)
    expected = StaticDecoder(model).generate(prompt, settings)
    decoder = StaticDecoder(
        model, compile_step=True, compile_options={"backend": "eager", "fullgraph": True}
    )
    for _ in range(2):  # the second call resets and reuses the same cache tensors
        torch.manual_seed(4)
        assert torch.equal(decoder.generate(prompt, settings), expected)
        cache = decoder._cache
        assert cache is not None
    keys = cache.layers[0].keys
    # A short last chunk gets its own cache and does not evict the usual one.
    patches = int(prompt["image_grid_thw"][:2].prod(-1).sum())  # rows 0-1's pixel rows
    fewer = {name: value[:2] for name, value in prompt.items()}
    fewer["pixel_values"] = prompt["pixel_values"][:patches]
    torch.manual_seed(4)
    short_eager = StaticDecoder(model).generate(fewer, settings)
    torch.manual_seed(4)
    assert torch.equal(decoder.generate(fewer, settings), short_eager)
    torch.manual_seed(4)
    decoder.generate(prompt, settings)
    assert decoder._cache.layers[0].keys.data_ptr() == keys.data_ptr()
    assert sorted(decoder._kept) == [2, 5]


def test_compiled_step_under_autocast_reads_persistent_low_precision_linear_weights():
    """fp32 master weights under bf16 autocast (the recipe on GPU; CPU autocast here):
    the compiled step gets bf16 copies of the linear weights, made once and refreshed in
    place, and samples what the eager loop (autocast's own per-rollout casts) samples."""
    model, processor = build_tiny_qwen3_vl(seed=0, num_hidden_layers=3)
    prompt = dict(
        build_prompt_batch(
            processor,
            ["What is red?", "Where is A?"],
            [[Image.new("RGB", (48, 48), (200, 30, 30))]] * 2,
        )
    )
    settings = _settings(processor, 8, temperature=0.9)
    decoder = StaticDecoder(
        model.eval(), compile_step=True, compile_options={"backend": "eager", "fullgraph": True}
    )
    with torch.autocast("cpu", dtype=torch.bfloat16):
        torch.manual_seed(6)
        expected = StaticDecoder(model).generate(prompt, settings)
        torch.manual_seed(6)
        assert torch.equal(decoder.generate(prompt, settings), expected)
    weights = decoder._low_precision
    text = model.model.language_model
    linear_names = {
        f"model.language_model.{name}.weight"
        for name, module in text.named_modules()
        if isinstance(module, torch.nn.Linear)
    }
    # The decode path's linears only: not norms or embeddings (autocast keeps those in
    # fp32), not the vision tower or the cue module (they run at prefill).
    assert set(weights) == linear_names | {"lm_head.weight"}
    assert all(t.dtype == torch.bfloat16 for t in weights.values())
    head = weights["lm_head.weight"]
    with torch.no_grad():  # an optimizer step on the master weights...
        model.lm_head.weight.mul_(0.5)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        decoder.generate(prompt, settings)
    assert decoder._low_precision["lm_head.weight"] is head  # ...refreshed in place
    torch.testing.assert_close(head, model.lm_head.weight.detach().to(torch.bfloat16))
    without_autocast = StaticDecoder(model, compile_step=True, compile_options={"backend": "eager"})
    without_autocast.generate(prompt, settings)
    assert without_autocast._low_precision is None  # fp32 decoding needs no copies


def test_text_only_prompts_decode_like_generate():
    model, processor = build_tiny_qwen3_vl(seed=3)
    prompt = dict(build_prompt_batch(processor, ["Say hi.", "What is two plus two?"], [[], []]))
    expected = _hf(model.eval(), processor, prompt, 10, greedy=True)
    got = StaticDecoder(model).generate(prompt, _settings(processor, 10, greedy=True))
    assert torch.equal(got, expected)


def test_one_decoder_per_model_and_mode(setup):
    model, _, _ = setup
    assert decoder_for(model) is decoder_for(model)
    compiled = decoder_for(model, compile_step=True)
    assert compiled.compile_step and decoder_for(model, compile_step=True) is compiled


def test_bad_decoder_settings_are_refused(setup):
    model, _, _ = setup
    with pytest.raises(ValueError, match="check_every and block must be >= 1, got 0, 256"):
        StaticDecoder(model, check_every=0)
    with pytest.raises(ValueError, match=r"compact_below must be in \[0, 1\), got 1.0"):
        StaticDecoder(model, compact_below=1.0)


def test_stopped_rows_leave_the_cache_and_tokens_still_match_generate(setup, monkeypatch):
    model, processor, prompt = setup
    torch.manual_seed(8)
    free = StaticDecoder(model).generate(prompt, _settings(processor, 24, stop=-1, temperature=1.5))
    # Rows 0-2 stop at their 3rd-5th token; rows 3-4 hold none of these ids and run on.
    stops = (int(free[0, 2]), int(free[1, 4]), int(free[2, 3]))
    assert not set(stops) & set(free[3:].flatten().tolist())
    batches = []
    original = StaticDecoder._allocate

    def recording_allocate(self, batch, length):
        batches.append(batch)
        original(self, batch, length)

    monkeypatch.setattr(StaticDecoder, "_allocate", recording_allocate)
    settings = DecodeSettings(
        24,
        stops,
        processor.tokenizer.pad_token_id,
        tuple(vision_token_ids(processor)),
        temperature=1.5,
    )
    torch.manual_seed(8)
    expected = model.generate(
        **prompt,
        max_new_tokens=24,
        do_sample=True,
        temperature=1.5,
        top_k=0,
        eos_token_id=list(stops),
        pad_token_id=processor.tokenizer.pad_token_id,
        suppress_tokens=vision_token_ids(processor),
    )
    expected = expected[:, prompt["input_ids"].shape[1] :]
    torch.manual_seed(8)
    got = StaticDecoder(model, check_every=2, block=8).generate(prompt, settings)
    assert torch.equal(got, expected)
    assert got.shape == (5, 24)
    # Full batch first (and when regrown); after the stops, the 2 running rows only.
    assert batches[0] == 5 and 2 in batches and batches[-1] == 2


def test_a_step_that_fails_to_compile_decodes_eagerly_with_a_warning(setup, caplog):
    model, processor, prompt = setup

    def broken_backend(graph, example_inputs):
        raise NotImplementedError("no kernels for this card")

    settings = _settings(processor, 6, temperature=0.9)
    torch.manual_seed(3)
    expected = StaticDecoder(model).generate(prompt, settings)
    decoder = StaticDecoder(model, compile_step=True, compile_options={"backend": broken_backend})
    caplog.set_level("WARNING", logger="cuekit.distill.rollout.decoding")
    torch.manual_seed(3)
    assert torch.equal(decoder.generate(prompt, settings), expected)
    assert "compiling the rollout decode step failed (BackendCompilerFailed" in caplog.text
    assert "no kernels for this card" in caplog.text
    assert decoder._step == decoder._decode_step  # later rollouts stay eager
