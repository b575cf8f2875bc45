"""Cue-privileged on-policy distillation of Qwen3-VL.

Model layer:
- ``models``: aliases, hub ids, folders and ``tiny-random`` -> ``load_model``;
- ``tiny``: the offline tiny-random Qwen3-VL, tokenizer and processor;
- ``processor``: the image-only Qwen3-VL processor;
- ``prompts``: student/teacher prompts and prompt + response scoring batches;
- ``cue_module``: the SinkTrack cue recovery module, its saving and ``load_student``.

Names below are imported on first use, so ``import cuekit.distill`` stays cheap.
"""

from __future__ import annotations

from cuekit.lazy import lazy_getattr

_EXPORTS = {
    "MODEL_ALIASES": "models",
    "load_model": "models",
    "resolve_model_id": "models",
    "build_tiny_qwen3_vl": "tiny",
    "ImageOnlyProcessor": "processor",
    "build_prompt_batch": "prompts",
    "build_prompt_pair": "prompts",
    "build_scoring_batch": "prompts",
    "check_same_tokenizer": "prompts",
    "CueModuleConfig": "cue_module",
    "attach_cue_module": "cue_module",
    "detach_cue_module": "cue_module",
    "get_cue_module": "cue_module",
    "cue_module_size": "cue_module",
    "split_parameters": "cue_module",
    "save_cue_module": "cue_module",
    "load_cue_module": "cue_module",
    "save_student": "cue_module",
    "load_student": "cue_module",
}

__all__ = sorted(_EXPORTS)


__getattr__ = lazy_getattr(__name__, _EXPORTS)
