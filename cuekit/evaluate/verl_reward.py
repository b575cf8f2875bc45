"""A verl reward for rows that ``cuekit export --format verl`` writes.

verl's default reward dispatches on ``data_source``: it scores ``hiyouga/geometry3k``
(cuekit writes that name for geometry3k-schema samples; verl's scorer wants the answer
in ``\\boxed{}`` and its format term a ``<think>`` block) and raises
``NotImplementedError`` for any other name. For every other source, plug this in::

    custom_reward_function.path=<site-packages>/cuekit/evaluate/verl_reward.py
    custom_reward_function.name=compute_score

(``python -c "import cuekit.evaluate.verl_reward as m; print(m.__file__)"`` prints the path.)

It scores with the judge ``cuekit eval`` uses, with the row's options and judging fields
(``question_type``, ``answer_type``, ``precision``, ``unit``) and its question text.
"""

from __future__ import annotations

from typing import Any

from cuekit.answers import judge_with_fields


def compute_score(
    data_source: str,
    solution_str: str,
    ground_truth: str | None,
    extra_info: dict[str, Any] | None = None,
    **kwargs: Any,
) -> float:
    """1.0 when the response's answer matches ``ground_truth``, else 0.0."""
    return 1.0 if judge_with_fields(solution_str, ground_truth, extra_info or {}).correct else 0.0
