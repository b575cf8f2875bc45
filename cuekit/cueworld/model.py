"""The CueWorld models: small Qwen3-VLs of the real class, with a tokenizer for the task.

``cueworld-base`` and ``cueworld-teacher`` are stock ``Qwen3VLForConditionalGeneration``
models (vision tower, DeepStack, M-RoPE) with cuekit's image-only processor and chat
template, so distill and eval take exactly the path a 2B run takes. They differ from
``tiny-random`` in three ways, all for the task:

* a byte-level BPE trained on CueWorld's own words (every shape, colour, place and
  digit is one token, with and without a leading space);
* 96x96 images, 6x6 image tokens: one token per 16x16 pixels, a grid cell per 2x2;
* enough width to learn: text d=128 (4 layers), vision depth 2 (d=64); 1.05M parameters.

Both models have this architecture and come from one supervised run
(``python -m cuekit.cueworld.sft``): the base is an early snapshot of it, and the
teacher a later one, stronger because it trained longer (two CPU cores could not also
afford a larger teacher; see BENCHMARKS.md). The weights ship inside the package
(``weights/<name>/``, safetensors) and load by alias through
:func:`cuekit.distill.models.load_model`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from cuekit.cueworld.scenes import COLUMNS, IMAGE_SIZE, ROWS, SCENE_COLOURS, SHAPES
from cuekit.distill.processor import ImageOnlyProcessor

if TYPE_CHECKING:
    from transformers import Qwen3VLForConditionalGeneration

WEIGHTS_DIR = Path(__file__).parent / "weights"
VOCAB_SIZE = 720


@dataclass(frozen=True)
class Architecture:
    """The sizes of a CueWorld model: keyword arguments of
    :func:`cuekit.distill.tiny.tiny_qwen3_vl_config`, by the same names."""

    hidden_size: int = 128
    num_hidden_layers: int = 4
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    vision_depth: int = 2
    vision_hidden_size: int = 64


# The shipped models by alias; both have one architecture (the teacher trained longer).
ARCHITECTURES: dict[str, Architecture] = {
    "cueworld-base": Architecture(),
    "cueworld-teacher": Architecture(),
}


def shipped_model_path(name: str) -> Path | None:
    """The shipped folder of a CueWorld alias, or None when ``name`` is not one."""
    name = name.strip().lower()
    if name not in ARCHITECTURES:
        return None
    return WEIGHTS_DIR / name


def _corpus() -> list[str]:
    """Lines that cover every word CueWorld prompts, cues and answers use."""
    places = [f"{r} {c}" for r in ROWS for c in COLUMNS] + [
        "centre",
        "center",
        "top",
        "bottom",
        "left",
        "right",
    ]
    words = [
        *SHAPES,
        *SCENE_COLOURS,
        *places,
        "large",
        "small",
        "yes",
        "no",
        *(str(d) for d in range(10)),
        *"ABCD",
    ]
    lines = []
    # Each word alone on a line (an answer after "assistant\n" has no leading space) and
    # inside sentences (with one), several times so that BPE merges it whole.
    for _ in range(3):
        lines += words
        lines += [f"The {w} is near the {v}." for w in words for v in SHAPES]
    lines += [
        "What colour is the star? Which shape is directly left of the circle?",
        "Which shape is directly right of the square? Which shape is directly above the cross?",
        "Which shape is directly below the diamond? What number is written on the triangle?",
        "Is the star larger than the circle? Describe the image.",
        "Choices:\n(A) circle\n(B) square\n(C) triangle\n(D) diamond",
        '[Hint]: The image shows star (top left), circle near star and the label "3" on '
        "square. Star is left of circle. Circle is above square. Square is below star.",
        "[Hint]: The answer is red. The answer is B. The answer is 7. The answer is yes.",
        "top left: large red circle 3. centre: small blue star. bottom right: large green cross.",
        "Star are above circle. Diamond is right of triangle. Cross is inside square.",
        "(2 found, the clearest at bottom left)",
    ]
    return lines


def build_cueworld_processor() -> ImageOnlyProcessor:
    """The CueWorld tokenizer and an image processor that keeps 96x96 images as they are."""
    from cuekit.distill.tiny import build_bpe_tokenizer, build_tiny_processor

    pixels = IMAGE_SIZE * IMAGE_SIZE
    return build_tiny_processor(
        build_bpe_tokenizer(_corpus(), VOCAB_SIZE), min_pixels=pixels, max_pixels=pixels
    )


def build_cueworld_model(
    name: str = "cueworld-base",
    seed: int = 0,
    *,
    vision_hidden_size: int = 0,
) -> tuple[Qwen3VLForConditionalGeneration, ImageOnlyProcessor]:
    """A freshly initialised CueWorld model (fp32, train mode) and its processor;
    ``vision_hidden_size`` (when not 0) overrides the vision tower's width."""
    from cuekit.distill.tiny import seeded_qwen3_vl, tiny_qwen3_vl_config

    if name not in ARCHITECTURES:
        raise ValueError(
            f"unknown CueWorld model {name!r}; expected one of {', '.join(ARCHITECTURES)}"
        )
    arch = ARCHITECTURES[name]
    if vision_hidden_size:
        arch = replace(arch, vision_hidden_size=vision_hidden_size)
    processor = build_cueworld_processor()
    patches_per_side = IMAGE_SIZE // 8
    config = tiny_qwen3_vl_config(
        processor, **asdict(arch), num_position_embeddings=patches_per_side * patches_per_side
    )
    return seeded_qwen3_vl(config, processor, seed), processor
