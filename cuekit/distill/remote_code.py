"""The model code an exported student ships as ``modeling_cuekit_student.py``.

An exported student's ``config.json`` names its own model type (``cuekit_qwen3_vl``) and
maps the Auto classes to this file. So plain ``transformers`` loading either gives the
full model, cue recovery module included (``trust_remote_code=True``, with cuekit
installed), or stops with transformers' "contains custom code" error; it never silently
loads the stock Qwen3-VL without the module, whose outputs differ.

This file is copied verbatim next to the weights; it imports only transformers and cuekit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from transformers import Qwen3VLConfig, Qwen3VLForConditionalGeneration

STUDENT_MODEL_TYPE = "cuekit_qwen3_vl"


class CuekitStudentConfig(Qwen3VLConfig):
    """A Qwen3-VL config under its own model type, so stock loaders cannot mistake it."""

    model_type = STUDENT_MODEL_TYPE


class CuekitStudentForConditionalGeneration(Qwen3VLForConditionalGeneration):
    """Qwen3-VL whose ``from_pretrained`` re-attaches the saved cue recovery module."""

    config_class = CuekitStudentConfig

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: Any, *args: Any,
                        **kwargs: Any) -> CuekitStudentForConditionalGeneration:
        from transformers.utils import cached_file

        try:
            from cuekit.distill.cue_module import (
                CUE_CONFIG_FILE,
                CUE_WEIGHTS_FILE,
                load_cue_module,
            )
        except ImportError as exc:  # the module's code lives in cuekit
            raise ImportError("this cuekit student needs cuekit to load its cue recovery "
                              "module: pip install cuekit, then use "
                              "cuekit.distill.load_student(folder)") from exc
        model = super().from_pretrained(pretrained_model_name_or_path, *args, **kwargs)
        # Both files resolve locally or from the hub cache, like the weights did.
        module_config = cached_file(pretrained_model_name_or_path, CUE_CONFIG_FILE)
        cached_file(pretrained_model_name_or_path, CUE_WEIGHTS_FILE)
        load_cue_module(model, Path(module_config).parent)
        return model
