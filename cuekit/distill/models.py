"""Model registry: aliases, hub ids, local folders and the in-process ``tiny-random``.

Every model cuekit distils is a Qwen3-VL (``Qwen3VLForConditionalGeneration``);
anything else fails early with a one-line :class:`~cuekit.errors.ModelLoadError`.
Loading goes through :func:`cuekit.hub.load_pretrained` (safetensors only,
remote code off), and the processor is always the image-only one.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from cuekit.distill.processor import ImageOnlyProcessor
from cuekit.distill.tiny import TINY_MODEL_NAME, build_tiny_qwen3_vl
from cuekit.errors import ModelLoadError
from cuekit.hub import load_pretrained

if TYPE_CHECKING:
    import torch
    from transformers import Qwen3VLForConditionalGeneration

MODEL_ALIASES: dict[str, str] = {
    "qwen3-vl-2b": "Qwen/Qwen3-VL-2B-Instruct",
    "qwen3-vl-4b": "Qwen/Qwen3-VL-4B-Instruct",
    "qwen3-vl-8b": "Qwen/Qwen3-VL-8B-Instruct",
    "qwen3-vl-32b": "Qwen/Qwen3-VL-32B-Instruct",
}
QWEN3_VL_MODEL_TYPE = "qwen3_vl"


def resolve_model_id(name: str) -> str:
    """An alias's hub id, or a shipped CueWorld model's folder; anything else (hub id,
    local path, ``tiny-random``) unchanged."""
    from cuekit.cueworld.model import ARCHITECTURES, shipped_model_path

    name = name.strip()
    if not name:
        raise ModelLoadError(
            "model name is empty: pass an alias "
            f"({', '.join([*MODEL_ALIASES, *ARCHITECTURES])}), a hub id, a "
            f"folder or {TINY_MODEL_NAME!r}"
        )
    shipped = shipped_model_path(name)
    if shipped is not None:
        if not (shipped / "config.json").is_file():
            raise ModelLoadError(
                f"{name}: the shipped weights are missing from {shipped}; "
                "reinstall cuekit or retrain them (python -m cuekit.cueworld.sft)"
            )
        return str(shipped)
    return MODEL_ALIASES.get(name.lower(), name)


def resolve_dtype(dtype: str | torch.dtype | None) -> torch.dtype | None:
    """``"bfloat16"``/``"bf16"``/``torch.bfloat16``/``None`` -> a torch dtype (None keeps
    fp32); names as in :data:`cuekit.devices.DTYPES`."""
    import torch

    from cuekit.devices import dtype_of

    if dtype is None or isinstance(dtype, torch.dtype):
        return dtype
    return dtype_of(dtype)


def check_qwen3_vl_config(config: Any, model_id: str) -> None:
    """Raise ModelLoadError unless ``config`` describes a Qwen3-VL."""
    model_type = getattr(config, "model_type", None)
    if model_type != QWEN3_VL_MODEL_TYPE:
        raise ModelLoadError(
            f"model {model_id!r} is a {model_type or 'model of unknown type'!s}, "
            f"not a Qwen3-VL (config.model_type must be {QWEN3_VL_MODEL_TYPE!r})"
        )


def load_model(
    name: str,
    *,
    dtype: str | torch.dtype | None = None,
    device: str | torch.device = "cpu",
    seed: int = 0,
) -> tuple[Qwen3VLForConditionalGeneration, ImageOnlyProcessor]:
    """Load ``(model, processor)`` for an alias, hub id, folder or ``tiny-random``.

    The model comes back in eval mode on ``device``; ``seed`` only matters for
    ``tiny-random``. The config is checked before any weight is read.
    """
    from transformers import AutoConfig, Qwen3VLForConditionalGeneration

    torch_dtype = resolve_dtype(dtype)
    model_id = resolve_model_id(name)
    if model_id == TINY_MODEL_NAME:
        model, processor = build_tiny_qwen3_vl(seed=seed)
        # transformers types PreTrainedModel.to by a decorator that hides nn.Module.to's
        # parameters (a typing gap only).
        if torch_dtype is not None:
            model = model.to(torch_dtype)  # type: ignore[arg-type]
        return model.to(device).eval(), processor  # type: ignore[arg-type]

    config = exported_student_config(model_id) or load_pretrained(
        AutoConfig.from_pretrained, model_id, "model config"
    )
    check_qwen3_vl_config(config, model_id)
    kwargs: dict[str, Any] = {"config": config}
    if torch_dtype is not None:
        kwargs["dtype"] = torch_dtype
    model = load_pretrained(
        Qwen3VLForConditionalGeneration.from_pretrained, model_id, "model", **kwargs
    )
    processor = ImageOnlyProcessor.from_pretrained(model_id)
    return model.to(device).eval(), processor  # type: ignore[arg-type]


def exported_student_config(model_id: str) -> Any:
    """The stock Qwen3-VL config of an exported student folder, None for anything else.

    ``cuekit export-student`` marks the config with its own model type, Auto-class code
    and a ``transformers_weights`` refusal, so that plain transformers never loads it
    without the cue module (see cuekit.distill.remote_code); cuekit itself loads the
    stock model and re-attaches the module.
    """
    import json

    from transformers import Qwen3VLConfig

    from cuekit.distill.remote_code import STUDENT_MODEL_TYPE, WEIGHTS_KEY

    path = Path(model_id).expanduser() / "config.json"
    if not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    if data.get("model_type") != STUDENT_MODEL_TYPE:
        return None
    for key in ("model_type", "auto_map", "architectures", WEIGHTS_KEY):
        data.pop(key, None)
    return Qwen3VLConfig.from_dict(data)


def is_model_folder(path: str | Path) -> bool:
    """True when ``path`` is a folder with an HF ``config.json``."""
    return (Path(path).expanduser() / "config.json").is_file()


def student_folder(path: str | Path) -> Path | None:
    """The model folder behind ``path``: ``path/student`` for a distill run or checkpoint,
    ``path`` itself for a student or HF folder; None when it is neither."""
    path = Path(path).expanduser()
    for candidate in (path / "student", path):
        if is_model_folder(candidate):
            return candidate
    return None


def enable_activation_checkpointing(model: Any) -> None:
    """Checkpoint every decoder layer (non-reentrant), on transformers 5.1x and 5.2x
    (5.2x renamed ``gradient_checkpointing_enable`` and deprecated the old name)."""
    kwargs = {"use_reentrant": False}
    if hasattr(model, "activation_checkpointing_enable"):
        model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
