"""Continuous batching: refilled slots decode exactly what each prompt decodes alone."""

import pytest
import torch
from PIL import Image

from cuekit.distill.cue_module import CueModuleConfig, attach_cue_module, get_cue_module
from cuekit.distill.prompts import build_prompt_batch, vision_token_ids
from cuekit.distill.rollout import SamplingSettings, generate_in_chunks
from cuekit.distill.rollout.continuous import ContinuousDecoder
from cuekit.distill.rollout.decoding import DecodeSettings, StaticDecoder
from cuekit.distill.tiny import build_tiny_qwen3_vl

COUNT = 9


@pytest.fixture(scope="module")
def setup():
    """A tiny model whose greedy outputs vary (untied random lm head), a cue module that
    changes outputs, and 9 prompts of different lengths and image sizes."""
    model, processor = build_tiny_qwen3_vl(seed=0, num_hidden_layers=7)
    module = attach_cue_module(model, CueModuleConfig(interval=5))
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for block in module.blocks.values():
            block.o.weight.normal_(std=0.5, generator=generator)
        model.lm_head.weight = torch.nn.Parameter(
            torch.randn(model.lm_head.weight.shape, generator=generator)
        )
    questions = [f"Question {i}: what is shown here?" + " really" * (i % 4) for i in range(COUNT)]
    images = [
        [Image.new("RGB", (32 + 16 * (i % 3), 48), (20 * i, 100, 200 - 10 * i))]
        for i in range(COUNT)
    ]
    return model.eval(), processor, questions, images


def _settings(processor, stops, **sampling):
    return DecodeSettings(
        20, stops, processor.tokenizer.pad_token_id, tuple(vision_token_ids(processor)), **sampling
    )


def _inputs(processor, questions, images):
    def make(indices):
        return dict(
            build_prompt_batch(
                processor, [questions[i] for i in indices], [images[i] for i in indices]
            )
        )

    return make


def _alone(model, processor, questions, images, settings):
    """Each prompt decoded on its own (batch of one, no padding)."""
    make = _inputs(processor, questions, images)
    return [
        StaticDecoder(model).generate(make([i]), settings)[0].tolist()
        for i in range(len(questions))
    ]


def test_refilled_slots_decode_what_each_prompt_decodes_alone(setup):
    model, processor, questions, images = setup
    free = _alone(model, processor, questions, images, _settings(processor, (-1,), greedy=True))
    # The most frequent token after the first: rows stop at different lengths on it.
    tokens = [t for row in free for t in row[1:]]
    stop = max(set(tokens), key=tokens.count)
    settings = _settings(processor, (stop,), greedy=True)
    expected = _alone(model, processor, questions, images, settings)
    lengths = [len(row) for row in expected]
    assert len(set(lengths)) > 2  # varied lengths, so slots are refilled at varied times
    decoder = ContinuousDecoder(model, slots=3, check_every=2, block=16)
    got = decoder.generate(COUNT, _inputs(processor, questions, images), settings)
    assert got == expected


def test_every_refill_runs_the_cue_module_at_prefill_only(setup, monkeypatch):
    model, processor, questions, images = setup
    module = get_cue_module(model)
    calls, prefills = [], []
    handles = [
        block.register_forward_hook(lambda *_: calls.append(1)) for block in module.blocks.values()
    ]
    original = ContinuousDecoder._prefill

    def counting_prefill(self, inputs):
        prefills.append(inputs["input_ids"].shape[0])
        return original(self, inputs)

    monkeypatch.setattr(ContinuousDecoder, "_prefill", counting_prefill)
    try:
        got = ContinuousDecoder(model, slots=4, check_every=1).generate(
            COUNT, _inputs(processor, questions, images), _settings(processor, (-1,))
        )
    finally:
        for handle in handles:
            handle.remove()
    assert [len(row) for row in got] == [20] * COUNT
    assert sum(prefills) == COUNT and prefills[0] == 4  # every prompt prefilled once
    assert len(calls) == len(prefills) * len(module.blocks)  # none while decoding


def test_sampled_rows_stop_at_their_stop_token_and_repeat_with_the_seed(setup):
    model, processor, questions, images = setup
    stop = processor.im_end_token_id
    settings = _settings(processor, (stop,), temperature=1.3, top_p=0.95)
    runs = []
    for _ in range(2):
        torch.manual_seed(7)
        runs.append(
            ContinuousDecoder(model, slots=4).generate(
                COUNT, _inputs(processor, questions, images), settings
            )
        )
    assert runs[0] == runs[1]
    vision = set(vision_token_ids(processor))
    for row in runs[0]:
        assert 1 <= len(row) <= 20 and not vision & set(row)
        assert stop not in row[:-1]  # a stop token ends the row


def test_rollout_engine_cuekit_continuous_matches_the_chunked_engine_greedy(setup):
    model, processor, questions, images = setup
    runs = {
        engine: generate_in_chunks(
            model,
            processor,
            questions,
            images,
            SamplingSettings(max_new_tokens=12, greedy=True, engine=engine),
            4,
        )
        for engine in ("cuekit", "cuekit-continuous")
    }
    assert torch.equal(runs["cuekit-continuous"].response_ids, runs["cuekit"].response_ids)
    assert torch.equal(runs["cuekit-continuous"].response_mask, runs["cuekit"].response_mask)


def test_bad_slot_settings_are_refused(setup):
    model = setup[0]
    with pytest.raises(ValueError, match="slots and check_every must be >= 1, got 0, 8"):
        ContinuousDecoder(model, slots=0)
