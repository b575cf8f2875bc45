"""The ``grounding-dino`` detector: transformers' native Grounding DINO.

One forward pass runs one image against one prompt ``"phrase one. phrase two."``.
Each phrase is scored on its own tokens (:mod:`cuekit.grounding.spans`), so
labels never merge, and duplicates are removed per phrase (:mod:`.nms`).

Batching: rows (image, prompt) are batched only with rows whose *processed*
image has the same size. Padding a smaller image inside a batch changes what the
Swin backbone sees, so a sample's detections would depend on its batch mates;
bucketing by size keeps them identical whatever the batch size. Prompts of
different lengths are padded freely: padded text positions are masked out.
"""

from __future__ import annotations

import contextlib
import functools
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from cuekit.errors import ConfigError, ModelLoadError
from cuekit.grounding.base import DetectItem, DetectorOptions
from cuekit.grounding.nms import nms_detections
from cuekit.grounding.spans import (
    build_prompt,
    chunk_phrases,
    is_groundable,
    normalize_phrase,
    phrase_detections,
    phrase_token_spans,
)
from cuekit.hub import load_pretrained
from cuekit.schemas import Detection

if TYPE_CHECKING:
    import torch
    from PIL import Image

BACKEND_NAME = "grounding-dino"
DEFAULT_MODEL = "IDEA-Research/grounding-dino-tiny"
# options.model value that builds the offline random model (tests and demos).
TINY_RANDOM = "tiny-random"
# The Grounding DINO family: model_type -> detection class. MM-Grounding-DINO
# (and LLMDet, published in its format) adds a logit scale and bias, so it must
# not be loaded into the plain class.
MODEL_CLASSES = {
    "grounding-dino": "GroundingDinoForObjectDetection",
    "mm-grounding-dino": "MMGroundingDinoForObjectDetection",
}
# Rows waiting for batch mates of the same size before the largest bucket is
# run anyway; bounds memory when every image has a different size.
_PENDING_ROWS_PER_BATCH = 4
# Phrases whose token count is remembered (questions repeat their phrases a lot);
# the cache is cleared when full, so memory stays bounded on huge corpora.
_TOKEN_COUNT_CACHE_SIZE = 100_000


@dataclass(frozen=True)
class _Row:
    """One forward-pass row: an image of an item against one prompt chunk."""

    item_index: int
    image_index: int
    image_size: tuple[int, int]  # original (width, height)
    pixel_values: torch.Tensor  # (1, 3, h, w) after the processor's resize
    prompt: str
    char_spans: list[tuple[int, int]]
    phrase_indices: list[int]  # into item.phrases
    labels: list[str]


def load_grounding_dino(model_id: str, seed: int = 0) -> tuple[Any, Any, Any]:
    """``(model, image_processor, tokenizer)`` for a hub id, a local folder or ``tiny-random``.

    The image processor is the PIL one and the tokenizer comes from
    ``AutoTokenizer``, so torchvision is never needed.
    """
    if model_id == TINY_RANDOM:
        from cuekit.grounding.tiny import build_tiny_grounding_dino

        model, processor = build_tiny_grounding_dino(seed)
        return model, processor.image_processor, processor.tokenizer

    import transformers
    from transformers.models.grounding_dino.image_processing_pil_grounding_dino import (
        GroundingDinoImageProcessorPil,
    )

    config = load_pretrained(
        transformers.AutoConfig.from_pretrained, model_id, "grounding-dino config"
    )
    if config.model_type not in MODEL_CLASSES:
        raise ModelLoadError(
            f"grounding-dino model: {model_id!r} is a {config.model_type!r} checkpoint; "
            f"expected one of {sorted(MODEL_CLASSES)}"
        )
    model_class = getattr(transformers, MODEL_CLASSES[config.model_type])
    model = load_pretrained(model_class.from_pretrained, model_id, "grounding-dino model")
    image_processor = load_pretrained(
        GroundingDinoImageProcessorPil.from_pretrained, model_id, "grounding-dino image processor"
    )
    tokenizer = load_pretrained(
        transformers.AutoTokenizer.from_pretrained, model_id, "grounding-dino tokenizer"
    )
    if not getattr(tokenizer, "is_fast", False):
        raise ModelLoadError(
            f"grounding-dino tokenizer: {model_id!r} has no fast tokenizer (tokenizer.json); "
            "phrase scoring needs its offset mapping"
        )
    return model.eval(), image_processor, tokenizer


