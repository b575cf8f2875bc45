"""``tiny-random``: a small random Qwen3-VL with an offline tokenizer, built in-process.

Tests and demos run on it: nothing touches the hub. The tokenizer is a byte-level
BPE (Qwen2's pre-tokenizer) trained in memory on a fixed English corpus, with
the Qwen special tokens and a Qwen-style chat template. Training on a fixed
corpus with fixed settings gives the same vocabulary every time. The processor
is :class:`~cuekit.distill.processor.ImageOnlyProcessor` with the PIL image
processor, sized so that a 32x32 image is 4 tokens and a 64x64 image 16.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from cuekit.distill.processor import ImageOnlyProcessor

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase, Qwen3VLConfig, Qwen3VLForConditionalGeneration

TINY_MODEL_NAME = "tiny-random"

# Qwen's special tokens, in Qwen's order, appended after the trained vocabulary.
SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
)

# The words of a typical visual math prompt and answer, so common words are one token.
_CORPUS = """
What is the area of the shaded region in the figure? Find the measure of angle ABC in degrees.
In the triangle shown, the length of side AB is 12 and the length of side BC is 5.
The circle has center O and radius 7. The chord AB is parallel to the tangent line.
According to the bar chart, which year has the highest value? The answer is 42.
How many objects are left of the red cube? Look at the image and answer the question.
Let me think step by step. First, the two angles are supplementary, so x + 3x = 180.
Therefore x = 45 and the final answer is 45. The perimeter of the rectangle is 2(l + w).
Hint: the segments AD and DC belong to the same chord; the tick marks show equal lengths.
The axis on the left is labelled in thousands; the blue series is the population.
Choices: (A) 30 (B) 45 (C) 60 (D) 90. Answer with the option letter.
""".strip()

_VOCAB_SIZE = 640  # trained pieces incl. the 256 byte symbols; specials come on top

# A small Qwen-style template: system/user/assistant turns; an image item becomes
# <|vision_start|><|image_pad|><|vision_end|> (the processor expands the pad).
CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{{ '<|im_start|>' + message['role'] + '\\n' }}"
    "{%- if message['content'] is string -%}{{ message['content'] }}"
    "{%- else -%}{%- for item in message['content'] -%}"
    "{%- if item['type'] == 'image' -%}<|vision_start|><|image_pad|><|vision_end|>"
    "{%- elif item['type'] == 'text' -%}{{ item['text'] }}{%- endif -%}"
    "{%- endfor -%}{%- endif -%}"
    "{{ '<|im_end|>\\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\\n' }}{%- endif -%}"
)

# Vision sizes: patch 8, merge 2 -> one image token per 16x16 pixels.
_PATCH_SIZE = 8
_MERGE_SIZE = 2
_MIN_PIXELS = 32 * 32
_MAX_PIXELS = 64 * 64


def build_tiny_tokenizer() -> PreTrainedTokenizerBase:
    """A deterministic byte-level BPE tokenizer with Qwen's special tokens."""
    return build_bpe_tokenizer(_CORPUS.splitlines(), _VOCAB_SIZE)


