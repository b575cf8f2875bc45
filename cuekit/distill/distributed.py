"""Data-parallel distill over ranks: process group, FSDP2 sharding, collectives, full state.

Launch (see docs/distributed.md)::

    torchrun --nproc-per-node 8 -m cuekit distill --student qwen3-vl-2b ...

:func:`init_distributed` reads torchrun's environment (``WORLD_SIZE`` > 1) and starts the
process group: nccl on CUDA (one GPU per rank, ``cuda:$LOCAL_RANK``), gloo on CPU. A
single process (no torchrun, or ``WORLD_SIZE=1``) never touches torch.distributed and
runs exactly the single-device code.

**Sharding.** :func:`shard_model` applies FSDP2 ``fully_shard`` to every vision block,
every text decoder layer and then the root model (whose group holds the embeddings, the
tied or untied lm-head, the final norms, the vision merger and the cue module). The
teacher is sharded the same way, with no optimizer; it only ever runs forward.

**Three ways the code touches a sharded model:**

- *Teacher-forced scoring* calls ``model.model(...)`` and then reads ``lm_head.weight``
  (chunked log-probs, cuekit.distill.scoring). ``model.model`` is not an FSDP module, so
  :class:`ShardedModelView` routes that call through the root's FSDP pre/post-forward
  hooks (``register_fsdp_forward_method``): the root group is gathered, stays gathered
  after forward (FSDP2 never reshards the root after forward), so ``lm_head.weight`` is the
  full tensor for the chunked loss, and its gradient is reduce-scattered in the root's
  post-backward callback like any other.
- *Generation* (``generate``, or cuekit's decode loop through ``view.gathered()``) runs
  inside :func:`gathered_parameters`: every group is all-gathered once, resharding after
  forward is switched off for the whole rollout and back on after. Decode steps then
  run with plain tensors and **no collectives**, so ranks whose
  rollouts stop after different numbers of steps never wait on each other. Cost: the
  full student is materialised on each rank during the rollout (as in a replicated
  rollout engine); per-step all-gathers would keep memory low but cost one all-gather of
  every layer per decoded token.
- *Checkpoints* gather full tensors to rank 0 (``get_model_state_dict`` with
  ``full_state_dict=True, cpu_offload=True``; optimizer tensors one at a time with
  ``full_tensor``) and write the single-process format, so any world size can load them.
  Loading reads the full student on every rank *before* sharding (FSDP2 then keeps each
  rank's slice) and slices the full optimizer tensors locally (:func:`shard_optimizer_state`).

**Reader position on resume** (:func:`reader_resume_state`): with the same world size and
worker count every rank continues exactly where it stopped. With a different world size
(or worker count) the per-rank positions do not map onto the new split, so the run
restarts at the **next epoch boundary**: the rest of the interrupted epoch is skipped,
nothing is repeated, and a warning says how many samples per rank were skipped.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import torch
import torch.distributed as dist
from torch import nn

from cuekit.devices import env_int, resolve_device
from cuekit.errors import ConfigError

if TYPE_CHECKING:
    from transformers import Qwen3VLForConditionalGeneration

logger = logging.getLogger("cuekit.distill")
INNER_FORWARD = "cuekit_inner_forward"


# ---------------------------------------------------------------- process group


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def is_distributed(self) -> bool:
        return self.world_size > 1


SINGLE = DistInfo()


def launched_by_torchrun() -> bool:
    """True when the environment names more than one rank (torchrun, Slurm + torchrun)."""
    return (env_int("WORLD_SIZE") or 1) > 1


def current_info() -> DistInfo:
    """The rank layout of the running process group, or :data:`SINGLE` when there is none."""
    if not (dist.is_available() and dist.is_initialized()):
        return SINGLE
    return DistInfo(dist.get_rank(), dist.get_world_size(), env_int("LOCAL_RANK") or 0)


def init_distributed(device: str = "auto") -> tuple[DistInfo, bool]:
    """Start the process group when torchrun launched several ranks.

    Returns ``(info, created)``; ``created`` says whether this call started the group (so
    the caller tears it down). ``device`` is the config's: nccl when it resolves to CUDA.
    """
    if dist.is_available() and dist.is_initialized():
        return current_info(), False
    if not launched_by_torchrun():
        return SINGLE, False
    missing = [n for n in ("RANK", "MASTER_ADDR", "MASTER_PORT") if n not in os.environ]
    if missing:
        raise ConfigError(
            f"WORLD_SIZE={os.environ['WORLD_SIZE']} but {', '.join(missing)} "
            "is not set: launch with torchrun (see docs/distributed.md)"
        )
    use_cuda = resolve_device(device).startswith("cuda")
    local_rank = env_int("LOCAL_RANK") or 0
    if use_cuda:
        torch.cuda.set_device(local_rank)
    dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return current_info(), True


def teardown(created: bool) -> None:
    if created and dist.is_initialized():
        dist.destroy_process_group()


def rank_device(info: DistInfo, device: str) -> torch.device:
    """The config's device for this rank: ``auto`` resolved, and ``cuda`` becomes
    ``cuda:$LOCAL_RANK`` under torchrun (one process: the device as given)."""
    return torch.device(
        resolve_device(device, local_rank=info.local_rank if info.is_distributed else None)
    )


def _comm_device() -> torch.device:
    backend = dist.get_backend()
    return (
        torch.device("cuda", torch.cuda.current_device())
        if backend == "nccl"
        else torch.device("cpu")
    )


def barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


# ---------------------------------------------------------------- collectives


def all_reduce(values: Sequence[float], op: str = "sum") -> list[float]:
    """Element-wise sum / max / min of a short list of numbers over ranks (fp64)."""
    if not dist.is_initialized():
        return [float(v) for v in values]
    reduce_op = {"sum": dist.ReduceOp.SUM, "max": dist.ReduceOp.MAX, "min": dist.ReduceOp.MIN}[op]
    tensor = torch.tensor([float(v) for v in values], dtype=torch.float64, device=_comm_device())
    dist.all_reduce(tensor, op=reduce_op)
    return tensor.cpu().tolist()


def all_gather_tensor(tensor: torch.Tensor) -> list[torch.Tensor]:
    """Every rank's copy of a same-shaped tensor, on CPU, in rank order."""
    if not dist.is_initialized():
        return [tensor.cpu()]
    local = tensor.to(_comm_device())
    out = [torch.empty_like(local) for _ in range(dist.get_world_size())]
    dist.all_gather(out, local)
    return [t.cpu() for t in out]


