"""SinkTrack cue recovery module, composed onto a stock ``Qwen3VLForConditionalGeneration``.

Semantics (docs/method.md §1). The sink is each sample's first ``<|im_start|>``,
which sits before the image. After decoder layer ``i`` (``i % interval == 0``, or
an explicit list; never the last layer) and after DeepStack injection, the
sink's hidden state takes a cross-attention read of that sample's own visual
tokens V::

    h_sink += o(Attn(q(RMSNorm_q(h_sink)), k(RMSNorm_kv(V)), v(RMSNorm_kv(V))))

q/k/v/o are bias-free d x d linears with ``num_attention_heads`` heads, no RoPE,
softmax in fp32; one RMSNorm pair is shared by all layers. ``o`` starts at zero,
so a freshly attached module is an exact identity.

How it is wired (no modeling code is copied or patched):
- a pre-hook on ``model.model`` keeps the forward's ``input_ids``/``attention_mask``;
- a pre-hook on the text model reads ``visual_pos_masks``. It is only set when
  image features are injected in this forward, i.e. every teacher-forced forward
  with images and the prefill of ``generate``; decode steps have none, so the
  module does nothing there and decoding reads the sink's cached K/V;
- the update for layer ``i`` is a pre-hook on layer ``i + 1``. The text model
  adds DeepStack features right after calling layer ``i``, so layer ``i + 1``'s
  input is the post-DeepStack state. transformers 5.2x checkpoints a layer's
  ``forward``, so the hooks run outside gradient checkpointing; 5.1x checkpoints
  ``__call__``, so backward replays the update, with the context the forward left
  (it is kept until the next forward: back-propagate a forward before running the
  next one through the same model, as the recipe does).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import torch
from torch import nn

from cuekit.distill.processor import IM_START_TOKEN
from cuekit.errors import ConfigError

if TYPE_CHECKING:
    from transformers import PreTrainedModel, Qwen3VLForConditionalGeneration

CUE_MODULE_ATTR = "cue_module"


@dataclass(frozen=True)
class CueModuleConfig:
    """Where the module sits and how it starts.

    interval: a module after every decoder layer i with i % interval == 0.
    layers: explicit layer indices instead of ``interval`` (must not include the last).
    num_heads: attention heads (default: the text model's ``num_attention_heads``).
    init_std: std of the normal init of q/k/v (``o`` always starts at zero).
    """

    interval: int = 5
    layers: tuple[int, ...] | None = None
    num_heads: int | None = None
    init_std: float = 0.02

    def __post_init__(self) -> None:
        if self.interval < 1:
            raise ConfigError(f"cue interval must be >= 1, got {self.interval}")
        if self.num_heads is not None and self.num_heads < 1:
            raise ConfigError(f"cue num_heads must be >= 1, got {self.num_heads}")
        if self.init_std < 0:
            raise ConfigError(f"cue init_std must be >= 0, got {self.init_std}")
        if self.layers is not None:
            object.__setattr__(self, "layers", tuple(sorted(set(int(i) for i in self.layers))))

    def resolve_layers(self, num_hidden_layers: int) -> tuple[int, ...]:
        """The decoder layers followed by a module; the last layer is never one."""
        last = num_hidden_layers - 1
        if self.layers is None:
            layers = tuple(range(0, last, self.interval))
        else:
            bad = [i for i in self.layers if not 0 <= i < last]
            if bad:
                raise ConfigError(
                    f"cue layers {bad} are out of range: a module must follow a layer in "
                    f"0..{last - 1} (the last layer, {last}, has no later layer to read it)"
                )
            layers = self.layers
        if not layers:
            raise ConfigError(f"no cue layers for a {num_hidden_layers}-layer model")
        return layers


@dataclass(frozen=True)
class CueModuleSize:
    layers: tuple[int, ...]
    num_params: int

    @property
    def num_modules(self) -> int:
        return len(self.layers)


def _text_config(model_config: Any) -> Any:
    return getattr(model_config, "text_config", None) or model_config


def _resolve_heads(hidden_size: int, num_heads: int) -> int:
    if hidden_size % num_heads:
        raise ConfigError(f"hidden size {hidden_size} is not divisible by {num_heads} heads")
    return num_heads


def cue_module_size(model_config: Any, config: CueModuleConfig | None = None) -> CueModuleSize:
    """Modules and parameters for a model config, without allocating anything.

    Per module 4 d^2 (q, k, v, o), plus 2 d for the shared RMSNorm pair.
    """
    config = config or CueModuleConfig()
    text = _text_config(model_config)
    layers = config.resolve_layers(text.num_hidden_layers)
    hidden = text.hidden_size
    _resolve_heads(hidden, config.num_heads or text.num_attention_heads)
    return CueModuleSize(layers=layers, num_params=4 * hidden * hidden * len(layers) + 2 * hidden)


@dataclass(frozen=True)
class SinkContext:
    """Where each image-bearing sample's sink and visual tokens are, for one forward.

    Only rows with at least one visual token are listed (A of the B rows).
    """

    rows: torch.Tensor  # (A,) batch rows
    sink_positions: torch.Tensor  # (A,) position of each row's first <|im_start|>
    visual_positions: torch.Tensor  # (A, N) visual token positions, padded
    visual_valid: torch.Tensor  # (A, N) True at real visual positions


def find_sinks(
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor | None,
    visual_mask: torch.Tensor,
    im_start_id: int,
) -> SinkContext:
    """Per-sample sinks and visual tokens; padding on either side is skipped."""
    is_start = input_ids == im_start_id  # (B, T)
    if attention_mask is not None and attention_mask.ndim == 2:
        is_start &= attention_mask.bool()
    visual_mask = visual_mask.to(input_ids.device).bool()
    has_visual = visual_mask.any(dim=1)
    sinks = is_start.int().argmax(dim=1)  # first True; 0 when there is none
    first_visual = visual_mask.int().argmax(dim=1)
    bad = has_visual & (~is_start.any(dim=1) | (sinks > first_visual))
    if bool(bad.any()):
        raise ValueError(
            f"samples {bad.nonzero().flatten().tolist()} have image tokens but no "
            f"{IM_START_TOKEN} before them: the cue module's sink is each sample's first "
            f"{IM_START_TOKEN}, so build prompts with the chat template"
        )
    rows = has_visual.nonzero().flatten()
    row_mask = visual_mask[rows]  # (A, T)
    counts = row_mask.sum(dim=1)
    longest = int(counts.max()) if rows.numel() else 0
    # A stable sort puts each row's visual positions first, in order.
    order = torch.argsort((~row_mask).int(), dim=1, stable=True)[:, :longest]
    valid = torch.arange(longest, device=rows.device)[None, :] < counts[:, None]
    return SinkContext(
        rows=rows, sink_positions=sinks[rows], visual_positions=order, visual_valid=valid
    )


class CueAttention(nn.Module):
    """One layer's sink-reads-visual-tokens attention: bias-free q, k, v, o (d x d)."""

    def __init__(self, hidden_size: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = hidden_size // num_heads
        self.q = nn.Linear(hidden_size, hidden_size, bias=False)
        self.k = nn.Linear(hidden_size, hidden_size, bias=False)
        self.v = nn.Linear(hidden_size, hidden_size, bias=False)
        self.o = nn.Linear(hidden_size, hidden_size, bias=False)

    def forward(
        self, sink_states: torch.Tensor, visual_states: torch.Tensor, visual_valid: torch.Tensor
    ) -> torch.Tensor:
        """sink_states (A, d) and visual_states (A, N, d), both normed -> update (A, d)."""
        rows, keys, _ = visual_states.shape
        heads, head_dim = self.num_heads, self.head_dim
        query = self.q(sink_states).view(rows, heads, 1, head_dim)
        key = self.k(visual_states).view(rows, keys, heads, head_dim).transpose(1, 2)
        value = self.v(visual_states).view(rows, keys, heads, head_dim).transpose(1, 2)
        # (A, H, 1, N) scores and softmax in fp32; every listed row has >= 1 valid key.
        scores = query.float() @ key.float().transpose(-1, -2) * head_dim**-0.5
        scores = scores.masked_fill(~visual_valid[:, None, None, :], float("-inf"))
        mixed = torch.softmax(scores, dim=-1) @ value.float()  # (A, H, 1, hd)
        return self.o(mixed.reshape(rows, heads * head_dim).to(sink_states.dtype))


class CueRecoveryModule(nn.Module):
    """The shared RMSNorm pair plus one :class:`CueAttention` per cue layer."""

    # Set by attach_cue_module: the resolved settings saved next to the weights, and the
    # sink token's id. Declared so they read as what they are, not as nn.Module attributes.
    cue_config: CueModuleConfig
    im_start_token_id: int

    def __init__(
        self,
        hidden_size: int,
        num_heads: int,
        layers: tuple[int, ...],
        rms_norm_eps: float = 1e-6,
        init_std: float = 0.02,
    ) -> None:
        from transformers.models.qwen3_vl.modeling_qwen3_vl import Qwen3VLTextRMSNorm

        super().__init__()
        self.layers = tuple(layers)
        self.init_std = init_std
        self.norm_q = Qwen3VLTextRMSNorm(hidden_size, eps=rms_norm_eps)
        self.norm_kv = Qwen3VLTextRMSNorm(hidden_size, eps=rms_norm_eps)
        self.blocks = nn.ModuleDict(
            {
                str(i): CueAttention(hidden_size, _resolve_heads(hidden_size, num_heads))
                for i in self.layers
            }
        )
        self.reset_parameters()
        self._context: SinkContext | None = None
        self._forward_ids: tuple[torch.Tensor | None, Any] = (None, None)
        self._hook_handles: list[Any] = []

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """q/k/v ~ N(0, init_std), o = 0 (exact identity), norms = 1."""
        for block in self.attention_blocks():
            for linear in (block.q, block.k, block.v):
                nn.init.normal_(linear.weight, std=self.init_std)
            nn.init.zeros_(block.o.weight)
        nn.init.ones_(self.norm_q.weight)
        nn.init.ones_(self.norm_kv.weight)

    def attention_blocks(self) -> list[CueAttention]:
        # ModuleDict is typed by nn.Module; __init__ puts only CueAttention in it.
        return [cast(CueAttention, block) for block in self.blocks.values()]

    def forward(
        self, layer: int, hidden_states: torch.Tensor, context: SinkContext
    ) -> torch.Tensor:
        """hidden_states (B, T, d) after ``layer`` -> the same with each sink updated."""
        rows, sinks = context.rows, context.sink_positions
        sink_states = hidden_states[rows, sinks]  # (A, d)
        visual_states = hidden_states[rows[:, None], context.visual_positions]  # (A, N, d)
        update = self.blocks[str(layer)](
            self.norm_q(sink_states), self.norm_kv(visual_states), context.visual_valid
        )
        # Out of place, so autograd keeps the pre-update state it saved.
        return hidden_states.index_put(
            (rows, sinks), update.to(hidden_states.dtype), accumulate=True
        )


def _language_model(model: nn.Module) -> Any:
    """The text decoder the sink updates hook into (Any: HF's submodules are untyped)."""
    inner = getattr(model, "model", None)
    text = getattr(inner, "language_model", None)
    # "cuekit_qwen3_vl": an exported student loaded through its shipped model code.
    if not isinstance(getattr(text, "layers", None), nn.ModuleList) or getattr(
        getattr(model, "config", None), "model_type", None
    ) not in ("qwen3_vl", "cuekit_qwen3_vl"):
        raise ConfigError(
            f"the cue module attaches to a Qwen3VLForConditionalGeneration, "
            f"got {type(model).__name__}"
        )
    return text


def get_cue_module(model: nn.Module) -> CueRecoveryModule | None:
    module = getattr(model, CUE_MODULE_ATTR, None)
    return module if isinstance(module, CueRecoveryModule) else None


def attach_cue_module(
    model: Qwen3VLForConditionalGeneration,
    config: CueModuleConfig | None = None,
    *,
    im_start_token_id: int | None = None,
) -> CueRecoveryModule:
    """Create a module (on the model's device and dtype), register it as
    ``model.cue_module`` (so ``model.parameters()`` includes it) and hook it in.

    ``im_start_token_id`` defaults to Qwen's layout (see :func:`default_im_start_id`).
    """
    config = config or CueModuleConfig()
    text_model = _language_model(model)
    if get_cue_module(model) is not None:
        raise ConfigError("the model already has a cue module; detach it first")
    text_config = _text_config(model.config)
    layers = config.resolve_layers(text_config.num_hidden_layers)
    reference = text_model.embed_tokens.weight
    module = CueRecoveryModule(
        text_config.hidden_size,
        config.num_heads or text_config.num_attention_heads,
        layers,
        rms_norm_eps=text_config.rms_norm_eps,
        init_std=config.init_std,
    ).to(device=reference.device, dtype=reference.dtype)
    im_start_id = default_im_start_id(model) if im_start_token_id is None else im_start_token_id
    # The resolved settings, as saved next to the weights.
    module.cue_config = CueModuleConfig(
        interval=config.interval,
        layers=layers,
        init_std=config.init_std,
        num_heads=config.num_heads or text_config.num_attention_heads,
    )
    module.im_start_token_id = int(im_start_id)
    model.add_module(CUE_MODULE_ATTR, module)

    def keep_input_ids(_: nn.Module, args: tuple, kwargs: dict) -> None:
        input_ids = kwargs.get("input_ids", args[0] if args else None)
        module._forward_ids = (input_ids, kwargs.get("attention_mask"))

    def find_context(_: nn.Module, args: tuple, kwargs: dict) -> None:
        visual_mask = kwargs.get("visual_pos_masks")
        input_ids, attention_mask = module._forward_ids
        if visual_mask is None:  # no image features in this forward (e.g. a decode step)
            module._context = None
            return
        if input_ids is None:
            raise ValueError(
                "the cue module needs input_ids (not inputs_embeds) to find each sample's sink"
            )
        module._context = find_sinks(input_ids, attention_mask, visual_mask, im_start_id)

    def forget_ids(*_: Any) -> None:
        # The sink context stays until the next forward: transformers 5.1x checkpoints a
        # layer's __call__, hooks included, so backward replays this update and needs the
        # forward's context (run backward before the next forward of the same model).
        module._forward_ids = (None, None)

    def make_update_hook(layer: int) -> Any:
        def update_sinks(_: nn.Module, args: tuple, kwargs: dict) -> tuple | None:
            context = module._context
            if context is None or context.rows.numel() == 0:
                return None
            if args:
                return (module(layer, args[0], context), *args[1:]), kwargs
            kwargs = {**kwargs, "hidden_states": module(layer, kwargs["hidden_states"], context)}
            return args, kwargs

        return update_sinks

    handles = [
        model.model.register_forward_pre_hook(keep_input_ids, with_kwargs=True),
        model.model.register_forward_hook(forget_ids, always_call=True),
        text_model.register_forward_pre_hook(find_context, with_kwargs=True),
    ]
    for layer in layers:
        # Layer ``layer + 1`` reads the state after layer ``layer`` and its DeepStack add.
        handles.append(
            text_model.layers[layer + 1].register_forward_pre_hook(
                make_update_hook(layer), with_kwargs=True
            )
        )
    module._hook_handles = handles
    return module


def detach_cue_module(model: nn.Module) -> CueRecoveryModule:
    """Remove the hooks and ``model.cue_module``; returns the module."""
    module = get_cue_module(model)
    if module is None:
        raise ConfigError("the model has no cue module to detach")
    for handle in module._hook_handles:
        handle.remove()
    module._hook_handles = []
    delattr(model, CUE_MODULE_ATTR)
    return module


def split_parameters(model: nn.Module) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """(backbone params, cue module params), for two optimizer groups (e.g. --module-lr)."""
    module = get_cue_module(model)
    module_ids = {id(p) for p in module.parameters()} if module is not None else set()
    backbone = [p for p in model.parameters() if id(p) not in module_ids]
    return backbone, list(module.parameters()) if module is not None else []


def default_im_start_id(model: PreTrainedModel) -> int:
    """The sink token id in Qwen's special-token layout: ``<|im_start|>`` sits 8 ids
    before ``<|vision_start|>`` (151644 vs 151652 in every Qwen3-VL; tiny-random too)."""
    return int(model.config.vision_start_token_id) - 8


# -- saving and loading ------------------------------------------------------------
CUE_WEIGHTS_FILE = "cue_module.safetensors"
CUE_CONFIG_FILE = "cue_module.json"
_CUE_FORMAT_VERSION = 1


def save_cue_module(model: nn.Module, folder: str | Path) -> Path:
    """Write ``cue_module.safetensors`` and ``cue_module.json`` into ``folder``."""
    from safetensors.torch import save_file

    module = get_cue_module(model)
    if module is None:
        raise ConfigError("the model has no cue module to save")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {
        name: tensor.detach().contiguous().cpu() for name, tensor in module.state_dict().items()
    }
    save_file(tensors, str(folder / CUE_WEIGHTS_FILE), metadata={"format": "pt"})
    settings = module.cue_config
    record = {
        "format_version": _CUE_FORMAT_VERSION,
        "interval": settings.interval,
        "layers": list(settings.layers or ()),
        "num_heads": settings.num_heads,
        "init_std": settings.init_std,
        "im_start_token_id": module.im_start_token_id,
        "hidden_size": module.norm_q.weight.shape[0],
    }
    (folder / CUE_CONFIG_FILE).write_text(json.dumps(record, indent=2) + "\n")
    return folder


def load_cue_module(
    model: Qwen3VLForConditionalGeneration, folder: str | Path
) -> CueRecoveryModule:
    """Attach a module from ``folder`` (as written by :func:`save_cue_module`)."""
    from safetensors.torch import load_file

    folder = Path(folder)
    try:
        record = json.loads((folder / CUE_CONFIG_FILE).read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read {folder / CUE_CONFIG_FILE}: {exc}") from exc
    if record.get("format_version") != _CUE_FORMAT_VERSION:
        raise ConfigError(
            f"{folder / CUE_CONFIG_FILE}: unknown format_version {record.get('format_version')!r}"
        )
    hidden = _text_config(model.config).hidden_size
    if record["hidden_size"] != hidden:
        raise ConfigError(
            f"cue module in {folder} is for hidden size {record['hidden_size']}, "
            f"the model has {hidden}"
        )
    config = CueModuleConfig(
        interval=record["interval"],
        layers=tuple(record["layers"]),
        num_heads=record["num_heads"],
        init_std=record["init_std"],
    )
    module = attach_cue_module(model, config, im_start_token_id=record["im_start_token_id"])
    state = load_file(str(folder / CUE_WEIGHTS_FILE))
    module.load_state_dict(state, strict=True)  # copies into the module's dtype/device
    return module


def save_student(model: PreTrainedModel, processor: Any, folder: str | Path) -> Path:
    """The student as an HF folder (base weights only) plus the cue module files."""
    folder = Path(folder)
    base_state = {
        name: tensor
        for name, tensor in model.state_dict().items()
        if not name.startswith(CUE_MODULE_ATTR + ".")
    }
    model.save_pretrained(folder, state_dict=base_state)
    processor.save_pretrained(folder)
    if get_cue_module(model) is not None:
        save_cue_module(model, folder)
    return folder


def load_student(
    path: str | Path, *, dtype: str | torch.dtype | None = None, device: str | torch.device = "cpu"
) -> tuple[Qwen3VLForConditionalGeneration, Any]:
    """``(model, processor)`` from a student folder; the cue module is re-attached when
    ``cue_module.json`` is there. ``model.generate`` works as usual afterwards."""
    from cuekit.distill.models import load_model

    model, processor = load_model(str(path), dtype=dtype, device=device)
    if (Path(path) / CUE_CONFIG_FILE).is_file():
        load_cue_module(model, path)
    return model, processor
