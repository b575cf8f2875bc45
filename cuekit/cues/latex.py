"""Read LaTeX math in a question as the words a figure would be grounded by.

Benchmark questions (geometry3k, MathVista, MathVerse) write figures in LaTeX:
``In $\\odot P$, $m \\widehat{EN}=66$``. :func:`read_math` rewrites such notation into
plain words (``In circle P, arc EN=66``) and remembers, for every character of the
rewrite, which characters of the original it came from, so phrases found in the
rewrite keep exact spans in the question.

* **Figure commands become nouns** with their point label: ``\\odot P`` -> circle P,
  ``m\\angle ABC`` / ``∠ABC`` -> angle ABC, ``\\overline{AB}`` -> segment AB,
  ``\\widehat{EN}`` -> arc EN, ``\\triangle RST`` -> triangle RST. The measure prefix
  ``m`` is dropped: it asks for a size, it is not something drawn.
* **Greek letters are labels**: ``\\theta`` -> θ, as figures write an angle's name.
* **Relations are punctuation** (``\\cong``, ``\\parallel``, ``\\perp``, ``\\sim``, ...):
  they join two phrases and are never a phrase themselves.
* **Everything else is layout.** Math delimiters, braces, ``\\frac``, ``\\sqrt``,
  ``^\\circ``, functions (``\\cos``) and other commands become spaces; the contents of
  ``\\text{...}`` stay as words.

Text without math comes back unchanged, character for character.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["MathReading", "read_math"]

# command -> the noun a figure shows it as
FIGURE_NOUNS: dict[str, str] = {
    "odot": "circle",
    "bigcirc": "circle",
    "circle": "circle",
    "triangle": "triangle",
    "bigtriangleup": "triangle",
    "vartriangle": "triangle",
    "angle": "angle",
    "measuredangle": "angle",
    "overline": "segment",
    "overrightarrow": "ray",
    "overleftrightarrow": "line",
    "widehat": "arc",
    "overarc": "arc",
    "arc": "arc",
    "wideparen": "arc",
    "parallelogram": "parallelogram",
    "square": "quadrilateral",
    "rect": "rectangle",
}
LATEX_RELATIONS = frozenset(
    "cong parallel nparallel perp sim simeq neq ne leq geq le ge lt gt approx equiv in "
    "subset subseteq to rightarrow leftarrow Rightarrow cdot times div pm mp".split()
)
# Greek letters name angles in figures ("$\\sin \\theta$"): they stay, as the letter.
GREEK_LABELS: dict[str, str] = {
    "alpha": "α",
    "beta": "β",
    "gamma": "γ",
    "delta": "δ",
    "theta": "θ",
    "phi": "φ",
    "varphi": "φ",
    "psi": "ψ",
    "omega": "ω",
}
_KEEP_CONTENT = frozenset("text textrm textit textbf mathrm mathit mathbf operatorname".split())

_LABEL = r"[A-Z]{1,4}['′]?|\d{1,2}|[a-z]"
_FIGURE = re.compile(
    r"(?P<measure>\bm\s*)?"
    r"(?:\\(?P<command>[A-Za-z]+)|(?P<symbol>[∠⊙△]))"
    rf"(?:\s*\{{\s*(?P<braced>{_LABEL})\s*\}}|\s*(?P<bare>{_LABEL})(?![A-Za-z0-9]))?"
)
_SYMBOL_NOUNS = {"∠": "angle", "⊙": "circle", "△": "triangle"}
_COMMAND = re.compile(r"\\([A-Za-z]+|.)")
_LAYOUT = re.compile(r"\$\$?|[{}]|\^\s*\\circ|°")
_MATH_MARK = re.compile(r"[\\$∠⊙△{}°]")


@dataclass(frozen=True)
class MathReading:
    """``text`` is the rewrite; ``origin[i]`` is the original span of ``text[i]``;
    ``figures`` holds where each noun written for a figure command starts in ``text``
    (a phrase before one is its own thing: "median $\\overline{EF}$")."""

    text: str
    origin: tuple[tuple[int, int], ...]
    figures: frozenset[int] = frozenset()

    def source_span(self, start: int, end: int) -> tuple[int, int]:
        """The original span of ``text[start:end]`` (``end > start``)."""
        return self.origin[start][0], self.origin[end - 1][1]


class _Builder:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.origin: list[tuple[int, int]] = []
        self.figures: set[int] = set()

    def add(self, text: str, start: int, end: int) -> None:
        self.parts.append(text)
        self.origin += [(start, end)] * len(text)

    def copy(self, source: str, start: int, end: int) -> None:
        for i in range(start, end):
            self.add(source[i], i, i + 1)


def _figure(match: re.Match[str]) -> str | None:
    """The words for a figure command, or None when it is not one."""
    command, symbol = match.group("command"), match.group("symbol")
    noun = FIGURE_NOUNS.get(command or "") if command else _SYMBOL_NOUNS[symbol]
    if noun is None:
        return None
    label = match.group("braced") or match.group("bare")
    return f" {noun} {label} " if label else f" {noun} "


def read_math(question: str) -> MathReading:
    """Rewrite the LaTeX and math symbols of ``question``; see the module docstring."""
    if not _MATH_MARK.search(question):  # most questions: nothing to rewrite
        return MathReading(question, tuple((i, i + 1) for i in range(len(question))))
    out = _Builder()
    i = 0
    while i < len(question):
        figure = _FIGURE.match(question, i)
        words = _figure(figure) if figure is not None else None
        if figure is not None and words is not None:
            # "m" alone before a figure command is the measure prefix, not a label.
            out.figures.add(len(out.origin) + 1)  # past the leading space of words
            out.add(words, figure.start(), figure.end())
            i = figure.end()
            continue
        command = _COMMAND.match(question, i)
        if command is not None:
            name = command.group(1)
            if name in LATEX_RELATIONS:
                out.add(" = ", command.start(), command.end())
            elif name in GREEK_LABELS:
                out.add(f" {GREEK_LABELS[name]} ", command.start(), command.end())
            elif name not in _KEEP_CONTENT:
                out.add(" ", command.start(), command.end())
            i = command.end()
            continue
        layout = _LAYOUT.match(question, i)
        if layout is not None:
            out.add(" ", layout.start(), layout.end())
            i = layout.end()
            continue
        out.copy(question, i, i + 1)
        i += 1
    return MathReading("".join(out.parts), tuple(out.origin), frozenset(out.figures))
