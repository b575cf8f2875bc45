"""Static caches that keep values in their own dtype (bf16 autocast with fp32 weights)."""

import torch
from PIL import Image

from cuekit.distill.rollout import SamplingSettings, generate_in_chunks
from cuekit.distill.rollout.kv_cache import static_cache, typed_static_layer_class
from cuekit.distill.tiny import build_tiny_processor, build_tiny_qwen3_vl, tiny_qwen3_vl_config


def test_values_keep_their_dtype_when_keys_are_fp32():
    layer = typed_static_layer_class()(max_cache_len=8)
    keys = torch.randn(2, 3, 4, 5)  # fp32: what Qwen3-VL's k RMSNorm gives under autocast
    values = torch.randn(2, 3, 4, 5, dtype=torch.bfloat16)
    stored_keys, stored_values = layer.update(keys, values)
    assert stored_keys.dtype == torch.float32 and stored_values.dtype == torch.bfloat16
    assert stored_keys.shape == stored_values.shape == (2, 3, 8, 5)
    torch.testing.assert_close(stored_keys[:, :, :4], keys)
    torch.testing.assert_close(stored_values[:, :, :4], values)
    assert not stored_values[:, :, 4:].any()  # the rest is still empty


def test_one_layer_per_text_decoder_layer():
    config = tiny_qwen3_vl_config(build_tiny_processor(), 3)
    cache = static_cache(config, 16)
    assert len(cache.layers) == 3
    assert all(isinstance(layer, typed_static_layer_class()) for layer in cache.layers)
    assert all(layer.max_cache_len == 16 for layer in cache.layers)


def test_every_engine_decodes_under_bf16_autocast_with_fp32_weights():
    """The recipe on a GPU: fp32 master weights, bf16 autocast (CPU autocast here)."""
    model, processor = build_tiny_qwen3_vl(seed=0, num_hidden_layers=3)
    questions = ["What is red?", "Where is A?"]
    images = [[Image.new("RGB", (48, 48), (200, 30, 30))]] * 2
    runs = {}
    for engine in ("generate", "generate-static", "cuekit"):
        torch.manual_seed(0)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            runs[engine] = generate_in_chunks(
                model, processor, questions, images, SamplingSettings(8, engine=engine), 0
            )
    for engine in ("generate-static", "cuekit"):
        assert torch.equal(runs[engine].response_ids, runs["generate"].response_ids), engine
    with torch.autocast("cpu", dtype=torch.bfloat16):
        greedy = {
            engine: generate_in_chunks(
                model,
                processor,
                questions,
                images,
                SamplingSettings(8, greedy=True, engine=engine),
                1,
            )
            for engine in ("cuekit", "cuekit-continuous")
        }
    assert torch.equal(greedy["cuekit-continuous"].response_ids, greedy["cuekit"].response_ids)
