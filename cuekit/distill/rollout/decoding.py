"""cuekit's rollout engine: one prefill, then a decode loop over a pre-allocated KV cache.

Why not ``generate``: per decoded token, HF ``generate`` grows the attention mask and the
position ids by concatenation, runs its stopping criteria (one host sync per token) and,
with the default cache, grows every layer's K/V by ``torch.cat`` (copying the whole cache
each step). Here every per-step tensor has a fixed shape and a fixed address (the static
cache, a full-width attention mask, positions computed from two vectors), the host is
consulted only every ``check_every`` tokens, and so one decode step can be compiled and
captured as CUDA graphs (``torch.compile(mode="reduce-overhead")``).

The same function as training: the prefill is an ordinary forward of the same model
object, so the cue recovery module's hooks run there exactly as in teacher-forced scoring;
decode steps carry no image features, so the module does nothing. Tokens are drawn with
transformers' own logits processors, in ``generate``'s order, with one ``multinomial``
per step: with the same seed the loop samples the same tokens as ``generate`` (tested).
"""

from __future__ import annotations

import inspect
import logging
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

logger = logging.getLogger(__name__)

CACHE_BLOCK = 256  # cache lengths are multiples of this, so compiled steps are reused


@dataclass(frozen=True)
class DecodeSettings:
    """What one call decodes. ``top_k`` 0 and ``top_p`` 1.0 switch those filters off."""

    max_new_tokens: int
    stop_token_ids: tuple[int, ...]
    pad_token_id: int
    suppress_token_ids: tuple[int, ...] = ()
    greedy: bool = False
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0


def logits_processors(settings: DecodeSettings, device: torch.device) -> Any:
    """transformers' processors for these settings, in the order ``generate`` applies them."""
    from transformers.generation.logits_process import (
        LogitsProcessorList,
        SuppressTokensLogitsProcessor,
        TemperatureLogitsWarper,
        TopKLogitsWarper,
        TopPLogitsWarper,
    )

    processors = LogitsProcessorList()
    if settings.suppress_token_ids:
        processors.append(
            SuppressTokensLogitsProcessor(list(settings.suppress_token_ids), device=str(device))
        )
    if not settings.greedy:
        if settings.temperature != 1.0:
            processors.append(TemperatureLogitsWarper(settings.temperature))
        if settings.top_k:
            processors.append(TopKLogitsWarper(top_k=settings.top_k))
        if settings.top_p < 1.0:
            processors.append(TopPLogitsWarper(top_p=settings.top_p))
    return processors


def inner_model(model: Any) -> Any:
    """The ``Qwen3VLModel`` under a causal-LM model or a sharded view of one."""
    return getattr(model, "module", model).model


def cache_keyword(model: Any) -> str:
    """transformers >= 5.2x calls the cache ``cache``; earlier 5.x ``past_key_values``."""
    forward = getattr(model, "module", model).forward
    return "cache" if "cache" in inspect.signature(forward).parameters else "past_key_values"


def round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def rollout_context(model: Any) -> Any:
    """What a rollout runs inside: a sharded view's ``gathered()`` (no collectives per
    token), else nothing."""
    gathered = getattr(model, "gathered", None)
    return gathered() if gathered is not None else nullcontext()


def next_token_logits(
    model: Any, cache: Any, weights: dict[str, Tensor] | None = None, **inputs: Any
) -> Tensor:
    """Next-token logits (B, V) in fp32, as ``generate`` takes them, writing K/V into
    ``cache``; ``weights`` stand in for the model's own parameters of those names."""
    kwargs = {**inputs, "use_cache": True, "logits_to_keep": 1, cache_keyword(model): cache}
    out = (
        model(**kwargs)
        if weights is None
        else torch.func.functional_call(model, weights, (), kwargs, tie_weights=False, strict=False)
    )
    return out.logits[:, -1, :].float()


def first_response_positions(model: Any, attention_mask: Tensor) -> Tensor:
    """(B,) M-RoPE position of each row's first response token, right after a prefill:
    its valid prompt tokens plus the per-row offset the prefill stored (0 without images)."""
    positions = attention_mask.long().sum(1)
    deltas = inner_model(model).rope_deltas
    return positions if deltas is None else positions + deltas.view(-1).to(positions.device)


