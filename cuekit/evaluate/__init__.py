"""Evaluate students, audit cues, and export cues and students to other tools.

Answers are judged by :mod:`cuekit.answers`.

- ``eval``: generate with a student and score (``cuekit eval``);
- ``compare``: paired bootstrap comparison of two eval runs (``cuekit eval --compare``);
- ``audit``: leakage, coverage and cue advantage of cues (``cuekit audit``);
- ``export``: verl and HF dataset exports, student packaging (``cuekit export``,
  ``cuekit export-student``);
- ``inputs``: extract folders and shards as one ordered stream of cue items;
- ``config``: the typed settings of those commands.

Names below are imported on first use, so ``import cuekit.evaluate`` stays cheap.
"""

from __future__ import annotations

from cuekit.lazy import lazy_getattr

_MODULES = {
    "config": ("EvalConfig", "AuditConfig", "ExportSettings", "BootstrapSettings"),
    "eval": ("run_eval", "load_eval_model"),
    "compare": ("paired_bootstrap", "compare_runs"),
    "audit": ("run_audit", "classify_leak", "cue_advantage"),
    "export": ("run_export", "export_verl", "export_hf", "export_student"),
    "inputs": ("CueItem", "iter_cue_items"),
}
_EXPORTS = {name: module for module, names in _MODULES.items() for name in names}

__all__ = sorted(_EXPORTS)


__getattr__ = lazy_getattr(__name__, _EXPORTS)
