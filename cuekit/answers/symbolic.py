"""math-verify, the symbolic back end: parse LaTeX or plain math, compare, evaluate.

math-verify is a dependency; its parser and comparison are used as they are. Its
timeouts rely on signals, which only work in the main thread, so elsewhere (data
loader threads, the distill evaluator) it runs without them.
"""

from __future__ import annotations

import threading
from fractions import Fraction
from functools import lru_cache
from typing import Any

__all__ = ["numeric_value", "parse_math", "symbolic_equal"]


def _timeout() -> int | None:
    return 5 if threading.current_thread() is threading.main_thread() else None


@lru_cache(maxsize=4096)
def parse_math(text: str) -> tuple[Any, ...]:
    """math-verify's parse of ``text`` as one math expression; () when it finds none."""
    import math_verify

    try:
        return tuple(math_verify.parse(f"${text}$", parsing_timeout=_timeout()))
    except Exception:  # a parser crash means "no expression", never a failed eval
        return ()


def symbolic_equal(answer: str, gold: str) -> bool:
    """math-verify's verdict on the two expressions (strict: sets and intervals differ)."""
    import math_verify

    parsed_gold, parsed_answer = parse_math(gold), parse_math(answer)
    if not parsed_gold or not parsed_answer:
        return False
    try:
        return bool(
            math_verify.verify(list(parsed_gold), list(parsed_answer), timeout_seconds=_timeout())
        )
    except Exception:
        return False


def numeric_value(text: str) -> tuple[Fraction | None, float] | None:
    """``(exact rational or None, float)`` of a constant expression such as
    ``2\\sqrt{3}`` or ``\\frac{2}{3}``; None when it has free symbols or is not real."""
    parsed = parse_math(text)
    if not parsed:
        return None
    expression = parsed[0]
    try:
        if getattr(expression, "free_symbols", {1}) or not expression.is_number:
            return None
        value = complex(expression.evalf(30))
        if abs(value.imag) > 1e-12:
            return None
        exact = Fraction(str(expression)) if expression.is_Rational else None
    except (TypeError, ValueError, AttributeError):
        return None
    return exact, value.real
