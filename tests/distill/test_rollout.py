"""Rollouts: chunked generation equals one call; masks stop at the end token."""

import pytest
import torch

from cuekit.distill.rollout import SamplingSettings, generate_in_chunks
from cuekit.distill.tiny import build_tiny_qwen3_vl


def test_chunked_generation_equals_one_call(varied_rows):
    model, processor = build_tiny_qwen3_vl(seed=0)
    questions, images = varied_rows
    settings = SamplingSettings(max_new_tokens=12, greedy=True)
    whole = generate_in_chunks(model, processor, questions, images, settings, 0)
    chunked = generate_in_chunks(model, processor, questions, images, settings, 2)
    assert chunked.response_ids.shape == whole.response_ids.shape == (5, 12)
    assert torch.equal(chunked.response_mask, whole.response_mask)
    assert torch.equal(chunked.response_ids, whole.response_ids)


def test_mask_covers_the_response_up_to_the_stop_token(monkeypatch, varied_rows):
    model, processor = build_tiny_qwen3_vl(seed=0)
    questions, images = varied_rows
    end, pad = processor.im_end_token_id, processor.tokenizer.pad_token_id
    sampled = torch.tensor([[5, 6, end, 7, 8], [9, end, end, 3, 3], [4, 4, 4, 4, 4]])

    def fake_generate(**inputs):  # prompt followed by the scripted responses
        return torch.cat([inputs["input_ids"], sampled], dim=1)

    monkeypatch.setattr(model, "generate", fake_generate)
    rollouts = generate_in_chunks(
        model,
        processor,
        questions[:3],
        images[:3],
        SamplingSettings(max_new_tokens=5, engine="generate"),
        0,
    )
    assert rollouts.response_mask.tolist() == [[1, 1, 1, 0, 0], [1, 1, 0, 0, 0], [1, 1, 1, 1, 1]]
    assert rollouts.response_ids.tolist() == [
        [5, 6, end, pad, pad],
        [9, end, pad, pad, pad],
        [4, 4, 4, 4, 4],
    ]


def test_rollout_logprobs_equal_training_forward_logprobs(varied_rows):
    """The rollout and the training forward are the same function, cue module included."""
    from cuekit.distill.cue_module import CueModuleConfig, attach_cue_module
    from cuekit.distill.prompts import build_prompt_batch, build_scoring_batch, vision_token_ids
    from cuekit.distill.scoring import score_responses

    model, processor = build_tiny_qwen3_vl(seed=0, num_hidden_layers=7)
    module = attach_cue_module(model, CueModuleConfig(interval=5))
    torch.manual_seed(0)
    with torch.no_grad():  # a trained-looking module, so that it changes the outputs
        for block in module.blocks.values():
            block.o.weight.normal_(std=0.5)
    questions, images = varied_rows
    prompt = build_prompt_batch(processor, questions[:3], images[:3])
    with torch.no_grad():
        out = model.generate(
            **prompt,
            max_new_tokens=8,
            do_sample=True,
            top_k=0,
            output_logits=True,
            return_dict_in_generate=True,
            eos_token_id=None,
            pad_token_id=processor.tokenizer.pad_token_id,
            suppress_tokens=vision_token_ids(processor),
        )
    response = out.sequences[:, prompt["input_ids"].shape[1] :]  # (3, 8)
    logits = torch.stack(out.logits, dim=1).float()  # (3, 8, V) as sampled from
    # suppress_tokens masks logits to -inf after they are returned raw; mask the same ids.
    logits[..., vision_token_ids(processor)] = float("-inf")
    rollout_lp = logits.log_softmax(-1).gather(-1, response[..., None])[..., 0]
    batch = build_scoring_batch(prompt, response, torch.ones_like(response))
    with torch.no_grad():
        scores, _ = score_responses(model, batch, chunk_size=5)
    vision = torch.tensor(vision_token_ids(processor))
    # Training-forward log-probs are over the full vocabulary; renormalise them over the
    # tokens generation could sample (all but the suppressed vision ids).
    hidden_lp = scores.logprobs
    full = (
        torch.nn.functional.linear(
            model.model(**batch.inputs).last_hidden_state[:, batch.predictor_positions],
            model.get_output_embeddings().weight,
        )
        .float()
        .log_softmax(-1)
    )
    allowed = torch.ones(full.shape[-1], dtype=torch.bool)
    allowed[vision] = False
    renorm = hidden_lp - torch.logsumexp(full[..., allowed], dim=-1)
    torch.testing.assert_close(renorm, rollout_lp, atol=2e-5, rtol=1e-5)


def test_every_rollout_engine_gives_the_same_rollouts(varied_rows):
    from cuekit.distill.cue_module import CueModuleConfig, attach_cue_module

    model, processor = build_tiny_qwen3_vl(seed=0, num_hidden_layers=7)
    module = attach_cue_module(model, CueModuleConfig(interval=5))
    with torch.no_grad():  # the module must act at prefill in both cache kinds
        for block in module.blocks.values():
            block.o.weight.normal_(std=0.5, generator=torch.Generator().manual_seed(1))
    questions, images = varied_rows
    runs = {}
    for engine in ("generate", "generate-static", "cuekit"):
        torch.manual_seed(5)
        runs[engine] = generate_in_chunks(
            model,
            processor,
            questions,
            images,
            SamplingSettings(max_new_tokens=10, temperature=0.8, top_p=0.9, engine=engine),
            0,
        )
    for engine in ("generate-static", "cuekit"):
        assert torch.equal(runs[engine].response_ids, runs["generate"].response_ids), engine
        assert torch.equal(runs[engine].response_mask, runs["generate"].response_mask), engine


def test_sampling_settings_reject_unknown_engines_and_compile_without_cuekit():
    with pytest.raises(ValueError, match="rollout engine must be one of cuekit, cuekit-continuous"):
        SamplingSettings(max_new_tokens=4, engine="vllm")
    with pytest.raises(ValueError, match="needs the cuekit rollout engine, not 'generate'"):
        SamplingSettings(max_new_tokens=4, engine="generate", compile=True)


def test_scores_at_a_temperature_are_the_tempered_policy_logprobs(varied_rows):
    from cuekit.distill.prompts import build_prompt_batch, build_scoring_batch
    from cuekit.distill.scoring import score_responses

    model, processor = build_tiny_qwen3_vl(seed=0)
    questions, images = varied_rows
    prompt = build_prompt_batch(processor, questions[:2], images[:2])
    response = torch.tensor([[5, 6, 7], [9, 10, 11]])
    batch = build_scoring_batch(prompt, response, torch.ones_like(response))
    with torch.no_grad():
        hidden = model.model(**batch.inputs).last_hidden_state[:, batch.predictor_positions]
        logits = torch.nn.functional.linear(hidden, model.get_output_embeddings().weight)
        for temperature in (1.0, 0.7, 1.6):
            scores, _ = score_responses(model, batch, chunk_size=4, temperature=temperature)
            expected = (logits.float() / temperature).log_softmax(-1)
            expected = expected.gather(-1, response[..., None])[..., 0]
            torch.testing.assert_close(scores.logprobs, expected, atol=1e-5, rtol=1e-5)
