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

_MODULES = {
    "models": ("MODEL_ALIASES", "load_model", "resolve_model_id"),
    "tiny": ("build_tiny_qwen3_vl",),
    "processor": ("ImageOnlyProcessor",),
    "prompts": (
        "build_prompt_batch",
        "build_prompt_pair",
        "build_scoring_batch",
        "check_same_tokenizer",
    ),
    "cue_module": (
        "CueModuleConfig",
        "attach_cue_module",
        "detach_cue_module",
        "get_cue_module",
        "cue_module_size",
        "split_parameters",
        "save_cue_module",
        "load_cue_module",
        "save_student",
        "load_student",
    ),
}
_EXPORTS = {name: module for module, names in _MODULES.items() for name in names}

__all__ = sorted(_EXPORTS)


__getattr__ = lazy_getattr(__name__, _EXPORTS)