def all_gather_json(obj: Any) -> list[Any]:
    """Every rank's JSON-serialisable object, in rank order (JSON bytes, never pickle)."""
    data = json.dumps(obj).encode("utf-8")
    if not dist.is_initialized():
        return [obj]
    length = int(all_reduce([len(data)], "max")[0])
    padded = torch.zeros(length, dtype=torch.uint8)
    padded[: len(data)] = torch.frombuffer(bytearray(data), dtype=torch.uint8)
    sizes = all_gather_tensor(torch.tensor([len(data)], dtype=torch.int64))
    gathered = all_gather_tensor(padded)
    return [
        json.loads(bytes(t[: int(n)].tolist()).decode("utf-8"))
        for t, n in zip(gathered, sizes, strict=True)
    ]


# ---------------------------------------------------------------- sharding


def _vision_blocks(model: nn.Module) -> list[nn.Module]:
    visual = getattr(getattr(model, "model", None), "visual", None)
    return list(getattr(visual, "blocks", []))


def _decoder_layers(model: nn.Module) -> list[nn.Module]:
    text = getattr(getattr(model, "model", None), "language_model", None)
    if text is None or not hasattr(text, "layers"):
        raise ConfigError(f"FSDP sharding expects a Qwen3-VL model, got {type(model).__name__}")
    return list(text.layers)


