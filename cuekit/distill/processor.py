"""An image-only Qwen3-VL processor: tokenizer + PIL image processor + chat template.

transformers' ``Qwen3VLProcessor`` insists on a video processor, and the video
processor needs torchvision (there is no CPU build of it for our torch). Videos
are out of scope for cuekit, so this small composition does what the stock
processor does for images and nothing else: it expands each
``<|vision_start|><|image_pad|><|vision_end|>`` placeholder to the image's
token count, tokenizes, and returns ``mm_token_type_ids`` (1 at image tokens),
which Qwen3-VL's forward needs whenever ``image_grid_thw`` is passed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cuekit.errors import ConfigError
from cuekit.hub import load_pretrained

if TYPE_CHECKING:
    from PIL import Image
    from transformers import BatchFeature, PreTrainedTokenizerBase

IMAGE_TOKEN = "<|image_pad|>"
VIDEO_TOKEN = "<|video_pad|>"
VISION_START_TOKEN = "<|vision_start|>"
VISION_END_TOKEN = "<|vision_end|>"
IM_START_TOKEN = "<|im_start|>"
IM_END_TOKEN = "<|im_end|>"
# The special tokens every Qwen3-VL tokenizer must know for cuekit to work.
REQUIRED_SPECIAL_TOKENS = (
    IM_START_TOKEN,
    IM_END_TOKEN,
    VISION_START_TOKEN,
    VISION_END_TOKEN,
    IMAGE_TOKEN,
    VIDEO_TOKEN,
)
# mm_token_type_ids values used by Qwen3-VL's rope index (0 text, 1 image, 2 video).
IMAGE_TYPE_ID = 1

_PROCESSOR_FILE = "cuekit_processor.json"


class ImageOnlyProcessor:
    """Turns chat text with image placeholders plus PIL images into Qwen3-VL inputs."""

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        image_processor: Any,
        chat_template: str | None = None,
    ) -> None:
        self.tokenizer = tokenizer
        self.image_processor = image_processor
        self.chat_template = chat_template or getattr(tokenizer, "chat_template", None)
        vocab = tokenizer.get_vocab()
        missing = [token for token in REQUIRED_SPECIAL_TOKENS if token not in vocab]
        if missing:
            raise ConfigError(f"tokenizer lacks the Qwen special tokens {missing}")
        self.image_token_id = vocab[IMAGE_TOKEN]
        self.video_token_id = vocab[VIDEO_TOKEN]
        self.vision_start_token_id = vocab[VISION_START_TOKEN]
        self.vision_end_token_id = vocab[VISION_END_TOKEN]
        self.im_start_token_id = vocab[IM_START_TOKEN]
        self.im_end_token_id = vocab[IM_END_TOKEN]

    # -- text ----------------------------------------------------------------
    def apply_chat_template(
        self, messages: list[dict[str, Any]], *, add_generation_prompt: bool = True
    ) -> str:
        """The prompt text of one conversation (not tokenized)."""
        if self.chat_template is None:
            raise ConfigError("the processor has no chat template")
        text = self.tokenizer.apply_chat_template(
            messages,
            chat_template=self.chat_template,
            tokenize=False,
            add_generation_prompt=add_generation_prompt,
        )
        # One conversation, not tokenized: one string (the return type covers batches).
        if not isinstance(text, str):
            raise TypeError(f"the chat template gave {type(text).__name__}, not a string")
        return text

    def decode(self, token_ids: Any, **kwargs: Any) -> str:
        text = self.tokenizer.decode(token_ids, **kwargs)
        if not isinstance(text, str):  # one sequence decodes to one string
            raise TypeError(f"decoding gave {type(text).__name__}, not a string")
        return text

    def batch_decode(self, sequences: Any, **kwargs: Any) -> list[str]:
        return self.tokenizer.batch_decode(sequences, **kwargs)

    # -- tensors -------------------------------------------------------------
    def __call__(
        self,
        text: Sequence[str],
        images: Sequence[Image.Image] | None = None,
        *,
        padding_side: str = "left",
        return_tensors: str = "pt",
    ) -> BatchFeature:
        """Tokenize a batch; ``images`` are consumed in placeholder order across ``text``.

        Returns input_ids and attention_mask (B, T), mm_token_type_ids (B, T), and
        when images are given pixel_values (N_patches, C*T*P*P) and image_grid_thw (N, 3).
        """
        from transformers import BatchFeature

        if padding_side not in ("left", "right"):
            raise ValueError(f"padding_side must be 'left' or 'right', got {padding_side!r}")
        images = list(images or [])
        placeholders = sum(prompt.count(IMAGE_TOKEN) for prompt in text)
        if placeholders != len(images):
            raise ValueError(
                f"the text has {placeholders} image placeholders but "
                f"{len(images)} images were given"
            )
        image_inputs: dict[str, Any] = {}
        expanded = list(text)
        if images:
            image_inputs = dict(self.image_processor(images=images, return_tensors=return_tensors))
            merge_area = self.image_processor.merge_size**2
            counts = iter(int(grid.prod()) // merge_area for grid in image_inputs["image_grid_thw"])
            # re.sub scans left to right and never rescans its replacement, so each
            # placeholder takes the next image's token count exactly once.
            expanded = [
                re.sub(re.escape(IMAGE_TOKEN), lambda _: IMAGE_TOKEN * next(counts), prompt)
                for prompt in text
            ]
        text_inputs = self.tokenizer(
            expanded,
            padding=True,
            padding_side=padding_side,
            return_tensors=return_tensors,
            add_special_tokens=False,
        )
        input_ids = text_inputs["input_ids"]
        # (B, T): 1 at image tokens, 0 elsewhere.
        mm_token_type_ids = (input_ids == self.image_token_id).to(input_ids.dtype) * IMAGE_TYPE_ID
        data = {
            "input_ids": input_ids,
            "attention_mask": text_inputs["attention_mask"],
            "mm_token_type_ids": mm_token_type_ids,
            **image_inputs,
        }
        return BatchFeature(data=data)

    # -- persistence ---------------------------------------------------------
    def save_pretrained(self, folder: str | Path) -> None:
        """Write the tokenizer, the image processor config and the chat template."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        if self.chat_template is not None:
            self.tokenizer.chat_template = self.chat_template
        self.tokenizer.save_pretrained(folder)
        self.image_processor.save_pretrained(folder)
        record = {"processor_class": type(self).__name__, "chat_template": self.chat_template}
        (folder / _PROCESSOR_FILE).write_text(json.dumps(record, indent=2) + "\n")

    @classmethod
    def from_pretrained(cls, model_id: str | Path) -> ImageOnlyProcessor:
        """Load from a folder or hub id holding a tokenizer and a Qwen-VL preprocessor config."""
        from transformers import AutoTokenizer
        from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import (
            Qwen2VLImageProcessorPil,
        )

        model_id = str(model_id)
        tokenizer = load_pretrained(AutoTokenizer.from_pretrained, model_id, "tokenizer")
        image_processor = load_pretrained(
            Qwen2VLImageProcessorPil.from_pretrained, model_id, "image processor"
        )
        chat_template = getattr(tokenizer, "chat_template", None)
        record_path = Path(model_id) / _PROCESSOR_FILE
        if record_path.is_file():
            saved = json.loads(record_path.read_text()).get("chat_template")
            chat_template = saved or chat_template
        if chat_template is None:  # hub checkpoints keep it in chat_template.jinja or json
            chat_template = _read_processor_chat_template(model_id)
        return cls(tokenizer, image_processor, chat_template)


def _read_processor_chat_template(model_id: str) -> str | None:
    """The chat template stored next to a hub processor (``chat_template.json``/``.jinja``)."""
    from huggingface_hub import hf_hub_download

    for name in ("chat_template.jinja", "chat_template.json"):
        local = Path(model_id) / name
        try:
            path = local if local.is_file() else Path(hf_hub_download(model_id, name))
        except Exception:  # absent file or no network: try the next name
            continue
        content = path.read_text()
        return json.loads(content)["chat_template"] if name.endswith(".json") else content
    return None
