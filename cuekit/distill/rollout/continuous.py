"""Continuous batching for rollouts: a fixed number of slots, refilled as rows finish.

When a step's rollouts are generated ``--rollout-batch-size`` rows at a time, each chunk
runs until its longest row stops, so with the varied lengths of real rollouts most
row-steps of a chunk decode padding. Here the same number of rows (slots) decode
together, and a slot whose row stops is given the next waiting prompt: the number of
decode steps falls from the sum of every chunk's longest row towards the total response
tokens divided by the slot count.

How it fits transformers without a modeling change:

- each slot row has its own write position: :class:`SlotLayer` (a ``StaticLayer``)
  writes row r's new K/V at ``positions[r]``;
- the attention mask is given in 4D (transformers uses a 4D mask as it is): row r sees
  exactly the slots it has filled;
- positions (M-RoPE included) are passed explicitly, per row;
- a refill is an ordinary prefill forward of the waiting prompts (so the cue recovery
  module runs there, as in training), whose K/V are then copied into the free slots.

Tokens are drawn with the same transformers logits processors as
:mod:`cuekit.distill.rollout.decoding`; which random draws a row gets depends on the slot
schedule, so unlike the chunked engine this does not reproduce ``generate``'s samples
(greedy decoding does reproduce it, tested).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import torch
from torch import Tensor

from cuekit.distill.rollout.decoding import (
    CACHE_BLOCK,
    DecodeSettings,
    draw,
    first_response_positions,
    logits_processors,
    next_token_logits,
    rollout_context,
    round_up,
)


@cache
def _slot_layer_class() -> type:
    from cuekit.distill.rollout.kv_cache import typed_static_layer_class

    # A base built at run time (transformers is imported only when a rollout needs it),
    # which mypy cannot follow.
    class SlotLayer(typed_static_layer_class()):  # type: ignore[misc]
        """A static layer whose rows each write one token at their own position."""

        def __init__(self, max_cache_len: int, positions: Tensor) -> None:
            super().__init__(max_cache_len=max_cache_len)
            self.positions = positions  # (S,) shared by every layer; set per step

        def update(
            self, key_states: Tensor, value_states: Tensor, *args: Any, **kwargs: Any
        ) -> tuple[Tensor, Tensor]:
            if not self.is_initialized:
                self.lazy_initialization(key_states, value_states)
            rows = torch.arange(key_states.shape[0], device=key_states.device)
            self.keys[rows, :, self.positions] = key_states[:, :, 0]
            self.values[rows, :, self.positions] = value_states[:, :, 0]
            return self.keys, self.values

    return SlotLayer


@dataclass
class _Slots:
    """Per-slot state, on the device so that decoding needs no host sync per token."""

    written: Tensor  # (S, C) bool: cache positions a slot's row may attend to
    positions: Tensor  # (S,) long: next cache write position
    text: Tensor  # (S,) long: next M-RoPE position (text position + the row's offset)
    out: Tensor  # (S, R) long: the current row's tokens so far
    count: Tensor  # (S,) long: how many
    running: Tensor  # (S,) bool: a row is decoding (not stopped, not idle)
    row: list[int] = field(default_factory=list)  # host: prompt index per slot, -1 idle


class ContinuousDecoder:
    """Decode many prompts through ``slots`` rows of one cache, refilling finished rows.

    ``make_inputs(indices)`` builds the left-padded prompt batch of those prompt indices
    (as ``build_prompt_batch`` does). The host looks at the slots every ``check_every``
    tokens: it collects the rows that stopped and prefills waiting prompts in their place.
    """

    def __init__(
        self, model: Any, *, slots: int, check_every: int = 8, block: int = CACHE_BLOCK
    ) -> None:
        if slots < 1 or check_every < 1:
            raise ValueError(f"slots and check_every must be >= 1, got {slots}, {check_every}")
        self.model, self.slots, self.check_every, self.block = model, slots, check_every, block
        self._config = getattr(model, "module", model).config
        self._cache: Any = None
        self.slots_in_use = 0  # min(slots, prompts) of the current call
        self._max_new_tokens = 0
        self.steps = 0

    def _new_cache(self, length: int, positions: Tensor) -> Any:
        from cuekit.distill.rollout.kv_cache import static_cache

        return static_cache(self._config, length, _slot_layer_class(), positions=positions)

    def _prefill(self, inputs: dict[str, Any]) -> tuple[Tensor, Any, Tensor]:
        """Logits (n, V), the filled temporary cache and the rows' next M-RoPE positions."""
        from cuekit.distill.rollout.kv_cache import static_cache

        length = round_up(inputs["input_ids"].shape[1], self.block)
        prefill_cache = static_cache(self._config, length)
        logits = next_token_logits(self.model, prefill_cache, **inputs)
        text = first_response_positions(self.model, inputs["attention_mask"])
        return logits, prefill_cache, text

    def _ensure_length(self, state: _Slots, needed: int) -> None:
        """Grow the slot cache (and the masks) to hold ``needed`` positions per row."""
        length = state.written.shape[1]
        if needed <= length:
            return
        longer = round_up(needed, self.block)
        old, self._cache = self._cache, self._new_cache(longer, state.positions)
        for new_layer, old_layer in zip(self._cache.layers, old.layers, strict=True):
            if old_layer.is_initialized:  # copy layer by layer: one old layer at a time
                new_layer.lazy_initialization(old_layer.keys[:, :, :1], old_layer.values[:, :, :1])
                new_layer.keys[:, :, :length] = old_layer.keys
                new_layer.values[:, :, :length] = old_layer.values
                old_layer.keys = old_layer.values = None
        state.written = torch.cat(
            [state.written, state.written.new_zeros(state.written.shape[0], longer - length)], dim=1
        )

    def _refill(
        self,
        state: _Slots,
        free: list[int],
        prompts: list[int],
        make_inputs: Callable[[list[int]], dict[str, Any]],
    ) -> Tensor:
        """Prefill ``prompts`` into the ``free`` slots; their next-token logits (n, V)."""
        device = state.positions.device
        inputs = {
            k: v.to(device) if isinstance(v, Tensor) else v for k, v in make_inputs(prompts).items()
        }
        prompt_len = inputs["input_ids"].shape[1]
        logits, temporary, text = self._prefill(inputs)
        self._ensure_length(state, prompt_len + self._max_new_tokens)
        index = torch.tensor(free, device=device)
        for slot_layer, filled in zip(self._cache.layers, temporary.layers, strict=True):
            if not slot_layer.is_initialized:  # allocate (S, H, C, D) like its source
                slot_layer.lazy_initialization(
                    filled.keys[:1].expand(self.slots_in_use, -1, -1, -1),
                    filled.values[:1].expand(self.slots_in_use, -1, -1, -1),
                )
            slot_layer.keys[index, :, :prompt_len] = filled.keys[:, :, :prompt_len]
            slot_layer.values[index, :, :prompt_len] = filled.values[:, :, :prompt_len]
        state.written[index] = False
        state.written[index, :prompt_len] = inputs["attention_mask"].bool()
        state.positions[index] = prompt_len
        state.text[index] = text
        state.count[index] = 0
        state.running[index] = True
        for slot, prompt in zip(free, prompts, strict=True):
            state.row[slot] = prompt
        return logits

    @torch.no_grad()
    def generate(
        self,
        count: int,
        make_inputs: Callable[[list[int]], dict[str, Any]],
        settings: DecodeSettings,
    ) -> list[list[int]]:
        """Response ids of prompts ``0 .. count - 1``, each up to and including its stop
        token (or ``max_new_tokens`` long)."""
        device = next(self.model.parameters()).device
        slots = self.slots_in_use = min(self.slots, count)
        self._max_new_tokens = settings.max_new_tokens
        positions = torch.zeros(slots, dtype=torch.long, device=device)
        self._cache = self._new_cache(self.block, positions)  # grown by the first refill
        state = _Slots(
            written=torch.zeros(slots, self.block, dtype=torch.bool, device=device),
            positions=positions,
            text=torch.zeros_like(positions),
            out=torch.zeros(slots, settings.max_new_tokens, dtype=torch.long, device=device),
            count=torch.zeros_like(positions),
            running=torch.zeros(slots, dtype=torch.bool, device=device),
            row=[-1] * slots,
        )
        processors = logits_processors(settings, device)
        stops = torch.tensor(settings.stop_token_ids, device=device)
        waiting = list(range(count))
        results: dict[int, list[int]] = {}
        logits: Tensor | None = None
        try:
            with rollout_context(self.model):
                step = 0
                while True:
                    if step % self.check_every == 0 or logits is None:
                        self._harvest(state, results)
                        free = [s for s in range(slots) if state.row[s] < 0]
                        if free and waiting:  # new rows start from their prefill
                            take, waiting = waiting[: len(free)], waiting[len(free) :]
                            refill = self._refill(state, free[: len(take)], take, make_inputs)
                            if logits is None:
                                logits = refill.new_zeros(slots, refill.shape[-1])
                            logits[torch.tensor(free[: len(take)], device=device)] = refill
                        if all(row < 0 for row in state.row):
                            break
                    # Rows run only after a refill, and the first refill sets logits.
                    assert logits is not None
                    tokens = draw(processors, state.out, logits, settings.greedy)
                    self._record(tokens, state, stops, settings.max_new_tokens)
                    logits = self._decode(tokens, state)
                    step += 1
        finally:
            self._cache = None
        self.steps = step  # decode steps of the last call (each runs every slot once)
        return [results[i] for i in range(count)]

    @staticmethod
    def _record(tokens: Tensor, state: _Slots, stops: Tensor, max_new_tokens: int) -> None:
        """Append each running slot's token; stop rows at a stop id or the length cap."""
        rows = torch.arange(tokens.shape[0], device=tokens.device)
        at = state.count.clamp(max=max_new_tokens - 1)
        state.out[rows, at] = torch.where(state.running, tokens, state.out[rows, at])
        state.count += state.running.long()
        ended = torch.isin(tokens, stops) | (state.count >= max_new_tokens)
        state.running &= ~ended

    @staticmethod
    def _harvest(state: _Slots, results: dict[int, list[int]]) -> None:
        """Collect the rows that stopped (one host sync); their slots become free."""
        running = state.running.tolist()
        counts = state.count.tolist()
        for slot, row in enumerate(state.row):
            if row >= 0 and not running[slot]:
                results[row] = state.out[slot, : counts[slot]].tolist()
                state.row[slot] = -1

    def _decode(self, tokens: Tensor, state: _Slots) -> Tensor:
        """Feed every slot's new token; next-token logits (S, V). Slots that are not
        running write in place (their position does not move) and are ignored."""
        slots = tokens.shape[0]
        rows = torch.arange(slots, device=tokens.device)
        state.written[rows, state.positions] = True  # the new token's own position
        positions = state.text.view(1, slots, 1).expand(3, slots, 1)
        mask = state.written[:, None, None, :]  # (S, 1, 1, C): used as given
        logits = next_token_logits(
            self.model,
            self._cache,
            input_ids=tokens[:, None],
            position_ids=positions,
            attention_mask=mask,
        )
        moved = state.running.long()
        state.positions += moved
        state.text += moved
        return logits
