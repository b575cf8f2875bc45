"""Devices and dtypes: one resolver and one vocabulary, validated here.

Every command takes ``--device`` (``auto``, ``cpu``, ``cuda``, ``cuda:1``, ``mps``...) and
``--dtype`` (:data:`DTYPES`). :func:`resolve_device` turns ``auto`` into ``cuda`` when a
GPU is there, and (given the local rank) a bare ``cuda`` into this rank's GPU. :func:`dtype_name`
gives the canonical dtype name (``bfloat16`` is ``bf16``, ...), :func:`torch_dtype` the
dtype to load a model in, and :func:`training_precision` how distill trains; it refuses a
precision the device cannot train in, instead of training silently in another one.

torch is imported inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cuekit.errors import ConfigError

if TYPE_CHECKING:
    import torch

# auto: bf16 on a GPU, fp32 on CPU. The long names are accepted as aliases.
DTYPES = ("auto", "bf16", "fp16", "fp32")
DTYPE_ALIASES = {"bfloat16": "bf16", "float16": "fp16", "float32": "fp32"}
DTYPE_CHOICES = (*DTYPES, *DTYPE_ALIASES)  # what --dtype accepts: names and aliases
_TORCH_NAMES = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}
logger = logging.getLogger("cuekit")
_COMMON_DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


def env_int(name: str) -> int | None:
    """A whole number from the environment variable ``name``; None when unset or not one."""
    value = os.environ.get(name, "").strip()
    return int(value) if value.isdigit() else None


def local_rank() -> int | None:
    """``LOCAL_RANK`` as torchrun sets it, or None outside torchrun."""
    return env_int("LOCAL_RANK")


def check_device(device: str) -> None:
    """Refuse a device torch cannot parse now, not with a bare RuntimeError at model load."""
    if _COMMON_DEVICE.fullmatch(device):  # no need to import torch for these
        return
    import torch

    try:
        torch.device(device)
    except (RuntimeError, ValueError):
        raise ConfigError(
            f"device must be auto or a torch device (cpu, cuda, cuda:1, mps...), got {device!r}"
        ) from None


def resolve_device(device: str = "auto", *, local_rank: int | None = None) -> str:
    """``auto`` -> ``cuda`` when a GPU is there, else ``cpu``. With ``local_rank`` (under
    torchrun: :func:`local_rank`) a bare ``cuda`` becomes ``cuda:LOCAL_RANK``, so each rank
    takes its own GPU. Anything else is returned unchanged."""
    if device == "auto":
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and local_rank is not None:
        return f"cuda:{local_rank}"
    return device


def dtype_name(dtype: str) -> str:
    """The canonical name (one of :data:`DTYPES`) of ``dtype`` or one of its aliases."""
    name = DTYPE_ALIASES.get(dtype, dtype)
    if name not in DTYPES:
        accepted = ", ".join([*DTYPES, *DTYPE_ALIASES])
        raise ConfigError(f"dtype must be one of {accepted}, got {dtype!r}")
    return name


def dtype_of(dtype: str) -> torch.dtype:
    """The torch dtype of an explicit name (``bf16``, ``float16``, ``fp32``...)."""
    import torch

    name = dtype_name(dtype)
    if name == "auto":
        raise ConfigError("dtype auto depends on the device: use torch_dtype(dtype, device)")
    return getattr(torch, _TORCH_NAMES[name])


def torch_dtype(dtype: str, device: str) -> torch.dtype | None:
    """The dtype to load weights in on ``device``; None keeps fp32. ``auto`` is bf16 on
    CUDA and fp32 elsewhere."""
    name = dtype_name(dtype)
    if name == "auto":
        name = "bf16" if str(device).startswith("cuda") else "fp32"
    return None if name == "fp32" else dtype_of(name)


@dataclass(frozen=True)
class Precision:
    """How distill computes: the student keeps fp32 master weights (AdamW states in fp32)
    and runs its forwards under ``autocast``; the frozen teacher is stored in ``teacher``."""

    autocast: torch.dtype | None  # None: no autocast, fp32
    teacher: torch.dtype | None  # None: fp32
    loss_scaling: bool  # fp16 gradients underflow without a GradScaler

    def describe(self) -> str:
        if self.autocast is None:
            return "fp32"
        name = str(self.autocast).removeprefix("torch.")
        return f"{name} autocast{' with loss scaling' if self.loss_scaling else ''}"


def check_training_dtype(dtype: str, device: str) -> str:
    """The canonical name of ``dtype``, refused when distill cannot train in it on
    ``device`` (``auto`` is resolved first): fp16 needs CUDA."""
    name = dtype_name(dtype)
    if name == "fp16" and not (device := resolve_device(device)).startswith("cuda"):
        raise ConfigError(
            f"dtype fp16 needs a CUDA device (fp16 autocast with loss "
            f"scaling), but the device is {device!r}: use fp32 or auto here"
        )
    return name


def training_precision(dtype: str, device: str) -> Precision:
    """The precision distill trains in for ``--dtype`` on ``device`` (already resolved).

    On CUDA: ``auto`` and ``bf16`` are bf16 autocast with a bf16 teacher, ``fp16`` is fp16
    autocast with loss scaling and an fp16 teacher, ``fp32`` keeps autocast off (the
    teacher stays bf16, as it only scores). Elsewhere everything is fp32: ``fp16`` is
    refused (it would train in fp32 without saying so) and ``bf16`` says it falls back.
    """
    import torch

    name = check_training_dtype(dtype, device)
    if not str(device).startswith("cuda"):
        if name == "bf16":
            logger.warning("dtype bf16: autocast runs on CUDA only, so %s trains in fp32", device)
        return Precision(autocast=None, teacher=None, loss_scaling=False)
    if name == "fp16":
        return Precision(autocast=torch.float16, teacher=torch.float16, loss_scaling=True)
    if name == "fp32":
        return Precision(autocast=None, teacher=torch.bfloat16, loss_scaling=False)
    return Precision(autocast=torch.bfloat16, teacher=torch.bfloat16, loss_scaling=False)