def draw(processors: Any, history: Tensor, logits: Tensor, greedy: bool) -> Tensor:
    """(B,) next tokens: ``generate``'s processors, then argmax or one multinomial draw."""
    scores = processors(history, logits)
    if greedy:
        return scores.argmax(-1)
    return torch.multinomial(scores.softmax(-1), num_samples=1).squeeze(1)


class StaticDecoder:
    """Prefill + decode over a static KV cache for one model (see the module docstring).

    Eager (default): the cache starts a little past the prompt and doubles when the
    response reaches its end (the filled part is copied over), so attention reads about
    as much K/V as the tokens so far need, not ``max_new_tokens``' worth. When at most
    ``compact_below`` of the cached rows are still running (checked every
    ``check_every`` tokens), the stopped rows are dropped from the cache, so long tails
    decode only the rows that need it. It is freed after each call so training gets the
    memory back.

    ``compile_step``: the decode step is compiled (on CUDA ``mode="reduce-overhead"``,
    i.e. CUDA graphs). Graphs hold the cache's address, so the cache is allocated once at
    prompt + ``max_new_tokens`` (rounded up to ``block`` positions) and kept between calls
    (one per batch size; a longer prompt reallocates, and recompiles, once); every step
    attends over all of it. Worth it when responses run long relative to
    ``max_new_tokens``, or when ``max_new_tokens`` is moderate.
    """

    def __init__(
        self,
        model: Any,
        *,
        compile_step: bool = False,
        check_every: int = 8,
        block: int = CACHE_BLOCK,
        compact_below: float = 0.5,
        compile_options: dict[str, Any] | None = None,
    ) -> None:
        if check_every < 1 or block < 1:
            raise ValueError(f"check_every and block must be >= 1, got {check_every}, {block}")
        if not 0 <= compact_below < 1:
            raise ValueError(f"compact_below must be in [0, 1), got {compact_below}")
        self.compact_below = compact_below
        self.model = model
        self.check_every = check_every
        self.block = block
        self.compile_step = compile_step
        self._config = getattr(model, "module", model).config
        self._cache: Any = None
        self._cache_shape: tuple[int, int] = (0, 0)  # (batch, length); (0, 0): none
        self._kept: dict[int, tuple[Any, int]] = {}  # compiled: batch -> (cache, length)
        self._longest = 0
        self._low_precision: dict[str, Tensor] | None = None
        self._step = self._decode_step
        if compile_step:
            on_cuda = next(model.parameters()).device.type == "cuda"
            options = {
                "dynamic": False,
                "mode": "reduce-overhead" if on_cuda else None,
                **(compile_options or {}),
            }
            self._step = torch.compile(self._decode_step, **options)

    # -- cache

    def _allocate(self, batch: int, length: int) -> None:
        from cuekit.distill.rollout.kv_cache import static_cache

        self._cache = static_cache(self._config, length)
        self._cache_shape = (batch, length)

    def _start_cache(self, batch: int, prompt_len: int, max_new_tokens: int) -> int:
        """A cache ready for the prefill; its length."""
        full = round_up(prompt_len + max_new_tokens, self.block)
        self._longest = full  # growth never goes past what this call can fill
        if not self.compile_step:
            self._allocate(batch, min(full, round_up(prompt_len + self.block, self.block)))
            return self._cache_shape[1]
        # Compiled: one kept cache per batch size (a short last chunk must not evict the
        # usual one), reused while long enough, so captured graphs stay valid.
        kept = self._kept.get(batch)
        if kept is not None and kept[1] >= full:
            self._cache, self._cache_shape = kept[0], (batch, kept[1])
            self._cache.reset()
        else:
            self._allocate(batch, max(full, kept[1] if kept is not None else 0))
            self._kept[batch] = (self._cache, self._cache_shape[1])
        return self._cache_shape[1]

    def _move(self, filled: int, length: int, keep: Tensor | None = None) -> None:
        """Copy the ``filled`` positions (of rows ``keep``, or all) into a new cache of
        ``length``, layer by layer, so the peak is the new cache plus one old layer."""
        batch = self._cache_shape[0] if keep is None else int(keep.numel())
        old = self._cache
        self._allocate(batch, length)
        for new_layer, old_layer in zip(self._cache.layers, old.layers, strict=True):
            keys, values = old_layer.keys[:, :, :filled], old_layer.values[:, :, :filled]
            if keep is not None:
                keys, values = keys[keep], values[keep]
            new_layer.update(keys, values)
            old_layer.keys = old_layer.values = None

    def _grow(self, filled: int, needed: int) -> int:
        """Move the ``filled`` positions into a cache of at least ``needed``; its length."""
        length = self._cache_shape[1]
        self._move(
            filled, min(max(round_up(needed, self.block), 2 * length), max(self._longest, needed))
        )
        return self._cache_shape[1]

    def release(self) -> None:
        """Drop the KV caches (a later call allocates new ones)."""
        self._cache, self._cache_shape = None, (0, 0)
        self._kept.clear()

    # -- forwards

    def _forward(self, weights: dict[str, Tensor] | None = None, **inputs: Any) -> Tensor:
        return next_token_logits(self.model, self._cache, weights, **inputs)

    def _decode_step(
        self, tokens: Tensor, positions: Tensor, mask: Tensor, weights: dict[str, Tensor] | None
    ) -> Tensor:
        return self._forward(weights, input_ids=tokens, position_ids=positions, attention_mask=mask)

    def _autocast_weights(self) -> dict[str, Tensor] | None:
        """For a compiled step under autocast: the linear weights already in the autocast
        dtype, in tensors that keep their address between rollouts.

        Eager autocast caches each weight's cast for the whole rollout; a compiled graph
        would cast the fp32 master weights again at every token (reading 3x the bytes a
        bf16 decode step needs). Only the decode path's ``nn.Linear`` parameters are stood
        in for, the ones autocast would cast, so the numbers are the eager rollout's.
        """
        device_type = next(self.model.parameters()).device.type
        if not torch.is_autocast_enabled(device_type):
            return None
        dtype = torch.get_autocast_dtype(device_type)
        # Only what a decode step runs: the text decoder and the lm head (the vision tower
        # and the cue recovery module work at prefill only).
        decoding = {
            *inner_model(self.model).language_model.modules(),
            self.model.get_output_embeddings(),
        }
        linear = {
            f"{name}.{kind}": tensor
            for name, module in self.model.named_modules()
            if isinstance(module, torch.nn.Linear) and module in decoding
            for kind, tensor in (("weight", module.weight), ("bias", module.bias))
            if tensor is not None and tensor.dtype != dtype
        }
        if self._low_precision is None or self._low_precision.keys() != linear.keys():
            self._low_precision = {
                name: tensor.detach().to(dtype) for name, tensor in linear.items()
            }
            for tensor in self._low_precision.values():
                torch._dynamo.mark_static_address(tensor)  # graphs read them in place
        else:  # the optimizer changed the master weights since the last rollout
            for name, tensor in linear.items():
                self._low_precision[name].copy_(tensor.detach())
        return self._low_precision

    def _run_step(
        self, tokens: Tensor, positions: Tensor, mask: Tensor, weights: dict[str, Tensor] | None
    ) -> Tensor:
        """One decode step; a compiled step that fails to compile falls back to eager.

        Dynamo and its backends raise ``TorchDynamoException`` while tracing or compiling,
        before the step runs, so nothing has been written to the cache yet: the run goes
        on eagerly with a warning rather than losing a training job to a compiler problem.
        Errors of the step itself (out of memory, ...) are not caught.
        """
        try:
            return self._step(tokens, positions, mask, weights)
        except torch._dynamo.exc.TorchDynamoException as error:
            if self._step is self._decode_step:
                raise
            logger.warning(
                "compiling the rollout decode step failed (%s: %s); decoding eagerly instead",
                type(error).__name__,
                str(error)[:300],
            )
            self._step = self._decode_step
            return self._step(tokens, positions, mask, weights)

    # -- the loop

    @torch.no_grad()
    def generate(self, inputs: dict[str, Any], settings: DecodeSettings) -> Tensor:
        """(B, N) response ids for left-padded prompt ``inputs``; rows are padded with the
        pad id after their stop token, and N stops where ``generate`` would stop."""
        prompt_ids, prompt_mask = inputs["input_ids"], inputs["attention_mask"]
        batch, prompt_len = prompt_ids.shape
        device = prompt_ids.device
        length = self._start_cache(batch, prompt_len, settings.max_new_tokens)
        # The full-width mask: prompt padding stays masked, every later slot is visible
        # (slots not yet written are hidden by causality, as in generate's static cache).
        mask = torch.ones(batch, length, dtype=prompt_mask.dtype, device=device)
        mask[:, :prompt_len] = prompt_mask
        try:
            with rollout_context(self.model):
                logits = self._forward(**inputs)
                base = first_response_positions(self.model, prompt_mask)  # token k: base + k
                weights = self._autocast_weights() if self.compile_step else None
                return self._loop(logits, base, mask, prompt_len, settings, weights)
        finally:
            if not self.compile_step:
                self.release()

    def _loop(
        self,
        logits: Tensor,
        base: Tensor,
        mask: Tensor,
        prompt_len: int,
        settings: DecodeSettings,
        weights: dict[str, Tensor] | None,
    ) -> Tensor:
        batch, device = base.shape[0], base.device
        processors = logits_processors(settings, device)
        stops = torch.tensor(settings.stop_token_ids, device=device)
        out = torch.full(
            (batch, settings.max_new_tokens), settings.pad_token_id, dtype=torch.long, device=device
        )
        unfinished = torch.ones(batch, dtype=torch.bool, device=device)
        finished_at = torch.full((batch,), settings.max_new_tokens, dtype=torch.long, device=device)
        rows = None  # after a compaction: the (B,) rows still in the cache, in order
        for k in range(settings.max_new_tokens):
            # Always all B rows: the random draws match generate's, row for row.
            tokens = draw(processors, out[:, :k], logits, settings.greedy)
            tokens = torch.where(unfinished, tokens, settings.pad_token_id)
            out[:, k] = tokens
            stopped = unfinished & torch.isin(tokens, stops)
            finished_at = torch.where(stopped, k + 1, finished_at)
            unfinished &= ~stopped
            if k + 1 == settings.max_new_tokens:
                break
            if (k + 1) % self.check_every == 0:  # the only host syncs of the loop
                live = unfinished if rows is None else unfinished[rows]
                count = int(live.sum())
                if count == 0:
                    break
                if not self.compile_step and count <= live.numel() * self.compact_below:
                    # Most rows have stopped: carry on with the others only.
                    keep = live.nonzero().squeeze(1)
                    self._move(prompt_len + k, self._cache_shape[1], keep)
                    mask, base = mask[keep], base[keep]
                    if rows is None:  # from now on the step's logits land in this (B, V)
                        logits = logits.clone()
                    rows = keep if rows is None else rows[keep]
            if prompt_len + k >= mask.shape[1]:  # eager only: the cache is full
                length = self._grow(prompt_len + k, prompt_len + k + 1)
                mask = torch.cat([mask, mask.new_ones(mask.shape[0], length - mask.shape[1])], 1)
            fed = tokens if rows is None else tokens[rows]
            positions = (base + k).view(1, -1, 1).expand(3, -1, 1)
            if self.compile_step:
                torch.compiler.cudagraph_mark_step_begin()  # last step's outputs are consumed
            step_logits = self._run_step(fed[:, None], positions, mask, weights)
            if rows is None:
                logits = step_logits
            else:  # stopped rows keep old logits: they are sampled, then replaced by pad
                logits[rows] = step_logits
        # generate stops once every row has stopped: columns after that are never produced.
        width = int(finished_at.max()) if not bool(unfinished.any()) else settings.max_new_tokens
        return out[:, :width]


DECODER_ATTR = "_cuekit_decoder"


def decoder_for(model: Any, *, compile_step: bool = False) -> StaticDecoder:
    """The model's decoder, made on first use (compiled steps and kept caches are reused).

    Stored on the model itself rather than in a side table, so model and decoder are
    freed together.
    """
    decoder = getattr(model, DECODER_ATTR, None)
    if decoder is None or decoder.compile_step != compile_step:
        decoder = StaticDecoder(model, compile_step=compile_step)
        object.__setattr__(model, DECODER_ATTR, decoder)  # not a submodule: no state_dict
    return decoder
