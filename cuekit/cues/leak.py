"""Does a cue text give the answer away?

A cue may describe the figure but never contain the answer. :func:`find_leak`
returns the first piece of ``text`` that gives it away, or ``None``. The rules:

* **Numbers.** A numeric answer ("5", "5.0", "5 cm", "$5", "3/4", "0.75") leaks when
  the text holds a number of the same value, written as digits, as a fraction, or as a
  number word up to twenty ("five"). Numbers are read whole, so "5" matches neither
  "15" nor "5.5" nor "v5x"; the sign counts ("-5" is not 5).
* **Words.** A text answer ("blue", "left hand") leaks when the text contains it,
  case-insensitively, between word boundaries ("red" does not match "reddish").
* **Letters.** A one-letter answer ("A", "(B)", "C.") is a choice letter or a point
  label. It matches case-sensitively as a standalone token, so a cue naming
  "point A" leaks the answer "A" (on purpose: a point-label answer named in the cue
  is given away), while the article "a" and the label "AB" do not.
* **Choices.** When the answer is a choice letter and ``choices`` are given, the
  text of that choice leaks too, under the rules above.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from fractions import Fraction

from cuekit.number_words import NUMBER_WORDS

__all__ = ["find_leak", "is_leaky", "parse_number"]

_WORD_VALUES: dict[str, int] = {word: value for value, word in enumerate(NUMBER_WORDS)}

# A whole number in running text: not glued to other digits, a decimal point or a
# letter/digit before it. "1,000" is read as 1000; "5.5" and "3/4" are one number each.
_NUMBER_IN_TEXT = re.compile(
    r"(?<![\w./])(?P<num>[-−]?\d{1,3}(?:,\d{3})+(?:\.\d+)?|[-−]?\d+(?:\.\d+)?(?:/\d+)?)"
    r"(?!\d|[./]\d|,\d{3}(?!\d))"
)
_NUMBER_WORD_IN_TEXT = re.compile(r"\b(" + "|".join(_WORD_VALUES) + r")\b", re.IGNORECASE)
# An answer that is a number with optional currency in front and a unit behind.
_NUMERIC_ANSWER = re.compile(
    r"^\s*[$€£]?\s*(?P<num>[-−+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?|[-−+]?\d*\.?\d+(?:/\d+)?)"
    r"\s*(?:%|°|[A-Za-z]{1,12}(?:\^?[23²³])?|[²³])?\s*$"
)
_LETTER_ANSWER = re.compile(r"^\s*\(?\s*([A-Za-z])\s*[.)]?\s*$")


def parse_number(text: str) -> Fraction | None:
    """The value of a numeric answer ("5", "5.00", "5 cm", "$1,200", "3/4"), else None."""
    match = _NUMERIC_ANSWER.match(text)
    if match is not None:
        return _to_fraction(match.group("num"))
    word = text.strip().lower()
    if word in _WORD_VALUES:
        return Fraction(_WORD_VALUES[word])
    return None


def _to_fraction(number: str) -> Fraction | None:
    cleaned = number.replace(",", "").replace("−", "-").lstrip("+")
    try:
        value = Fraction(cleaned)
    except (ValueError, ZeroDivisionError):
        return None
    return value


def _find_number(text: str, value: Fraction) -> str | None:
    for match in _NUMBER_IN_TEXT.finditer(text):
        if _to_fraction(match.group("num")) == value:
            return match.group("num")
    for match in _NUMBER_WORD_IN_TEXT.finditer(text):
        if _WORD_VALUES[match.group(1).lower()] == value:
            return match.group(1)
    return None


def _find_words(text: str, phrase: str) -> str | None:
    pattern = r"(?<![A-Za-z0-9])" + re.escape(phrase) + r"(?![A-Za-z0-9])"
    match = re.search(pattern, text, re.IGNORECASE)
    return match.group(0) if match else None


def _find_letter(text: str, letter: str) -> str | None:
    # Case-sensitive so the article "a" never matches the answer "A".
    pattern = r"(?<![A-Za-z0-9])" + re.escape(letter) + r"(?![A-Za-z0-9])"
    match = re.search(pattern, text)
    return match.group(0) if match else None


def _find_value(text: str, answer: str) -> str | None:
    """Find ``answer`` (not a choice letter) in ``text`` by number or by words."""
    answer = answer.strip()
    if not answer:
        return None
    value = parse_number(answer)
    if value is not None:
        found = _find_number(text, value)
        if found is not None:
            return found
    if len(answer) == 1 and answer.isalpha():
        return _find_letter(text, answer)
    if value is not None and answer.lower() not in _WORD_VALUES:
        # "5 cm" found as "5 cm" is already caught above by its number.
        return None
    return _find_words(text, answer)


def find_leak(text: str, answer: str | None, choices: Sequence[str] | None = None) -> str | None:
    """The part of ``text`` that gives away ``answer``, or None; see the module docstring."""
    if answer is None or not text:
        return None
    letter_match = _LETTER_ANSWER.match(answer)
    if letter_match is not None:
        letter = letter_match.group(1)
        found = _find_letter(text, letter)
        if found is not None:
            return found
        index = ord(letter.upper()) - ord("A")
        if choices and 0 <= index < len(choices):
            return _find_value(text, str(choices[index]))
        return None
    return _find_value(text, answer)


def is_leaky(text: str, answer: str | None, choices: Sequence[str] | None = None) -> bool:
    """True when :func:`find_leak` finds the answer in ``text``."""
    return find_leak(text, answer, choices) is not None
