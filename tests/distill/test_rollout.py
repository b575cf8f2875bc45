"""Rollouts: chunked generation equals one call; masks stop at the end token."""

import torch
from PIL import Image

from cuekit.distill.rollout import SamplingSettings, generate_in_chunks
from cuekit.distill.tiny import build_tiny_qwen3_vl


def _rows():
    colors = [(200, 30, 30), (30, 200, 30), (30, 30, 200), (120, 120, 0), (0, 90, 160)]
    questions = ["What is red?", "Count the shapes in the image.", "Where is A?",
                 "Which bar is tallest?", "Is the circle left of the square?"]
    images = [[Image.new("RGB", (32 + 16 * i, 48), c)] for i, c in enumerate(colors)]
    return questions, images


def test_chunked_generation_equals_one_call():
    model, processor = build_tiny_qwen3_vl(seed=0)
    questions, images = _rows()
    settings = SamplingSettings(max_new_tokens=12, greedy=True)
    whole = generate_in_chunks(model, processor, questions, images, settings, 0)
    chunked = generate_in_chunks(model, processor, questions, images, settings, 2)
    assert chunked.response_ids.shape == whole.response_ids.shape == (5, 12)
    assert torch.equal(chunked.response_mask, whole.response_mask)
    assert torch.equal(chunked.response_ids, whole.response_ids)


def test_mask_covers_the_response_up_to_the_stop_token(monkeypatch):
    model, processor = build_tiny_qwen3_vl(seed=0)
    questions, images = _rows()
    end, pad = processor.im_end_token_id, processor.tokenizer.pad_token_id
    sampled = torch.tensor([[5, 6, end, 7, 8], [9, end, end, 3, 3], [4, 4, 4, 4, 4]])

    def fake_generate(**inputs):  # prompt followed by the scripted responses
        return torch.cat([inputs["input_ids"], sampled], dim=1)

    monkeypatch.setattr(model, "generate", fake_generate)
    rollouts = generate_in_chunks(model, processor, questions[:3], images[:3],
                                  SamplingSettings(max_new_tokens=5), 0)
    assert rollouts.response_mask.tolist() == [[1, 1, 1, 0, 0], [1, 1, 0, 0, 0],
                                               [1, 1, 1, 1, 1]]
    assert rollouts.response_ids.tolist() == [[5, 6, end, pad, pad], [9, end, pad, pad, pad],
                                              [4, 4, 4, 4, 4]]
