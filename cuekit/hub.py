"""Loading pretrained weights with errors that tell the user how to fix a failed download."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from cuekit.errors import ModelLoadError

T = TypeVar("T")

# Fail fast instead of hanging when the hub is unreachable (seconds).
os.environ.setdefault("HF_HUB_ETAG_TIMEOUT", "10")
os.environ.setdefault("HF_HUB_DOWNLOAD_TIMEOUT", "30")


def is_local(model_id: str) -> bool:
    return Path(model_id).expanduser().exists()


def load_fix_hint(model_id: str) -> str:
    """The ways out of a failed download, worded for ``model_id``."""
    return (
        f"could not load {model_id!r}. Fixes: pass a local folder instead "
        f"(e.g. `huggingface-cli download {model_id} --local-dir ./{model_id.split('/')[-1]}` "
        "on a machine with access, then copy it over); set HF_HUB_OFFLINE=1 to use the local "
        "cache only; or set HF_ENDPOINT to a reachable mirror"
    )


def load_pretrained(loader: Callable[..., T], model_id: str, what: str, **kwargs: object) -> T:
    """Call ``loader(model_id, **kwargs)`` (a ``from_pretrained``) with a helpful error.

    Weights are read through safetensors only and remote code stays off unless
    the caller passes ``trust_remote_code=True`` on purpose.
    """
    kwargs.setdefault("trust_remote_code", False)
    local = is_local(model_id)
    if not local and (model_id.startswith((".", "/", "~")) or model_id.count("/") > 1):
        raise ModelLoadError(f"{what}: local path {model_id!r} does not exist")
    if "use_safetensors" not in kwargs and what.endswith("model"):
        kwargs["use_safetensors"] = True
    try:
        return loader(model_id, **kwargs)
    except (OSError, ValueError) as exc:  # hub errors subclass OSError in transformers
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if local:
            raise ModelLoadError(f"{what}: {model_id!r} is not loadable: {reason}") from exc
        raise ModelLoadError(f"{what}: {load_fix_hint(model_id)} ({reason})") from exc