def shard_model(model: nn.Module) -> nn.Module:
    """FSDP2 in place: one group per vision block and per decoder layer, then the root.

    Also registers ``model.model``'s call as an FSDP forward method of the root (see the
    module docstring), used by :class:`ShardedModelView`.
    """
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard, register_fsdp_forward_method

    device = next(model.parameters()).device
    mesh = init_device_mesh(device.type, (dist.get_world_size(),))
    for block in [*_vision_blocks(model), *_decoder_layers(model)]:
        fully_shard(block, mesh=mesh)
    fully_shard(model, mesh=mesh)
    inner = model.get_submodule("model")
    # The root returns the model's output dataclass, whose tensors FSDP flags as views; the
    # scoring code only indexes them (never in place), so the hint does not apply.
    warnings.filterwarnings("ignore", message=r"FSDP2-wrapped module \(FSDP.*returned a view")

    def inner_forward(*args: Any, **kwargs: Any) -> Any:
        return inner(*args, **kwargs)

    # A plain attribute (not a submodule): FSDP wraps it with the root's hooks.
    object.__setattr__(model, INNER_FORWARD, inner_forward)
    register_fsdp_forward_method(model, INNER_FORWARD)
    # generate() runs the vision tower before its first model forward; as an FSDP forward
    # method the root's hooks run first, so the root is initialised as the root.
    register_fsdp_forward_method(model, "generate")
    return model


def is_sharded(model: Any) -> bool:
    from torch.distributed.fsdp import FSDPModule

    return isinstance(model, FSDPModule)


def _fsdp_modules(model: nn.Module) -> list[Any]:
    from torch.distributed.fsdp import FSDPModule

    return [m for m in model.modules() if isinstance(m, FSDPModule)]


@contextmanager
def gathered_parameters(model: nn.Module) -> Iterator[None]:
    """All FSDP groups gathered for the duration (generation); non-root groups resharded
    after. Inside, forwards issue no collectives, so ranks may run different step counts."""
    modules = _fsdp_modules(model)
    for module in modules:
        module.set_reshard_after_forward(False, recurse=False)
        module.unshard()
    try:
        yield
    finally:
        for module in modules:
            if module is not model:  # FSDP2 never reshards the root after forward
                module.set_reshard_after_forward(True, recurse=False)
                module.reshard()


class ShardedModelView:
    """What cuekit's rollout and scoring helpers use of a model, for an FSDP2 model.

    ``view.model(**inputs)`` runs the inner Qwen3-VL model through the root's FSDP hooks;
    ``generate`` runs inside :func:`gathered_parameters`; the rest delegates.
    """

    def __init__(self, module: Qwen3VLForConditionalGeneration) -> None:
        self.module = module

    @property
    def model(self) -> Any:
        return getattr(self.module, INNER_FORWARD)

    @property
    def training(self) -> bool:
        return self.module.training

    def parameters(self) -> Iterator[nn.Parameter]:
        return self.module.parameters()

    def get_output_embeddings(self) -> nn.Module:
        return self.module.get_output_embeddings()

    def eval(self) -> ShardedModelView:
        self.module.eval()
        return self

    def train(self, mode: bool = True) -> ShardedModelView:
        self.module.train(mode)
        return self

    def generate(self, **kwargs: Any) -> Any:
        with gathered_parameters(self.module):
            return self.module.generate(**kwargs)

    def __call__(self, **kwargs: Any) -> Any:
        """A root forward (cuekit's rollout engine calls it inside :meth:`gathered`)."""
        return self.module(**kwargs)

    def gathered(self) -> Any:
        """Context in which forwards issue no collectives (see :func:`gathered_parameters`)."""
        return gathered_parameters(self.module)


