"""Evaluate students, audit cues, and export cues and students to other tools.

- ``answers``: answer extraction (boxed, final-answer phrases, choice letters, numbers)
  and equivalence (choices, normalized strings, exact numbers, math-verify);
- ``eval``: generate with a student and score (``cuekit eval``);
- ``compare``: paired bootstrap comparison of two eval runs (``cuekit eval --compare``);
- ``audit``: leakage, coverage and cue advantage of cues (``cuekit audit``);
- ``export``: verl and HF dataset exports, student packaging (``cuekit export``,
  ``cuekit export-student``);
- ``inputs``: extract folders and shards as one ordered stream of cue items.

Names below are imported on first use, so ``import cuekit.evaluate`` stays cheap.
"""

from __future__ import annotations

from cuekit.lazy import lazy_getattr

_EXPORTS = {
    "extract": "answers",
    "extract_answer": "answers",
    "normalize_answer": "answers",
    "is_equivalent": "answers",
    "judge": "answers",
    "find_boxed": "answers",
    "EvalConfig": "eval",
    "run_eval": "eval",
    "load_eval_model": "eval",
    "format_question": "eval",
    "paired_bootstrap": "compare",
    "compare_runs": "compare",
    "AuditConfig": "audit",
    "run_audit": "audit",
    "classify_leak": "audit",
    "cue_advantage": "audit",
    "run_export": "export",
    "export_verl": "export",
    "export_hf": "export",
    "export_student": "export",
    "CueItem": "inputs",
    "iter_cue_items": "inputs",
}

__all__ = sorted(_EXPORTS)


__getattr__ = lazy_getattr(__name__, _EXPORTS)
