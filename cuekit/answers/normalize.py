"""Text forms of an answer: LaTeX, unicode and escapes brought to one spelling.

Every function here is pure string work; nothing decides correctness. ``clean_latex``
gives the spelling math-verify parses best (unicode ``√3`` becomes ``\\sqrt{3}``, ``\\$``
becomes ``$``, ``\\text{cm}`` becomes ``cm``), and ``plain_text`` the one strings are
compared in (lowercase, no markup, no closing period).
"""

from __future__ import annotations

import re

__all__ = [
    "clean_latex",
    "plain_text",
    "split_top_level",
    "strip_brackets",
    "strip_math_delimiters",
]

_UNICODE = {
    "−": "-",
    "–": "-",
    "×": r"\times ",
    "÷": r"\div ",
    "·": r"\cdot ",
    "⋅": r"\cdot ",
    "π": r"\pi ",
    "²": "^2",
    "³": "^3",
    "°": r"^\circ",
    "∠": r"\angle ",
    "≈": r"\approx ",
    "½": r"\frac{1}{2}",
    "¼": r"\frac{1}{4}",
    "¾": r"\frac{3}{4}",
    "≤": r"\le ",
    "≥": r"\ge ",
    "∞": r"\infty ",
    "：": ":",
    "，": ",",
    "\u00a0": " ",
}
_SQRT_UNICODE = re.compile(r"√\s*(\([^()]*\)|\{[^{}]*\}|[0-9.]+|[A-Za-z])")
_WRAPPERS = re.compile(
    r"\\(?:text|textbf|textit|textrm|mathrm|mathbf|mathit|mathsf|boldsymbol|operatorname|mbox)"
    r"\s*\{([^{}]*)\}"
)
# Spacing and sizing commands carry no value; "\," between digits is a thousands space.
_SPACING = re.compile(r"\\(?:left|right|big|Big|bigg|Bigg)(?![A-Za-z])|\\displaystyle|\\[;:! ]")
_THIN_SPACE_IN_NUMBER = re.compile(r"(?<=\d)\\,(?=\d{3}(?!\d))")
_DEGREE_O = re.compile(r"(?<=[\d}])\s*\^\s*(?:\{\s*o\s*\}|o)(?![A-Za-z])")


def strip_math_delimiters(text: str) -> str:
    """Drop ``$``, ``\\(``, ``\\)``, ``\\[`` and ``\\]`` (not escaped dollars, see clean_latex)."""
    text = re.sub(r"\\[()\[\]]", " ", text)
    return re.sub(r"(?<!\\)\$", "", text)


def clean_latex(text: str) -> str:
    """One LaTeX spelling: unicode math, escaped ``\\$ \\% \\{,\\}``, wrappers and spacing."""
    text = _SQRT_UNICODE.sub(lambda m: r"\sqrt{" + m.group(1).strip("(){}") + "}", text)
    for symbol, latex in _UNICODE.items():
        text = text.replace(symbol, latex)
    text = strip_math_delimiters(text)
    text = text.replace(r"\$", "$").replace(r"\%", "%").replace("{,}", ",")
    text = _THIN_SPACE_IN_NUMBER.sub("", text)
    previous = None
    while previous != text:  # \text{\textbf{x}} unwraps in two passes
        previous = text
        text = _WRAPPERS.sub(r"\1", text)
    text = _SPACING.sub(" ", text).replace(r"\,", " ")
    text = _DEGREE_O.sub(r"^\\circ", text)  # "45^o", "45^{o}": degrees typed with a letter o
    text = re.sub(r"\\[dt]frac", r"\\frac", text).replace("**", "")
    return re.sub(r"\s+", " ", text).strip()


def plain_text(text: str) -> str:
    """Lowercase words without markup or surrounding punctuation, for string comparison."""
    text = clean_latex(text).replace("$", "")
    text = re.sub(r"[{}]", "", text)
    text = re.sub(r"(?<=[A-Za-z])-(?=[A-Za-z])", " ", text)  # "left-hand" is "left hand"
    return re.sub(r"\s+", " ", text).strip().strip(".,;:!?\"'`* ").lower()


def split_top_level(text: str, separator: str = ",") -> list[str]:
    """Split on ``separator`` outside brackets and braces: ``\\frac{1}{2}, (1, 2)`` is two."""
    parts, depth, start = [], 0, 0
    for index, char in enumerate(text):
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == separator and depth == 0:
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    return [part.strip() for part in parts]


def strip_brackets(text: str) -> tuple[str, str]:
    """``"(2, 5)"`` -> ``("2, 5", "()")``: one pair of enclosing brackets, and which; a
    set ``\\{2, 5\\}`` gives ``"{}"``."""
    text = text.strip()
    if text.startswith("\\{") and text.endswith("\\}") and "\\{" not in text[2:-2]:
        return text[2:-2].strip(), "{}"
    if len(text) >= 2 and text[0] in "([" and text[-1] in ")]":
        inner = text[1:-1]
        depth = 0
        for char in inner:  # "(1)(2)" is not enclosed by one pair
            depth += char in "([{"
            depth -= char in ")]}"
            if depth < 0:
                return text, ""
        return inner.strip(), text[0] + text[-1]
    return text, ""
