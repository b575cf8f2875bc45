"""Scoring: per-token log-probs of sampled responses, from final hidden states in chunks.

:func:`score_responses` is what distill calls for the teacher and the student (and
:func:`exact_reverse_kl` for held-out evaluation); the rest of this module is how the
log-probs are formed without ever holding a full-vocabulary logits tensor.

Full-vocabulary logits for a whole batch are the memory peak of distillation:
B=2, T=3072 and V=151,936 is 3.7 GB in fp32, and autograd would keep them (and their
softmax) alive until backward. Here the N = B*T tokens are processed ``chunk_size`` at a
time: project the chunk to logits (chunk, V) in the compute dtype, upcast that chunk to
fp32, take logsumexp and gather the wanted ids. Only O(N) numbers survive a chunk.

Gradients (student side) come from a custom ``autograd.Function`` rather than autograd
over the chunk loop: autograd would save every chunk's logits for backward, which is the
full (N, V) tensor again. The Function saves only hidden, weight, ids and the per-token
logsumexp (N,), and its backward recomputes each chunk's logits (one extra matmul, the
same trade as activation checkpointing) to form d lp / d logits = (onehot - softmax) / tau.
``torch.utils.checkpoint`` per chunk would also avoid keeping the logits, but its
recompute runs the generic graph (logits, fp32 copy, log_softmax and their gradients:
several (chunk, V) buffers per chunk); the Function forms the gradient in place in one
(chunk, V) fp32 buffer.

Compute dtype: the autocast dtype when autocast is on for the device (as the plain
``lm_head`` would run under autocast), else the promoted dtype of hidden and weight.
Logits are always upcast to fp32 before softmax; weight and bias gradients are
accumulated over chunks in fp32.

Targets must be valid token ids in [0, V). Replace padding by any valid id (the pad id)
and drop those positions with the loss mask.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from cuekit.distill.prompts import ScoringBatch, build_scoring_batch

if TYPE_CHECKING:
    from cuekit.distill.rollout import Rollouts

DEFAULT_CHUNK_SIZE = 512  # tokens; (512, 151936) fp32 is 311 MB


def _compute_dtype(hidden: Tensor, weight: Tensor) -> torch.dtype:
    device_type = hidden.device.type
    if torch.is_autocast_enabled(device_type):
        return torch.get_autocast_dtype(device_type)
    return torch.promote_types(hidden.dtype, weight.dtype)


def _accumulate_dtype(compute_dtype: torch.dtype) -> torch.dtype:
    """fp32 for bf16/fp16/fp32 compute; fp64 stays fp64 (exact checks in tests)."""
    return torch.promote_types(compute_dtype, torch.float32)


def _chunk_logits(
    hidden_chunk: Tensor, weight: Tensor, bias: Tensor | None, temperature: float
) -> Tensor:
    """(c, D) x (V, D) -> (c, V) fp32 logits / temperature; weight already in compute dtype."""
    logits = hidden_chunk.to(weight.dtype) @ weight.T
    if bias is not None:
        logits = logits + bias.to(weight.dtype)
    logits = logits.to(_accumulate_dtype(weight.dtype))
    if temperature != 1.0:
        logits.div_(temperature)
    return logits


class _ChunkedGatherLogProbs(torch.autograd.Function):
    """log_softmax(hidden @ W.T + b, / tau) gathered at ids, chunk by chunk.

    hidden (N, D), weight (V, D), bias (V,) or None, ids (N, k) -> (N, k) fp32.
    """

    @staticmethod
    def forward(
        ctx,
        hidden: Tensor,
        weight: Tensor,
        bias: Tensor | None,
        ids: Tensor,
        chunk_size: int,
        temperature: float,
        compute_dtype: torch.dtype,
    ) -> Tensor:
        cast_weight = weight.to(compute_dtype)
        acc_dtype = _accumulate_dtype(compute_dtype)
        out = torch.empty(ids.shape, dtype=acc_dtype, device=hidden.device)
        logsumexp = torch.empty(ids.shape[0], dtype=acc_dtype, device=hidden.device)
        for start in range(0, hidden.shape[0], chunk_size):
            stop = start + chunk_size
            logits = _chunk_logits(hidden[start:stop], cast_weight, bias, temperature)
            logsumexp[start:stop] = torch.logsumexp(logits, dim=-1)
            out[start:stop] = logits.gather(1, ids[start:stop]) - logsumexp[start:stop, None]
            del logits
        ctx.save_for_backward(hidden, weight, bias, ids, logsumexp)
        ctx.chunk_size, ctx.temperature, ctx.compute_dtype = chunk_size, temperature, compute_dtype
        return out

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        hidden, weight, bias, ids, logsumexp = ctx.saved_tensors
        want_hidden, want_weight, want_bias = ctx.needs_input_grad[:3]
        cast_weight = weight.to(ctx.compute_dtype)
        acc_dtype = _accumulate_dtype(ctx.compute_dtype)
        grad_hidden = torch.empty_like(hidden) if want_hidden else None
        grad_weight = (
            torch.zeros(weight.shape, dtype=acc_dtype, device=weight.device)
            if want_weight
            else None
        )
        grad_bias = (
            torch.zeros(bias.shape, dtype=acc_dtype, device=bias.device) if want_bias else None
        )
        grad_out = grad_out.to(acc_dtype)
        for start in range(0, hidden.shape[0], ctx.chunk_size):
            stop = start + ctx.chunk_size
            hidden_chunk, grad_chunk = hidden[start:stop], grad_out[start:stop]  # (c, D), (c, k)
            # d lp[i, j] / d logits[i, v] = (1[v = ids[i, j]] - softmax[i, v]) / tau, so
            # grad_logits = (scatter(grad) - softmax * grad.sum(-1)) / tau, built in place
            # in the one (c, V) fp32 buffer.
            grad_logits = _chunk_logits(hidden_chunk, cast_weight, bias, ctx.temperature)
            grad_logits.sub_(logsumexp[start:stop, None]).exp_()
            grad_logits.mul_(-grad_chunk.sum(dim=-1, keepdim=True))
            grad_logits.scatter_add_(1, ids[start:stop], grad_chunk)
            if ctx.temperature != 1.0:
                grad_logits.div_(ctx.temperature)
            # Each buffer is None exactly when its input needs no gradient.
            if grad_bias is not None:
                grad_bias += grad_logits.sum(dim=0)
            grad_logits = grad_logits.to(ctx.compute_dtype)
            if grad_hidden is not None:
                grad_hidden[start:stop] = (grad_logits @ cast_weight).to(hidden.dtype)
            if grad_weight is not None:
                grad_weight += (grad_logits.T @ hidden_chunk.to(ctx.compute_dtype)).to(acc_dtype)
            del grad_logits
        if grad_weight is not None:
            grad_weight = grad_weight.to(weight.dtype)
        if grad_bias is not None:
            grad_bias = grad_bias.to(bias.dtype)
        return grad_hidden, grad_weight, grad_bias, None, None, None, None


def _validate(
    hidden: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    ids: Tensor,
    ids_name: str,
    ids_extra_dims: int,
    chunk_size: int,
    temperature: float,
) -> None:
    if weight.dim() != 2 or hidden.shape[-1] != weight.shape[1]:
        raise ValueError(
            f"lm_head_weight must be (V, D) with D = hidden.shape[-1] = {hidden.shape[-1]}; "
            f"got {tuple(weight.shape)}"
        )
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise ValueError(f"bias must be ({weight.shape[0]},); got {tuple(bias.shape)}")
    leading = tuple(ids.shape[: ids.dim() - ids_extra_dims])
    if leading != tuple(hidden.shape[:-1]):
        raise ValueError(
            f"{ids_name} must have shape {tuple(hidden.shape[:-1])}"
            f"{' + (k,)' if ids_extra_dims else ''} to match hidden {tuple(hidden.shape)}; "
            f"got {tuple(ids.shape)}"
        )
    if ids.dtype not in (torch.int64, torch.int32):
        raise ValueError(f"{ids_name} must hold integer token ids; got dtype {ids.dtype}")
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= weight.shape[0]):
        raise ValueError(
            f"{ids_name} must lie in [0, {weight.shape[0]}); got range "
            f"[{int(ids.min())}, {int(ids.max())}] (replace padding by a valid id and mask it)"
        )
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1; got {chunk_size}")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0; got {temperature}")


def _gather(
    hidden: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    ids: Tensor,
    chunk_size: int,
    temperature: float,
) -> Tensor:
    """hidden (..., D), ids (..., k) -> (..., k) fp32 log-probs, with autograd."""
    flat_hidden = hidden.reshape(-1, hidden.shape[-1])
    flat_ids = ids.reshape(flat_hidden.shape[0], -1).long()
    flat = _ChunkedGatherLogProbs.apply(
        flat_hidden,
        weight,
        bias,
        flat_ids,
        chunk_size,
        float(temperature),
        _compute_dtype(hidden, weight),
    )
    return flat.reshape(ids.shape)


def token_logprobs(
    hidden: Tensor,
    lm_head_weight: Tensor,
    targets: Tensor,
    *,
    bias: Tensor | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    temperature: float = 1.0,
    topk: int = 0,
) -> Tensor | tuple[Tensor, Tensor, Tensor]:
    """Log-prob of each target id under log_softmax((hidden @ W.T + bias) / temperature).

    hidden (B, T, D) (any leading dims), lm_head_weight (V, D), targets (B, T) int ids.
    Returns lp (B, T) fp32 (fp64 if the inputs are fp64). With ``topk > 0`` returns
    (lp, topk_lp (B, T, k) fp32, topk_ids (B, T, k) int64): the k most likely ids and their
    log-probs, sorted descending.

    ``lp`` carries gradients wrt hidden, weight and bias when those require grad (student).
    ``topk_lp`` / ``topk_ids`` are always detached (the teacher side); for the student's
    log-probs at the teacher's top-k ids use ``gather_logprobs_at``. Call under
    ``torch.inference_mode()`` for the teacher: the forward then saves nothing.
    """
    _validate(hidden, lm_head_weight, bias, targets, "targets", 0, chunk_size, temperature)
    if topk < 0 or topk > lm_head_weight.shape[0]:
        raise ValueError(f"topk must lie in [0, {lm_head_weight.shape[0]}]; got {topk}")
    if topk == 0:
        return _gather(hidden, lm_head_weight, bias, targets[..., None], chunk_size, temperature)[
            ..., 0
        ]
    # Teacher path with top-k: one chunked pass that also keeps the k best per token.
    flat_hidden = hidden.reshape(-1, hidden.shape[-1]).detach()
    flat_targets = targets.reshape(-1, 1).long()
    cast_weight = lm_head_weight.detach().to(_compute_dtype(hidden, lm_head_weight))
    acc_dtype = _accumulate_dtype(cast_weight.dtype)
    cast_bias = None if bias is None else bias.detach()
    n_tokens = flat_hidden.shape[0]
    device = hidden.device
    target_lp = torch.empty(n_tokens, dtype=acc_dtype, device=device)
    topk_lp = torch.empty(n_tokens, topk, dtype=acc_dtype, device=device)
    topk_ids = torch.empty(n_tokens, topk, dtype=torch.int64, device=device)
    with torch.no_grad():
        for start in range(0, n_tokens, chunk_size):
            stop = start + chunk_size
            logits = _chunk_logits(flat_hidden[start:stop], cast_weight, cast_bias, temperature)
            logits.sub_(torch.logsumexp(logits, dim=-1, keepdim=True))  # now log-probs
            target_lp[start:stop] = logits.gather(1, flat_targets[start:stop])[:, 0]
            best_lp, best_ids = torch.topk(logits, topk, dim=-1)
            topk_lp[start:stop], topk_ids[start:stop] = best_lp, best_ids
            del logits
    lp = target_lp.reshape(targets.shape)
    if torch.is_grad_enabled() and (
        hidden.requires_grad
        or lm_head_weight.requires_grad
        or (bias is not None and bias.requires_grad)
    ):
        # A student asking for top-k too: recompute lp with gradients (rare, costs a pass).
        lp = _gather(hidden, lm_head_weight, bias, targets[..., None], chunk_size, temperature)[
            ..., 0
        ]
    shape = (*targets.shape, topk)
    return lp, topk_lp.reshape(shape), topk_ids.reshape(shape)


def gather_logprobs_at(
    hidden: Tensor,
    lm_head_weight: Tensor,
    ids: Tensor,
    *,
    bias: Tensor | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    temperature: float = 1.0,
) -> Tensor:
    """Log-probs at given ids per position: hidden (B, T, D), ids (B, T, k) -> (B, T, k) fp32.

    The student side of the top-k losses (ids = the teacher's top-k ids). Same chunking,
    dtype and autograd behaviour as ``token_logprobs``.
    """
    if ids.dim() != hidden.dim():
        raise ValueError(
            f"ids must have shape {tuple(hidden.shape[:-1])} + (k,); got {tuple(ids.shape)}"
        )
    _validate(hidden, lm_head_weight, bias, ids, "ids", 1, chunk_size, temperature)
    return _gather(hidden, lm_head_weight, bias, ids, chunk_size, temperature)


# ---------------------------------------------------------------- a model's scores


def to_device(inputs: dict[str, Any], device: torch.device) -> dict[str, Any]:
    """Move the tensors of a model-input dict to ``device``."""
    return {k: v.to(device) if isinstance(v, Tensor) else v for k, v in inputs.items()}


def response_hidden(model: Any, batch: ScoringBatch) -> Tensor:
    """(B, R, D) final hidden states at the positions that predict each response token."""
    device = next(model.parameters()).device
    outputs = model.model(**to_device(batch.inputs, device), use_cache=False)
    return outputs.last_hidden_state[:, batch.predictor_positions]


def lm_head(model: Any) -> tuple[Tensor, Tensor | None]:
    head = model.get_output_embeddings()
    return head.weight, getattr(head, "bias", None)


@dataclass(frozen=True)
class Scores:
    logprobs: Tensor  # (B, R) log-prob of each response token
    topk_logprobs: Tensor | None = None  # (B, R, k)
    topk_ids: Tensor | None = None  # (B, R, k)


def score_responses(
    model: Any,
    batch: ScoringBatch,
    *,
    chunk_size: int,
    topk: int = 0,
    at_ids: Tensor | None = None,
    temperature: float = 1.0,
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
    found = token_logprobs(
        hidden,
        weight,
        targets,
        bias=bias,
        chunk_size=chunk_size,
        topk=topk,
        temperature=temperature,
    )  # (lp, topk_lp, topk_ids)
    scores = Scores(*found) if isinstance(found, tuple) else Scores(found)
    gathered = None
    if at_ids is not None:
        gathered = gather_logprobs_at(
            hidden,
            weight,
            at_ids.to(hidden.device),
            bias=bias,
            chunk_size=chunk_size,
            temperature=temperature,
        )
    return scores, gathered


@torch.no_grad()
def exact_reverse_kl(
    student: Any,
    teacher: Any,
    student_batch: ScoringBatch,
    teacher_batch: ScoringBatch,
    *,
    chunk_size: int,
    temperature: float = 1.0,
) -> Tensor:
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


def scoring_pair(
    student_prompt: Mapping[str, Any],
    teacher_prompt: Mapping[str, Any],
    rollouts: Rollouts,
    forbidden: list[int],
) -> tuple[ScoringBatch, ScoringBatch]:
    """The student's and the teacher's scoring batches over identical response ids."""
    student = build_scoring_batch(
        student_prompt,
        rollouts.response_ids.cpu(),
        rollouts.response_mask.cpu(),
        forbidden_token_ids=forbidden,
    )
    teacher = build_scoring_batch(
        teacher_prompt,
        rollouts.response_ids.cpu(),
        rollouts.response_mask.cpu(),
        forbidden_token_ids=forbidden,
    )
    return student, teacher
