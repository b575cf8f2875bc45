"""Rollouts: the student samples responses to its prompts. The engines live together in
this package; this module is the one entry (:func:`rollout_rows`, :func:`generate_in_chunks`,
:func:`generate_rollouts`).

The cue recovery module's hooks run at the prefill of every rollout engine, as in every
teacher-forced forward (:mod:`cuekit.distill.scoring`), so a rollout's log-probs and the
training forward's are the same function.

Rollout engines (``SamplingSettings.engine``):

- ``cuekit`` (default): :mod:`~cuekit.distill.rollout.decoding`, a static-cache decode
  loop that samples the same tokens as ``generate`` for the same seed, optionally with its
  decode step compiled (``compile=True``; CUDA graphs on GPU);
- ``cuekit-continuous``: :mod:`~cuekit.distill.rollout.continuous`, ``chunk_rows`` slots
  refilled with waiting prompts as rows stop (same function; different random draws);
- ``generate``: HF ``generate`` with its default dynamic cache (the reference);
- ``generate-static``: HF ``generate`` with a pre-allocated static cache
  (:mod:`~cuekit.distill.rollout.kv_cache`; transformers compiles its decode step on GPU).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from cuekit.distill.config import ROLLOUT_ENGINES
from cuekit.distill.prompts import PromptRows, response_mask_until_stop, vision_token_ids
from cuekit.distill.scoring import to_device


@dataclass(frozen=True)
class SamplingSettings:
    max_new_tokens: int
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    greedy: bool = False
    engine: str = "cuekit"  # cuekit | generate | generate-static (see the module docstring)
    compile: bool = False  # cuekit engine: compile the decode step (CUDA graphs on GPU)

    def __post_init__(self) -> None:
        if self.engine not in ROLLOUT_ENGINES:
            raise ValueError(
                f"rollout engine must be one of {', '.join(ROLLOUT_ENGINES)}, got {self.engine!r}"
            )
        if self.compile and self.engine != "cuekit":  # continuous: per-row shapes, eager
            raise ValueError(
                f"compiling the decode step needs the cuekit rollout engine, not {self.engine!r}"
            )


@dataclass(frozen=True)
class Rollouts:
    response_ids: Tensor  # (N, R) sampled ids, padded with pad id after the stop token
    response_mask: Tensor  # (N, R) 1 up to and including the stop token


@torch.no_grad()
def generate_rollouts(
    model: Any, processor: Any, prompt_inputs: Mapping[str, Any], settings: SamplingSettings
) -> Rollouts:
    """Sample one response per prompt row; ``prompt_inputs`` are left-padded."""
    device = next(model.parameters()).device
    inputs = to_device(dict(prompt_inputs), device)
    was_training = model.training
    model.eval()
    try:
        response = (
            _cuekit_rollout(model, processor, inputs, settings)
            if settings.engine == "cuekit"
            else _hf_rollout(model, processor, inputs, settings)
        )
    finally:
        model.train(was_training)
    mask = response_mask_until_stop(response, [processor.im_end_token_id])
    # Everything after the stop is padding: make it the pad id so it can be gathered safely.
    response = torch.where(
        mask.bool(), response, torch.full_like(response, processor.tokenizer.pad_token_id)
    )
    return Rollouts(response_ids=response, response_mask=mask)


def _decode_settings(processor: Any, settings: SamplingSettings) -> Any:
    from cuekit.distill.rollout.decoding import DecodeSettings

    return DecodeSettings(
        max_new_tokens=settings.max_new_tokens,
        stop_token_ids=(processor.im_end_token_id,),
        pad_token_id=processor.tokenizer.pad_token_id,
        suppress_token_ids=tuple(vision_token_ids(processor)),
        greedy=settings.greedy,
        temperature=settings.temperature,
        top_p=settings.top_p,
        top_k=settings.top_k,
    )


def _cuekit_rollout(
    model: Any, processor: Any, inputs: dict[str, Any], settings: SamplingSettings
) -> Tensor:
    from cuekit.distill.rollout.decoding import decoder_for

    decoder = decoder_for(model, compile_step=settings.compile)
    return decoder.generate(inputs, _decode_settings(processor, settings))


def _hf_rollout(
    model: Any, processor: Any, inputs: dict[str, Any], settings: SamplingSettings
) -> Tensor:
    # Every sampling field is passed explicitly, so a checkpoint's generation_config.json
    # defaults (Qwen3-VL ships top_k 20, top_p 0.8) cannot slip in.
    sampling: dict[str, Any] = (
        {"do_sample": False}
        if settings.greedy
        else {
            "do_sample": True,
            "temperature": settings.temperature,
            "top_p": settings.top_p,
            "top_k": settings.top_k,
        }
    )
    if settings.engine == "generate-static":  # cuekit's static cache (kv_cache.py)
        from cuekit.distill.rollout.decoding import CACHE_BLOCK, cache_keyword, round_up
        from cuekit.distill.rollout.kv_cache import static_cache

        length = round_up(inputs["input_ids"].shape[1] + settings.max_new_tokens, CACHE_BLOCK)
        sampling[cache_keyword(model)] = static_cache(
            getattr(model, "module", model).config, length
        )
    out = model.generate(
        **inputs,
        max_new_tokens=settings.max_new_tokens,
        eos_token_id=processor.im_end_token_id,
        pad_token_id=processor.tokenizer.pad_token_id,
        suppress_tokens=vision_token_ids(processor),
        **sampling,
    )
    return out[:, inputs["input_ids"].shape[1] :]


def rollout_rows(
    model: Any, processor: Any, prompts: PromptRows, settings: SamplingSettings, chunk_rows: int
) -> Rollouts:
    """Rollouts for every row of ``prompts``, ``chunk_rows`` rows per engine call (0: all).

    Chunking bounds the KV cache; responses are padded to the longest chunk's length
    with the pad id and a zero mask, exactly as one call would pad them. A chunk's
    inputs are :meth:`PromptRows.select`, the same tensors as tokenizing it alone.
    """
    count = len(prompts)
    if settings.engine == "cuekit-continuous":
        return _continuous_rollouts(model, processor, prompts, settings, chunk_rows or count)
    size = chunk_rows or count
    parts = [
        generate_rollouts(
            model, processor, prompts.select(range(i, min(i + size, count))).inputs, settings
        )
        for i in range(0, count, size)
    ]
    if len(parts) == 1:
        return parts[0]
    width = max(p.response_ids.shape[1] for p in parts)
    pad = processor.tokenizer.pad_token_id

    def widen(t: Tensor, value: int) -> Tensor:
        return torch.nn.functional.pad(t, (0, width - t.shape[1]), value=value)

    return Rollouts(
        torch.cat([widen(p.response_ids, pad) for p in parts]),
        torch.cat([widen(p.response_mask, 0) for p in parts]),
    )


def generate_in_chunks(
    model: Any,
    processor: Any,
    questions: list[str],
    images: list[list[Any]],
    settings: SamplingSettings,
    chunk_rows: int,
    *,
    system: str | None = None,
) -> Rollouts:
    """:func:`rollout_rows` for user texts (``ChatPair.student_text``) and their images,
    with the prompt style's ``system`` turn."""
    from cuekit.distill.prompts import build_messages, render_prompt_batch

    chats = [
        build_messages(q, len(ims), system=system) for q, ims in zip(questions, images, strict=True)
    ]
    prompts = PromptRows(
        render_prompt_batch(processor, chats, images), tuple(len(ims) for ims in images)
    )
    return rollout_rows(model, processor, prompts, settings, chunk_rows)


@torch.no_grad()
def _continuous_rollouts(
    model: Any, processor: Any, prompts: PromptRows, settings: SamplingSettings, slots: int
) -> Rollouts:
    """All rows through ``slots`` continuously refilled rows (cuekit.distill.rollout.continuous)."""
    from cuekit.distill.rollout.continuous import ContinuousDecoder

    def make_inputs(indices: list[int]) -> dict[str, Any]:
        return dict(prompts.select(indices).inputs)

    was_training = model.training
    model.eval()
    try:
        rows = ContinuousDecoder(model, slots=slots).generate(
            len(prompts), make_inputs, _decode_settings(processor, settings)
        )
    finally:
        model.train(was_training)
    pad = processor.tokenizer.pad_token_id
    width = max(len(row) for row in rows)
    response = torch.full((len(rows), width), pad, dtype=torch.long)
    for index, row in enumerate(rows):
        response[index, : len(row)] = torch.tensor(row, dtype=torch.long)
    return Rollouts(response, response_mask_until_stop(response, [processor.im_end_token_id]))
