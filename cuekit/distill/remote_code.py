"""The model code an exported student ships as ``modeling_cuekit_student.py``.

An exported student's ``config.json`` names its own model type (``cuekit_qwen3_vl``) and
maps the Auto classes to this file. So plain ``transformers`` loading either gives the
full model, cue recovery module included (``trust_remote_code=True``, with cuekit
installed), or stops; it never silently loads the stock Qwen3-VL without the module,
whose outputs differ:

- the Auto classes without ``trust_remote_code=True`` stop with transformers' "contains
  custom code" error;
- the stock class, ``Qwen3VLForConditionalGeneration.from_pretrained(folder)``, bypasses
  that check, so ``config.json`` also carries ``transformers_weights`` (the key naming the
  weights file, read by every ``from_pretrained`` before any weight is touched) set to
  :data:`STOCK_CLASS_REFUSAL`. Not being a ``*.safetensors`` name, transformers refuses it
  with a ``ValueError`` that quotes it, i.e. tells the user how to load the student. No
  code from the folder runs for that. :class:`CuekitStudentConfig` drops the key, so this
  file's class reads the usual ``model*.safetensors``.

This file is copied verbatim next to the weights; it imports only transformers and cuekit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from transformers import Qwen3VLConfig, Qwen3VLForConditionalGeneration

STUDENT_MODEL_TYPE = "cuekit_qwen3_vl"
# config.json's ``transformers_weights``: transformers raises a ValueError ending in this
# text for any value not ending in .safetensors (nor .safetensors.index.json). No "/":
# should a later transformers treat it as a path instead, the load still fails on it.
WEIGHTS_KEY = "transformers_weights"
STOCK_CLASS_REFUSAL = (
    "this folder is a cuekit student; the stock Qwen3-VL classes would load it without "
    "its cue recovery module, a different model. Load it with "
    "cuekit.distill.load_student(folder), or with "
    "AutoModelForImageTextToText.from_pretrained(folder, trust_remote_code=True)"
)


class CuekitStudentConfig(Qwen3VLConfig):
    """A Qwen3-VL config under its own model type, so stock loaders cannot mistake it."""

    model_type = STUDENT_MODEL_TYPE

    @classmethod
    def from_dict(cls, config_dict: dict[str, Any], **kwargs: Any) -> CuekitStudentConfig:
        # The refusal is meant for the stock class only; this config loads the usual
        # model*.safetensors (from_pretrained and the Auto classes both come through here).
        config_dict = {key: value for key, value in config_dict.items() if key != WEIGHTS_KEY}
        return super().from_dict(config_dict, **kwargs)


class CuekitStudentForConditionalGeneration(Qwen3VLForConditionalGeneration):
    """Qwen3-VL whose ``from_pretrained`` re-attaches the saved cue recovery module."""

    config_class = CuekitStudentConfig

    @classmethod
    def from_pretrained(
        cls, pretrained_model_name_or_path: Any, *args: Any, **kwargs: Any
    ) -> CuekitStudentForConditionalGeneration:
        from transformers.utils import cached_file

        try:
            from cuekit.distill.cue_module import (
                CUE_CONFIG_FILE,
                CUE_WEIGHTS_FILE,
                load_cue_module,
            )
        except ImportError as exc:  # the module's code lives in cuekit
            raise ImportError(
                "this cuekit student needs cuekit to load its cue recovery "
                "module: pip install cuekit, then use "
                "cuekit.distill.load_student(folder)"
            ) from exc
        model = super().from_pretrained(pretrained_model_name_or_path, *args, **kwargs)
        # Both files resolve locally or from the hub cache, like the weights did.
        module_config = cached_file(pretrained_model_name_or_path, CUE_CONFIG_FILE)
        cached_file(pretrained_model_name_or_path, CUE_WEIGHTS_FILE)
        if module_config is None:  # cached_file raises first; None is for its other modes
            raise OSError(f"{CUE_CONFIG_FILE} not found for {pretrained_model_name_or_path}")
        load_cue_module(model, Path(module_config).parent)
        return model