def model_view(model: Qwen3VLForConditionalGeneration) -> Any:
    """The model itself when unsharded (single process), else a :class:`ShardedModelView`."""
    return ShardedModelView(model) if is_sharded(model) else model


# ---------------------------------------------------------------- full state


def full_model_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """Full CPU state dict on rank 0 (empty elsewhere); every rank must call it."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    state = get_model_state_dict(
        model, options=StateDictOptions(full_state_dict=True, cpu_offload=True)
    )
    # Typed for any state dict; a model's holds tensors only.
    return cast(dict[str, torch.Tensor], state)


def full_value(value: Any) -> Any:
    """A DTensor's full tensor (collective); anything else unchanged."""
    from torch.distributed.tensor import DTensor

    return value.full_tensor() if isinstance(value, DTensor) else value


def full_optimizer_state(optimizer: torch.optim.Optimizer, *, keep: bool = True) -> dict[str, Any]:
    """``optimizer.state_dict()`` with every sharded tensor gathered to full size on CPU:
    the single-process layout (integer keys in param-group order). Collective: every rank
    calls it; tensors are gathered one at a time and only ranks with ``keep`` hold them
    (the others get an empty dict), so host memory grows on rank 0 only."""
    state = optimizer.state_dict()
    full: dict[int, dict[str, Any]] = {}
    for index in sorted(state["state"]):
        entry = {}
        for name, value in state["state"][index].items():
            value = full_value(value)
            entry[name] = value.detach().cpu() if isinstance(value, torch.Tensor) else value
        if keep:
            full[index] = entry
    return {"state": full, "param_groups": state["param_groups"]} if keep else {}


def shard_optimizer_state(optimizer: torch.optim.Optimizer, full: dict[str, Any]) -> dict[str, Any]:
    """Slice a full (single-process layout) optimizer state to this rank's shards. Every rank
    holds the full tensors (read from the checkpoint), so slicing needs no communication."""
    from torch.distributed.tensor import DTensor, distribute_tensor

    params = [p for group in optimizer.param_groups for p in group["params"]]
    sharded: dict[int, dict[str, Any]] = {}
    for index, param_state in full["state"].items():
        index = int(index)
        if index >= len(params):
            raise ConfigError(
                f"checkpoint optimizer state names parameter {index}, the "
                f"optimizer has {len(params)}: is it the same model?"
            )
        param = params[index]
        sharded[index] = {}
        for name, value in param_state.items():
            if (
                isinstance(param, DTensor)
                and isinstance(value, torch.Tensor)
                and value.shape == param.shape
            ):
                value = distribute_tensor(
                    value.to(param.device), param.device_mesh, param.placements, src_data_rank=None
                )
            sharded[index][name] = value
    return {"state": sharded, "param_groups": full["param_groups"]}


def save_full_student(
    model: Qwen3VLForConditionalGeneration,
    processor: Any,
    state: dict[str, torch.Tensor],
    folder: str | Path,
) -> Path:
    """Write a student folder (HF weights + cue module) from a full state dict, exactly as
    :func:`cuekit.distill.cue_module.save_student` writes an unsharded model. Rank 0 only.

    The FSDP-wrapped model cannot ``save_pretrained`` itself (its class is FSDP's
    subclass, which would end up in config.json), so an unsharded copy is built on the
    meta device and given the gathered CPU tensors (no extra copy).
    """
    from transformers import Qwen3VLForConditionalGeneration

    from cuekit.distill.cue_module import (
        CueModuleConfig,
        attach_cue_module,
        get_cue_module,
        save_student,
    )

    with torch.device("meta"):
        plain = Qwen3VLForConditionalGeneration(model.config)
    cue = get_cue_module(model)
    if cue is not None:
        settings = cue.cue_config
        with torch.device("meta"):
            attach_cue_module(
                plain,
                CueModuleConfig(
                    interval=settings.interval,
                    layers=settings.layers,
                    num_heads=settings.num_heads,
                    init_std=settings.init_std,
                ),
                im_start_token_id=cue.im_start_token_id,
            )
    expected = set(plain.state_dict())
    missing = sorted(expected - set(state))
    tied = {"lm_head.weight"} if model.config.tie_word_embeddings else set()
    if set(missing) - tied:
        raise ConfigError(f"gathered student state lacks {missing[:3]}")
    plain.load_state_dict(
        {k: v for k, v in state.items() if k in expected}, strict=False, assign=True
    )
    if tied:
        plain.tie_weights()
    plain.generation_config = model.generation_config
    plain.eval()
    return save_student(plain, processor, folder)