def build_bpe_tokenizer(corpus: Sequence[str], vocab_size: int) -> PreTrainedTokenizerBase:
    """A byte-level BPE tokenizer trained on ``corpus`` lines, then Qwen's special tokens.

    The same corpus and size give the same vocabulary. A line's first word is learnt
    without a leading space, as an answer right after ``assistant\n`` is tokenized.
    """
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers, trainers
    from transformers import Qwen2Tokenizer
    from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX

    # Train with exactly the pre-tokenizer Qwen2Tokenizer rebuilds, so merges line up.
    trainee = Tokenizer(models.BPE())
    trainee.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    trainee.train_from_iterator(list(corpus), trainer)
    bpe = json.loads(trainee.to_str())["model"]
    vocab = dict(bpe["vocab"])
    # Specials get the ids right after the trained pieces, in Qwen's order.
    vocab.update({token: len(bpe["vocab"]) + index for index, token in enumerate(SPECIAL_TOKENS)})
    tokenizer = Qwen2Tokenizer(
        vocab=vocab,
        # transformers annotates merges as "a b" strings and unk_token as str; it takes
        # the (a, b) pairs and None (no unknown token) as well.
        merges=[tuple(pair) for pair in bpe["merges"]],  # type: ignore[misc]
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,  # type: ignore[arg-type]
        extra_special_tokens=list(SPECIAL_TOKENS[1:]),
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def build_tiny_processor(
    tokenizer: PreTrainedTokenizerBase | None = None,
    *,
    min_pixels: int = _MIN_PIXELS,
    max_pixels: int = _MAX_PIXELS,
) -> ImageOnlyProcessor:
    """A tokenizer (default: the tiny one) plus the PIL image processor (tiny patches).

    Images are resized to between ``min_pixels`` and ``max_pixels`` pixels, in steps of
    16 px (patch 8, merge 2): one image token per 16x16 pixels.
    """
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import (
        Qwen2VLImageProcessorPil,
    )

    image_processor = Qwen2VLImageProcessorPil(
        patch_size=_PATCH_SIZE,
        temporal_patch_size=2,
        merge_size=_MERGE_SIZE,
        size={"shortest_edge": min_pixels, "longest_edge": max_pixels},
    )
    return ImageOnlyProcessor(tokenizer or build_tiny_tokenizer(), image_processor, CHAT_TEMPLATE)


def tiny_qwen3_vl_config(
    processor: ImageOnlyProcessor,
    num_hidden_layers: int = 2,
    *,
    hidden_size: int = 64,
    num_attention_heads: int = 4,
    num_key_value_heads: int = 2,
    vision_depth: int = 2,
    vision_hidden_size: int = 32,
    num_position_embeddings: int = 64,
) -> Qwen3VLConfig:
    """A small Qwen3-VL config; the defaults are ``tiny-random``'s: text d=64 (4 heads,
    2 KV heads, head_dim 16); vision depth 2, d=32, DeepStack [0, 1].

    MLPs are twice the width (text) or twice the vision width; the head dim is
    ``hidden_size / num_attention_heads`` and M-RoPE splits its half as [2, 3, 3]-shaped
    sections that sum to it; DeepStack feeds every vision layer (up to the text depth).
    """

    head_dim, remainder = divmod(hidden_size, num_attention_heads)
    if remainder or head_dim % 2:
        raise ValueError(
            f"hidden_size {hidden_size} must split into {num_attention_heads} heads of an even size"
        )
    deepstack = list(range(min(vision_depth, num_hidden_layers)))
    if num_hidden_layers < 2 or len(deepstack) < 2:
        raise ValueError(
            f"need >= 2 text layers and >= 2 vision layers (DeepStack feeds "
            f"them), got {num_hidden_layers} and {vision_depth}"
        )
    half = head_dim // 2
    # mrope_section (temporal, height, width) must sum to head_dim / 2 (docs/method.md §4).
    mrope = [half - 2 * (3 * half // 8), 3 * half // 8, 3 * half // 8]
    text_config = {
        "vocab_size": len(processor.tokenizer),
        "hidden_size": hidden_size,
        "intermediate_size": 2 * hidden_size,
        "num_hidden_layers": num_hidden_layers,
        "num_attention_heads": num_attention_heads,
        "num_key_value_heads": num_key_value_heads,
        "head_dim": head_dim,
        "max_position_embeddings": 4096,
        "rope_parameters": {
            "rope_type": "default",
            "rope_theta": 10000.0,
            "mrope_section": mrope,
            "mrope_interleaved": True,
        },
    }
    vision_config = {
        "depth": vision_depth,
        "hidden_size": vision_hidden_size,
        "intermediate_size": 2 * vision_hidden_size,
        "num_heads": 2,
        "patch_size": _PATCH_SIZE,
        "spatial_merge_size": _MERGE_SIZE,
        "temporal_patch_size": 2,
        "out_hidden_size": hidden_size,
        "num_position_embeddings": num_position_embeddings,
        "deepstack_visual_indexes": deepstack,
    }
    return qwen3_vl_config_for(processor, text_config, vision_config, tied=True)


def qwen3_vl_config_for(
    processor: ImageOnlyProcessor,
    text_config: dict[str, Any],
    vision_config: dict[str, Any],
    *,
    tied: bool,
) -> Qwen3VLConfig:
    """A Qwen3-VL config of the given text and vision settings, with ``processor``'s
    special token ids (padding, end, image and vision start/end) filled in."""
    from transformers import Qwen3VLConfig

    tokenizer = processor.tokenizer
    return Qwen3VLConfig(
        text_config={
            **text_config,
            "pad_token_id": tokenizer.pad_token_id,
            "eos_token_id": tokenizer.eos_token_id,
        },
        vision_config=vision_config,
        image_token_id=processor.image_token_id,
        video_token_id=processor.video_token_id,
        vision_start_token_id=processor.vision_start_token_id,
        vision_end_token_id=processor.vision_end_token_id,
        tie_word_embeddings=tied,
    )


def build_tiny_qwen3_vl(
    seed: int = 0, num_hidden_layers: int = 2
) -> tuple[Qwen3VLForConditionalGeneration, ImageOnlyProcessor]:
    """A random tiny Qwen3-VL (fp32, eval mode, ~0.2M params) and its processor.

    The same ``seed`` gives the same weights; the global torch RNG is left as it was.
    """
    processor = build_tiny_processor()
    config = tiny_qwen3_vl_config(processor, num_hidden_layers)
    return seeded_qwen3_vl(config, processor, seed).eval(), processor


def seeded_qwen3_vl(
    config: Qwen3VLConfig, processor: ImageOnlyProcessor, seed: int
) -> Qwen3VLForConditionalGeneration:
    """A randomly initialised Qwen3-VL (train mode) that generates until ``<|im_end|>``;
    the same ``seed`` gives the same weights, and the global torch RNG is left as it was."""
    import torch
    from transformers import Qwen3VLForConditionalGeneration

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Qwen3VLForConditionalGeneration(config)
    model.generation_config.eos_token_id = processor.im_end_token_id
    model.generation_config.pad_token_id = processor.tokenizer.pad_token_id
    return model
