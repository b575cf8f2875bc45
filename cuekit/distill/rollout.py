"""Rollouts (student sampling) and teacher-forced scoring of the sampled responses.

Both go through the same model object: the cue recovery module's hooks run at the
prefill of every rollout engine and in every teacher-forced forward, so a rollout's
log-probs and the training forward's are the same function.

Rollout engines (``SamplingSettings.engine``):

- ``cuekit`` (default): :mod:`cuekit.distill.decoding`, a static-cache decode loop that
  samples the same tokens as ``generate`` for the same seed, optionally with its decode
  step compiled (``compile=True``; CUDA graphs on GPU);
- ``cuekit-continuous``: :mod:`cuekit.distill.continuous`, ``chunk_rows`` slots refilled
  with waiting prompts as rows stop (same function; different random draws);
- ``generate``: HF ``generate`` with its default dynamic cache (the reference);
- ``generate-static``: HF ``generate`` with a pre-allocated static cache
  (transformers compiles its decode step on GPU).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from cuekit.distill.config import ROLLOUT_ENGINES
from cuekit.distill.prompts import (
    ScoringBatch,
    build_scoring_batch,
    response_mask_until_stop,
    vision_token_ids,
)
from cuekit.distill.scoring import gather_logprobs_at, token_logprobs


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
            raise ValueError(f"rollout engine must be one of {', '.join(ROLLOUT_ENGINES)}, "
                             f"got {self.engine!r}")
        if self.compile and self.engine != "cuekit":  # continuous: per-row shapes, eager
            raise ValueError("compiling the decode step needs the cuekit rollout engine, "
                             f"not {self.engine!r}")


@dataclass(frozen=True)
class Rollouts:
    response_ids: Tensor  # (N, R) sampled ids, padded with pad id after the stop token
    response_mask: Tensor  # (N, R) 1 up to and including the stop token


def _to_device(inputs: dict[str, Any], device: torch.device) -> dict[str, Any]:
    return {k: v.to(device) if isinstance(v, Tensor) else v for k, v in inputs.items()}


@torch.no_grad()
def generate_rollouts(model: Any, processor: Any, prompt_inputs: dict[str, Any],
                      settings: SamplingSettings) -> Rollouts:
    """Sample one response per prompt row; ``prompt_inputs`` are left-padded."""
    device = next(model.parameters()).device
    inputs = _to_device(dict(prompt_inputs), device)
    was_training = model.training
    model.eval()
    try:
        response = (_cuekit_rollout(model, processor, inputs, settings)
                    if settings.engine == "cuekit"
                    else _hf_rollout(model, processor, inputs, settings))
    finally:
        model.train(was_training)
    mask = response_mask_until_stop(response, [processor.im_end_token_id])
    # Everything after the stop is padding: make it the pad id so it can be gathered safely.
    response = torch.where(mask.bool(), response,
                           torch.full_like(response, processor.tokenizer.pad_token_id))
    return Rollouts(response_ids=response, response_mask=mask)


def _decode_settings(processor: Any, settings: SamplingSettings) -> Any:
    from cuekit.distill.decoding import DecodeSettings

    return DecodeSettings(
        max_new_tokens=settings.max_new_tokens, stop_token_ids=(processor.im_end_token_id,),
        pad_token_id=processor.tokenizer.pad_token_id,
        suppress_token_ids=tuple(vision_token_ids(processor)), greedy=settings.greedy,
        temperature=settings.temperature, top_p=settings.top_p, top_k=settings.top_k)


def _cuekit_rollout(model: Any, processor: Any, inputs: dict[str, Any],
                    settings: SamplingSettings) -> Tensor:
    from cuekit.distill.decoding import decoder_for

    decoder = decoder_for(model, compile_step=settings.compile)
    return decoder.generate(inputs, _decode_settings(processor, settings))


def _hf_rollout(model: Any, processor: Any, inputs: dict[str, Any],
                settings: SamplingSettings) -> Tensor:
    # Every sampling field is passed explicitly, so a checkpoint's generation_config.json
    # defaults (Qwen3-VL ships top_k 20, top_p 0.8) cannot slip in.
    sampling: dict[str, Any] = (
        {"do_sample": False} if settings.greedy else
        {"do_sample": True, "temperature": settings.temperature, "top_p": settings.top_p,
         "top_k": settings.top_k})
    if settings.engine == "generate-static":  # cuekit's static cache: see kv_cache.py
        from cuekit.distill.decoding import CACHE_BLOCK, cache_keyword, round_up
        from cuekit.distill.kv_cache import static_cache

        length = round_up(inputs["input_ids"].shape[1] + settings.max_new_tokens,
                           CACHE_BLOCK)
        sampling[cache_keyword(model)] = static_cache(
            getattr(model, "module", model).config, length)
    out = model.generate(**inputs, max_new_tokens=settings.max_new_tokens,
                         eos_token_id=processor.im_end_token_id,
                         pad_token_id=processor.tokenizer.pad_token_id,
                         suppress_tokens=vision_token_ids(processor), **sampling)
    return out[:, inputs["input_ids"].shape[1]:]


def generate_in_chunks(model: Any, processor: Any, questions: list[str],
                       images: list[list[Any]], settings: SamplingSettings,
                       chunk_rows: int, *, system: str | None = None) -> Rollouts:
    """Rollouts for all rows, ``chunk_rows`` prompts per ``generate`` call (0: all at once).

    ``questions`` are the student's user texts (``ChatPair.student_text``) and ``system``
    the prompt style's system turn.

    Chunking bounds the KV cache; responses are padded to the longest chunk's length
    with the pad id and a zero mask, exactly as one call would pad them.
    """
    from cuekit.distill.prompts import build_prompt_batch

    if settings.engine == "cuekit-continuous":
        return _continuous_rollouts(model, processor, questions, images, settings,
                                    chunk_rows or len(questions), system)
    size = chunk_rows or len(questions)
    parts = [generate_rollouts(model, processor, build_prompt_batch(
        processor, questions[i:i + size], images[i:i + size], system=system), settings)
        for i in range(0, len(questions), size)]
    if len(parts) == 1:
        return parts[0]
    width = max(p.response_ids.shape[1] for p in parts)
    pad = processor.tokenizer.pad_token_id

    def widen(t: Tensor, value: int) -> Tensor:
        return torch.nn.functional.pad(t, (0, width - t.shape[1]), value=value)

    return Rollouts(torch.cat([widen(p.response_ids, pad) for p in parts]),
                    torch.cat([widen(p.response_mask, 0) for p in parts]))


@torch.no_grad()
def _continuous_rollouts(model: Any, processor: Any, questions: list[str],
                         images: list[list[Any]], settings: SamplingSettings,
                         slots: int, system: str | None = None) -> Rollouts:
    """All rows through ``slots`` continuously refilled rows (cuekit.distill.continuous)."""
    from cuekit.distill.continuous import ContinuousDecoder
    from cuekit.distill.prompts import build_prompt_batch

    def make_inputs(indices: list[int]) -> dict[str, Any]:
        return dict(build_prompt_batch(processor, [questions[i] for i in indices],
                                       [images[i] for i in indices], system=system))

    was_training = model.training
    model.eval()
    try:
        rows = ContinuousDecoder(model, slots=slots).generate(
            len(questions), make_inputs, _decode_settings(processor, settings))
    finally:
        model.train(was_training)
    pad = processor.tokenizer.pad_token_id
    width = max(len(row) for row in rows)
    response = torch.full((len(rows), width), pad, dtype=torch.long)
    for index, row in enumerate(rows):
        response[index, :len(row)] = torch.tensor(row, dtype=torch.long)
    return Rollouts(response, response_mask_until_stop(response, [processor.im_end_token_id]))


def response_hidden(model: Any, batch: ScoringBatch) -> Tensor:
    """(B, R, D) final hidden states at the positions that predict each response token."""
    device = next(model.parameters()).device
    outputs = model.model(**_to_device(batch.inputs, device), use_cache=False)
    return outputs.last_hidden_state[:, batch.predictor_positions]


def lm_head(model: Any) -> tuple[Tensor, Tensor | None]:
    head = model.get_output_embeddings()
    return head.weight, getattr(head, "bias", None)


@dataclass(frozen=True)
class Scores:
    logprobs: Tensor  # (B, R) log-prob of each response token
    topk_logprobs: Tensor | None = None  # (B, R, k)
    topk_ids: Tensor | None = None  # (B, R, k)


def score_responses(model: Any, batch: ScoringBatch, *, chunk_size: int, topk: int = 0,
                    at_ids: Tensor | None = None, temperature: float = 1.0
                    ) -> tuple[Scores, Tensor | None]:
    """Log-probs of the response tokens; gradients flow when grad mode is on.

    ``topk`` returns the model's own top-k (teacher side); ``at_ids`` (B, R, k)
    gathers log-probs at given ids (student side of the top-k losses). Returns the
    scores and the log-probs at ``at_ids`` (or None). ``temperature`` divides the
    logits first: pass the rollout's, so that the student's scores are the log-probs
    of the policy that sampled the tokens.
    """
    hidden = response_hidden(model, batch)
    weight, bias = lm_head(model)
    targets = batch.response_ids.to(hidden.device)
    if topk:
        lp, topk_lp, topk_ids = token_logprobs(hidden, weight, targets, bias=bias,
                                               chunk_size=chunk_size, topk=topk,
                                               temperature=temperature)
        scores = Scores(lp, topk_lp, topk_ids)
    else:
        scores = Scores(token_logprobs(hidden, weight, targets, bias=bias,
                                       chunk_size=chunk_size, temperature=temperature))
    gathered = None
    if at_ids is not None:
        gathered = gather_logprobs_at(hidden, weight, at_ids.to(hidden.device), bias=bias,
                                      chunk_size=chunk_size, temperature=temperature)
    return scores, gathered


@torch.no_grad()
def exact_reverse_kl(student: Any, teacher: Any, student_batch: ScoringBatch,
                     teacher_batch: ScoringBatch, *, chunk_size: int,
                     temperature: float = 1.0) -> Tensor:
    """Per-token KL(student || teacher) over the full vocabulary, (B, R), both at
    ``temperature`` (the distributions training compares).

    Used for evaluation, where its low variance matters more than its cost; the
    logits are formed ``chunk_size`` positions at a time.
    """
    hs = response_hidden(student, student_batch).flatten(0, 1)
    ht = response_hidden(teacher, teacher_batch).flatten(0, 1).to(hs.device)
    ws, bs = lm_head(student)
    wt, bt = lm_head(teacher)
    out = torch.empty(hs.shape[0], dtype=torch.float32, device=hs.device)
    for start in range(0, hs.shape[0], chunk_size):
        stop = start + chunk_size
        ls = torch.nn.functional.linear(hs[start:stop], ws, bs).float()
        ls = (ls / temperature).log_softmax(-1)
        lt = torch.nn.functional.linear(ht[start:stop].to(wt.dtype), wt, bt).float()
        lt = (lt / temperature).log_softmax(-1).to(ls.device)
        out[start:stop] = (ls.exp() * (ls - lt)).sum(-1)
    return out.view(student_batch.response_ids.shape)


def scoring_pair(student_prompt: dict[str, Any], teacher_prompt: dict[str, Any],
                 rollouts: Rollouts, forbidden: list[int]) -> tuple[ScoringBatch, ScoringBatch]:
    """The student's and the teacher's scoring batches over identical response ids."""
    student = build_scoring_batch(student_prompt, rollouts.response_ids.cpu(),
                                  rollouts.response_mask.cpu(), forbidden_token_ids=forbidden)
    teacher = build_scoring_batch(teacher_prompt, rollouts.response_ids.cpu(),
                                  rollouts.response_mask.cpu(), forbidden_token_ids=forbidden)
    return student, teacher
