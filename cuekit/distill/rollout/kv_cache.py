"""Pre-allocated KV caches for the rollout engines, the same on transformers 5.1x and 5.2x.

transformers' ``StaticLayer`` allocates keys and values on first use. Up to 5.1x it gave
both the keys' dtype; under bf16 autocast with fp32 weights (how the recipe trains on a
GPU) Qwen3-VL's keys leave their fp32 RMSNorm in fp32 while its values are bf16, so the
first write of values fails (``index_copy_(): self and source expected to have the same
dtype``). :class:`TypedStaticLayer` gives values their own dtype, as 5.2x does.

Qwen3-VL's text layers all use full attention, so a cache is one such layer per decoder
layer (no sliding-window layers to dispatch).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import torch


@cache
def typed_static_layer_class() -> type:
    """``StaticLayer`` whose values keep their own dtype (built lazily: transformers is
    imported only when a rollout needs it)."""
    from transformers.cache_utils import StaticLayer

    class TypedStaticLayer(StaticLayer):
        def lazy_initialization(self, key_states: torch.Tensor, value_states: torch.Tensor) -> None:
            super().lazy_initialization(key_states, value_states)
            # values is set by now (typed optional: layers start empty).
            if self.values is not None and self.values.dtype != value_states.dtype:
                self.values = torch.zeros_like(self.values, dtype=value_states.dtype)
                if not torch.compiler.is_compiling():  # graphs read it in place, as keys
                    torch._dynamo.mark_static_address(self.values)

    return TypedStaticLayer


def static_cache(
    config: Any, length: int, layer_class: type | None = None, **layer_kwargs: Any
) -> Any:
    """A ``Cache`` of ``length`` positions per row, one layer per text decoder layer."""
    from transformers.cache_utils import Cache

    layer_class = layer_class or typed_static_layer_class()
    count = config.get_text_config(decoder=True).num_hidden_layers
    return Cache(layers=[layer_class(max_cache_len=length, **layer_kwargs) for _ in range(count)])