class GroundingDinoBackend:
    """Open-vocabulary boxes for each sample's phrases (``DetectorBackend``).

    ``options.model``: a hub id (default ``IDEA-Research/grounding-dino-tiny``;
    ``-base``, MM-Grounding-DINO and LLMDet checkpoints load the same way), a
    local folder, or ``tiny-random`` (an offline random model; ``extra["seed"]``
    picks its weights). The model loads on the first :meth:`detect`.
    """

    name = BACKEND_NAME

    def __init__(self, options: DetectorOptions | None = None) -> None:
        self.options = options or DetectorOptions()
        self.model_id = self.options.model or DEFAULT_MODEL
        _check_options(self.options)
        self._model: Any = None
        self._image_processor: Any = None
        self._tokenizer: Any = None
        self._token_counts: dict[str, int] = {}
        # id(image) -> (weak reference to it, its pixel_values), filled by :meth:`warm`.
        self._warmed: dict[int, tuple[weakref.ref[Any], torch.Tensor]] = {}

    @classmethod
    def from_loaded(
        cls,
        model: Any,
        image_processor: Any,
        tokenizer: Any,
        options: DetectorOptions | None = None,
    ) -> GroundingDinoBackend:
        """A backend around an already loaded ``(model, image_processor, tokenizer)``.

        For callers that load (or build) the model themselves, e.g. benchmarks that keep
        load time out of the timing. The model must already sit on ``options.device``
        (it is not moved, only put in eval mode) and the tokenizer must be a fast one
        (phrase scoring needs its offsets). ``options.model`` only names the model in
        the run's provenance; it defaults to the config's ``name_or_path``.
        """
        import torch

        options = options or DetectorOptions()
        if options.model is None:
            name = getattr(getattr(model, "config", None), "name_or_path", "") or "preloaded"
            options = replace(options, model=name)
        backend = cls(options)
        try:
            wanted = torch.device(options.device)
        except RuntimeError as exc:
            raise ConfigError(f"unknown device {options.device!r}: {exc}") from exc
        actual = next(model.parameters()).device
        if actual.type != wanted.type or (
            wanted.index is not None and actual.index != wanted.index
        ):
            raise ConfigError(
                f"from_loaded: the model is on {actual}, but options.device is "
                f"{options.device!r}; move the model or change the device"
            )
        if not getattr(tokenizer, "is_fast", False):
            raise ConfigError(
                "from_loaded: the tokenizer must be a fast tokenizer "
                "(phrase scoring needs its offset mapping)"
            )
        backend._model, backend._image_processor, backend._tokenizer = (
            model.eval(),
            image_processor,
            tokenizer,
        )
        return backend

    def settings(self) -> dict[str, Any]:
        return {
            "model": self.model_id,
            "box_threshold": self.options.box_threshold,
            "text_threshold": self.options.text_threshold,
            "nms_iou": self.options.nms_iou,
            "device": self.options.device,
            "batch_size": self.options.batch_size,
        }

    def _ensure_loaded(self) -> None:
        if self._model is not None:
            return
        import torch

        try:
            device = torch.device(self.options.device)
        except RuntimeError as exc:
            raise ConfigError(f"unknown device {self.options.device!r}: {exc}") from exc
        seed = int(self.options.extra.get("seed", 0))
        model, self._image_processor, self._tokenizer = load_grounding_dino(self.model_id, seed)
        self._model = model.to(device)

    def detect(self, items: Sequence[DetectItem]) -> list[list[Detection]]:
        """Detections per item, NMS-ed per phrase, in the order of :mod:`.nms`."""
        found: list[list[Detection]] = [[] for _ in items]
        if not any(_groundable(item) for item in items):
            return found  # no phrases anywhere: the model is not even loaded
        self._ensure_loaded()
        for batch in self._batches(self._rows(items)):
            for row, detections in zip(batch, self._run_batch(batch), strict=True):
                found[row.item_index].extend(detections)
        return [nms_detections(detections, self.options.nms_iou) for detections in found]

    # -- preprocessing, possibly ahead of time --------------------------------------

    def warm(self, images: Sequence[Image.Image]) -> None:
        """Run the image processor on ``images`` now, so that :meth:`detect` finds them done.

        Optional hook for pipelines: ``cuekit extract`` calls it from its prefetch thread,
        so resizing and normalising (which release the GIL) overlap with the forward pass
        of the previous batch. The result is exactly what :meth:`detect` would compute.
        It is kept only while the image object lives, and used once. Before the model
        is loaded (it loads on the first :meth:`detect`) this does nothing.
        """
        if self._image_processor is None:
            return
        for image in images:
            key = id(image)
            if key in self._warmed:
                continue
            pixel_values = self._image_processor(images=[image], return_tensors="pt")[
                "pixel_values"
            ]
            # The entry goes when the image dies, so a reused id never finds a stale one.
            ref = weakref.ref(image, functools.partial(self._forget, key))
            self._warmed[key] = (ref, pixel_values)

    def _forget(self, key: int, _: weakref.ref[Any]) -> None:
        self._warmed.pop(key, None)

    def _pixel_values(self, image: Image.Image) -> torch.Tensor:
        """``(1, 3, h, w)`` pixel values of ``image``: warmed ahead, or computed now."""
        entry = self._warmed.pop(id(image), None)
        if entry is not None and entry[0]() is image:
            return entry[1]
        return self._image_processor(images=[image], return_tensors="pt")["pixel_values"]

    # -- planning rows and batches ------------------------------------------------

    def _phrase_token_counts(self, phrases: Sequence[str]) -> list[int]:
        """Tokens per phrase (no special tokens); one tokenizer call for the unseen ones."""
        cache = self._token_counts
        unseen = [p for p in dict.fromkeys(phrases) if p not in cache]
        if unseen:
            if len(cache) + len(unseen) > _TOKEN_COUNT_CACHE_SIZE:
                cache.clear()
            ids = self._tokenizer(unseen, add_special_tokens=False)["input_ids"]
            cache.update(zip(unseen, map(len, ids), strict=True))
        return [cache[p] for p in phrases]

    def _rows(self, items: Sequence[DetectItem]) -> Iterator[_Row]:
        """Rows item by item; each image is preprocessed once for all its prompt chunks."""
        max_tokens = int(self._model.config.max_text_len)
        # (phrase indices, labels, normalized phrases) of each item with something to ground
        plans: list[tuple[int, list[int], list[str], list[str]]] = []
        for item_index, item in enumerate(items):
            indices, labels, normalized = [], [], []
            for index, phrase in enumerate(item.phrases):
                if not is_groundable(phrase.text):
                    continue  # nothing to ground once punctuation is removed
                indices.append(index)
                labels.append(phrase.text)
                normalized.append(normalize_phrase(phrase.text))
            if indices:
                plans.append((item_index, indices, labels, normalized))
        # One tokenizer call for the whole call's phrases: per-item calls cost ~1 ms each.
        counts = iter(self._phrase_token_counts([p for *_, ps in plans for p in ps]))
        for item_index, indices, labels, normalized in plans:
            item = items[item_index]
            chunks = chunk_phrases([next(counts) for _ in normalized], max_tokens)
            prompts = [build_prompt([normalized[i] for i in chunk]) for chunk in chunks]
            for image_index, image in enumerate(item.images):
                pixel_values = self._pixel_values(image)
                for chunk, (prompt, char_spans) in zip(chunks, prompts, strict=True):
                    yield _Row(
                        item_index=item_index,
                        image_index=image_index,
                        image_size=(image.width, image.height),
                        pixel_values=pixel_values,
                        prompt=prompt,
                        char_spans=char_spans,
                        phrase_indices=[indices[i] for i in chunk],
                        labels=[labels[i] for i in chunk],
                    )

    def _batches(self, rows: Iterator[_Row]) -> Iterator[list[_Row]]:
        """Batches of ``batch_size`` rows sharing one processed image size."""
        batch_size = self.options.batch_size
        buckets: dict[tuple[int, int], list[_Row]] = {}
        pending = 0
        for row in rows:
            height, width = row.pixel_values.shape[-2:]
            bucket = buckets.setdefault((int(height), int(width)), [])
            bucket.append(row)
            pending += 1
            if len(bucket) == batch_size:
                yield bucket[:]
                pending -= len(bucket)
                bucket.clear()
            elif pending > _PENDING_ROWS_PER_BATCH * batch_size:
                fullest = max(buckets.values(), key=len)
                yield fullest[:]
                pending -= len(fullest)
                fullest.clear()
        for bucket in buckets.values():
            if bucket:
                yield bucket

    # -- the forward pass ---------------------------------------------------------

    def _run_batch(self, batch: list[_Row]) -> list[list[Detection]]:
        import torch

        model = self._model
        device = next(model.parameters()).device
        max_tokens = int(model.config.max_text_len)
        text = self._tokenizer(
            [row.prompt for row in batch],
            padding="longest",
            truncation=True,
            max_length=max_tokens,
            return_offsets_mapping=True,
            return_token_type_ids=True,
            return_tensors="pt",
        )
        offsets = text.pop("offset_mapping").tolist()  # (B, L, 2)
        pixel_values = torch.cat([row.pixel_values for row in batch])  # (B, 3, h, w)
        inputs = {key: value.to(device) for key, value in text.items()}
        inputs["pixel_values"] = pixel_values.to(device)
        # Same processed size in the whole batch, so no pixel is padding.
        inputs["pixel_mask"] = torch.ones(
            (len(batch), *pixel_values.shape[-2:]), dtype=torch.long, device=device
        )
        autocast = (
            torch.autocast("cuda", dtype=torch.bfloat16)
            if device.type == "cuda"
            else contextlib.nullcontext()
        )
        with torch.inference_mode(), autocast:
            outputs = model(**inputs)
        logits = outputs.logits.float().cpu().numpy()  # (B, Q, max_text_len)
        boxes = outputs.pred_boxes.float().cpu().numpy()  # (B, Q, 4) normalized cxcywh

        results = []
        for position, row in enumerate(batch):
            spans = phrase_token_spans(offsets[position], row.char_spans, max_tokens)
            results.append(
                phrase_detections(
                    boxes[position],
                    logits[position],
                    spans,
                    row.labels,
                    row.image_size,
                    image_index=row.image_index,
                    box_threshold=self.options.box_threshold,
                    text_threshold=self.options.text_threshold,
                    backend=BACKEND_NAME,
                    phrase_indices=row.phrase_indices,
                )
            )
        return results


def _groundable(item: DetectItem) -> bool:
    return bool(item.images) and any(is_groundable(p.text) for p in item.phrases)


def _check_options(options: DetectorOptions) -> None:
    for field_name in ("box_threshold", "text_threshold", "nms_iou"):
        value = getattr(options, field_name)
        if not 0.0 <= value <= 1.0:
            raise ConfigError(f"{field_name} must be in [0, 1], got {value}")
    if options.batch_size < 1:
        raise ConfigError(f"batch_size must be at least 1, got {options.batch_size}")