# ---------------------------------------------------------------- RNG and reader state


def rank_seed(seed: int, rank: int, step: int) -> int:
    """A fresh seed for ``rank`` at ``step``: ranks > 0 draw their own rollouts (rank 0 keeps
    the single-process stream); also used when a resume cannot restore a rank's RNG."""
    return seed + 1_000_003 * rank + 7_919 * step


def gather_rng_states() -> dict[str, torch.Tensor]:
    """Every rank's torch RNG (and its current CUDA device's), as checkpoint extra tensors."""
    states = {
        f"rng.rank.{r}.torch": t for r, t in enumerate(all_gather_tensor(torch.get_rng_state()))
    }
    if torch.cuda.is_available() and dist.is_initialized() and dist.get_backend() == "nccl":
        states.update(
            {
                f"rng.rank.{r}.cuda": t
                for r, t in enumerate(all_gather_tensor(torch.cuda.get_rng_state()))
            }
        )
    return states


def restore_rank_rng(saved: dict[str, torch.Tensor], info: DistInfo, seed: int, step: int) -> None:
    """This rank's RNG from a checkpoint written with the same world size; otherwise ranks
    > 0 reseed with :func:`rank_seed` (rank 0 keeps the checkpoint's main RNG state)."""
    saved_world = sum(1 for name in saved if name.endswith(".torch"))
    own = saved.get(f"rng.rank.{info.rank}.torch")
    if own is not None and saved_world == info.world_size:
        torch.set_rng_state(own)
        cuda = saved.get(f"rng.rank.{info.rank}.cuda")
        if cuda is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state(cuda)
    elif info.rank > 0:
        torch.manual_seed(rank_seed(seed, info.rank, step))


# ---------------------------------------------------------------- reader state


def reader_resume_state(saved: list[dict[str, Any]], reader: Any) -> dict[str, Any] | None:
    """The state this rank's reader should load, from every saved rank's reader state.

    Same world size and workers: this rank's own state (exact resume). Otherwise the
    next epoch boundary (see the module docstring); ``None`` when nothing was saved.
    """
    if not saved:
        return None
    mine = reader.state_dict()
    if len(saved) == reader.world_size and all(
        s.get("world_size") == reader.world_size
        and s.get("rank") == r
        and s.get("num_workers") == reader.num_workers
        for r, s in enumerate(saved)
    ):
        return saved[reader.rank]
    epoch = max(int(s["epoch"]) for s in saved)
    consumed = max(sum(int(n) for n in s["consumed"]) for s in saved if int(s["epoch"]) == epoch)
    if consumed:
        if reader.rank == 0:
            logger.warning(
                "resuming with %d rank(s) x %d worker(s) from a checkpoint written with %s x "
                "%s: the reader restarts at epoch %d; the rest of epoch %d is skipped (each "
                "old rank had consumed %d of its samples)",
                reader.world_size,
                reader.num_workers,
                saved[0].get("world_size"),
                saved[0].get("num_workers"),
                epoch + 1,
                epoch,
                consumed,
            )
        epoch += 1
    return {
        **saved[0],
        "epoch": epoch,
        "consumed": [0] * len(mine["consumed"]),
        "rank": mine["rank"],
        "world_size": mine["world_size"],
        "num_workers": mine["num_workers"],
    }
