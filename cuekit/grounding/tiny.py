"""A tiny random Grounding DINO, built offline, for tests and demos.

Nothing here touches the hub: the backbone is a small Swin, the text encoder a
small BERT, and the tokenizer a word-piece vocabulary built in memory. The
vocabulary keeps BERT-uncased's ids for ``[CLS]`` (101), ``[SEP]`` (102),
``.`` (1012) and ``?`` (1029) because Grounding DINO hard-codes them to split
the prompt into phrases. The image processor is the PIL one, since the default
processor needs torchvision.
"""

from __future__ import annotations

import string
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from transformers import GroundingDinoForObjectDetection, GroundingDinoProcessor

# Ids Grounding DINO's modeling code hard-codes (SPECIAL_TOKENS there).
CLS_ID, SEP_ID, DOT_ID, QUESTION_ID = 101, 102, 1012, 1029
# BERT-uncased places single characters from "!" upward at id 999, skipping A-Z.
_FIRST_CHAR_ID = 999

# Whole words common in VQA questions about diagrams, charts and photos, so that
# typical phrases tokenize to a few pieces rather than one piece per letter.
_COMMON_WORDS = """
a an the of in on at to and or with without for from by is are be this that these those
what which who how many much where when why whose there it its as than then into over under
left right top bottom middle center centre front back side above below between near next
red green blue yellow black white gray grey orange purple pink brown color colour
cat dog car bus truck person man woman child people bird horse tree house road sign
point points line lines segment segments angle angles triangle circle square rectangle
polygon chord radius diameter arc tangent side sides vertex vertices edge edges area
length width height perimeter degree degrees parallel perpendicular shaded region
chart bar bars graph plot axis axes x y z label labels legend value values series year
number numbers table row rows column columns figure image picture diagram shown below
object objects shape shapes small large big long short first second third last
""".split()

# Config sizes: small enough that one 320x240 forward takes milliseconds on CPU.
_TINY_IMAGE_SIZE = {"shortest_edge": 160, "longest_edge": 256}


def tiny_vocab() -> dict[str, int]:
    """A BERT-style word-piece vocabulary with the ids Grounding DINO expects."""
    tokens = ["[PAD]"] + [f"[unused{i}]" for i in range(99)]
    tokens += ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tokens += [f"[unused{i}]" for i in range(99, 99 + _FIRST_CHAR_ID - len(tokens))]
    singles = [c for c in string.printable[:94] if c not in string.ascii_uppercase]
    tokens += sorted(singles, key=ord)
    tokens += [f"##{c}" for c in string.ascii_lowercase + string.digits]
    seen = set(tokens)
    tokens += [w for w in dict.fromkeys(_COMMON_WORDS) if w not in seen]
    vocab = {token: index for index, token in enumerate(tokens)}
    expected = {"[CLS]": CLS_ID, "[SEP]": SEP_ID, ".": DOT_ID, "?": QUESTION_ID}
    actual = {token: vocab[token] for token in expected}
    if actual != expected:  # guards the layout above, not user input
        raise RuntimeError(f"tiny vocabulary ids drifted: expected {expected}, got {actual}")
    return vocab


def build_tiny_gdino_processor() -> GroundingDinoProcessor:
    """The processor pairing the PIL image processor with the offline tokenizer."""
    from transformers import BertTokenizer, GroundingDinoProcessor
    from transformers.models.grounding_dino.image_processing_pil_grounding_dino import (
        GroundingDinoImageProcessorPil,
    )

    tokenizer = BertTokenizer(vocab=tiny_vocab(), do_lower_case=True)
    image_processor = GroundingDinoImageProcessorPil(size=dict(_TINY_IMAGE_SIZE))
    return GroundingDinoProcessor(image_processor=image_processor, tokenizer=tokenizer)


# variant -> (config class, model class) in transformers.
_VARIANTS = {
    "grounding-dino": ("GroundingDinoConfig", "GroundingDinoForObjectDetection"),
    "mm-grounding-dino": ("MMGroundingDinoConfig", "MMGroundingDinoForObjectDetection"),
}


def build_tiny_grounding_dino(
    seed: int = 0, variant: str = "grounding-dino"
) -> tuple[GroundingDinoForObjectDetection, GroundingDinoProcessor]:
    """A random Grounding DINO (~0.5M parameters) in eval mode, and its processor.

    The same ``seed`` gives the same weights. ``variant`` is ``grounding-dino``
    or ``mm-grounding-dino`` (same sizes, MM-Grounding-DINO's classes). Grounding
    DINO needs at least two decoder layers, and ``d_model`` must be a multiple
    of 32 (GroupNorm groups).
    """
    import torch
    import transformers
    from transformers import BertConfig, SwinConfig

    if variant not in _VARIANTS:
        raise ValueError(f"variant must be one of {sorted(_VARIANTS)}, got {variant!r}")
    config_class, model_class = (getattr(transformers, name) for name in _VARIANTS[variant])

    processor = build_tiny_gdino_processor()
    # out_features is a BackboneConfigMixin setting, absent from SwinConfig's typed signature.
    backbone_config = SwinConfig(  # type: ignore[call-arg]
        embed_dim=16,
        depths=[1, 1, 1, 1],
        num_heads=[1, 1, 2, 2],
        window_size=7,
        out_features=["stage2", "stage3", "stage4"],
    )
    text_config = BertConfig(
        vocab_size=len(processor.tokenizer),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=256,
    )
    config = config_class(
        backbone_config=backbone_config,
        text_config=text_config,
        d_model=32,
        encoder_layers=2,
        decoder_layers=2,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_n_points=2,
        decoder_n_points=2,
        num_queries=30,
        max_text_len=256,
    )
    # fork_rng: seeding must not disturb the caller's global random stream.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = model_class(config)
    return model.eval(), processor


def save_tiny_grounding_dino(
    path: str | Path, seed: int = 0, variant: str = "grounding-dino"
) -> Path:
    """Write the tiny model and processor as a ``from_pretrained`` folder (safetensors)."""
    folder = Path(path)
    model, processor = build_tiny_grounding_dino(seed, variant)
    model.save_pretrained(folder, safe_serialization=True)
    processor.save_pretrained(folder)
    return folder
