"""Numeric values of answers, and when two of them agree.

An answer is read as a *decimal* ("3.14", "1,250", "-8", "1.5e3", "2.5 million", "25%",
"$12", "12 cm") or,
through math-verify, as an *exact form* ("2\\sqrt{3}", "4\\pi", "\\frac{2}{3}"). Units,
currency, percent and degree signs are dropped: the question fixes them.

When do two values agree (``values_agree``)?

* With the dataset's ``precision`` (decimal places, MathVista's field): when they differ
  by at most half a unit in that place, so ``2\\sqrt{3}`` (3.4641) and ``3.1416`` match
  golds 3.46 and 3.14 at precision 2, while ``3.15`` and ``1.7`` (for 1.73) do not.
* Without it, exact values must be equal, with two allowances for rounding:
  - a gold decimal with two or more places is a rounded value: an answer agrees when it
    rounds to it and is at least as precise (``\\frac{1}{3}`` or ``0.3333`` for 0.33, not
    ``0.3``);
  - an answer decimal for an exact gold (``3.46`` for ``2\\sqrt{3}``) agrees when it is
    the exact value correctly rounded at its own last place and carries two decimal
    places or three significant digits (``3.5`` is too coarse to tell).
  A one-place gold such as ``2.5`` is taken as exact: ``2.54`` does not match it; but an
    exact form no decimal equals (``8\\sqrt{2}``, ``\\frac{22}{3}``) agrees with the
    one-place gold it rounds to (11.3, 7.3).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction

from cuekit.answers.symbolic import numeric_value
from cuekit.number_words import NUMBER_WORDS as _NUMBER_NAMES  # "Answer: three"
from cuekit.number_words import spelled_number

__all__ = ["Value", "as_share", "clock_time", "parse_value", "strip_unit", "values_agree"]

_DECIMAL = re.compile(
    r"^(?P<sign>[-+]?)\s*(?P<int>\d{1,3}(?:,\d{3})+|\d+)?(?:\.(?P<frac>\d+))?"
    r"(?:[eE](?P<exp>[-+]?\d{1,3}))?$"
)  # "1.5e3": e-notation, as programs print it
# Words after a number that make it an operation, not a unit ("5 times 2", "5 squared");
# hedges ("5 or 6") are caught before numbers are read.
_NOT_UNITS = frozenset(
    "times plus minus over divided squared cubed x y z n "
    # more of the number, not a unit: "3 and a half", "1 thousand two hundred"
    "and half halves quarter quarters point hundred thousand million billion".split()
)
_UNIT_TAIL = re.compile(r"^(?:[A-Za-z][A-Za-z'/.]*(?:\s+[A-Za-z][A-Za-z'/.]*)*)(?:\^\{?[23]\}?)?$")
_SINGLE_LETTER_UNITS = frozenset("m g l s h k".split())
_DEGREES = re.compile(
    r"(?:\^\s*\{?\s*\\circ\s*\}?|\\circ|°|\bdegrees?\b)"
    r"(?:\s*(?:\\text\s*\{\s*[CF]\s*\}|\\mathrm\s*\{\s*[CF]\s*\}|(?-i:[CF])\b|(?:celsius|fahrenheit)\b))?",
    re.IGNORECASE,
)  # "45^\circ", "−4.5^\circ\text{C}", "98.6 °F"
_PERCENT = re.compile(r"%|\bpercent(?:age)?\b", re.IGNORECASE)
_SCALES = {
    "thousand": 10**3,
    "k": 10**3,
    "million": 10**6,
    "m": 10**6,
    "mn": 10**6,
    "billion": 10**9,
    "bn": 10**9,
    "trillion": 10**12,
}
# The letters only right after the digits ("2.5M", "30k"): "5 m" is five metres.
_SCALE = re.compile(
    r"^([-+]?[\d,]*\.?\d+)(?:\s*(thousand|million|billion|trillion)\b|"
    r"(?-i:(k|M|mn|bn))(?![A-Za-z]))\s*\w*$",
    re.IGNORECASE,
)
_CURRENCY = re.compile(r"^(?:[$€£¥]|USD|EUR)\s*|\s*(?:dollars?|cents?|USD)$", re.IGNORECASE)


@dataclass(frozen=True)
class Value:
    """A number an answer stands for.

    exact: its value when it is rational ("0.75", "3/4"); None for irrational forms.
    approx: its value as a float, always set.
    places: decimal places written, when the answer is a decimal ("3.140" -> 3); None for
        exact forms such as ``\\frac{1}{3}`` or ``2\\sqrt{3}``.
    """

    exact: Fraction | None
    approx: float
    places: int | None

    @property
    def significant(self) -> int:
        """Significant digits written, for a decimal (0 for exact forms)."""
        if self.places is None or self.exact is None:
            return 0
        digits = f"{abs(float(self.exact)):.{self.places}f}".replace(".", "").lstrip("0")
        return len(digits)


def as_share(value: Value) -> Value:
    """A percentage as the fraction it stands for: 37.5 (%) -> 0.375."""
    return Value(
        value.exact / 100 if value.exact is not None else None,
        value.approx / 100,
        value.places + 2 if value.places is not None else None,
    )


def strip_unit(text: str, unit: str | None) -> str:
    """``"12 cm^2"`` -> ``"12"``; a tail that holds digits or operators is kept."""
    text = _DEGREES.sub("", text)
    text = _PERCENT.sub("", text)
    text = _CURRENCY.sub("", text.strip()).strip()
    if unit:
        text = re.sub(r"\s*" + re.escape(unit.strip()) + r"\s*$", "", text)
    trailing = re.match(r"^(.*\d.*?\S)\s+([A-Za-z]{2,}[A-Za-z' /]*(?:\^\{?[23]\}?)?)$", text)
    if (
        trailing is not None
        and "\\" in trailing.group(1)
        and not any(w.lower() in _NOT_UNITS for w in trailing.group(2).replace("/", " ").split())
    ):
        return trailing.group(1).strip()  # "8\pi cm^2": an exact form with a unit
    match = re.match(r"^([-+]?[\d,]*\.?\d+(?:[eE][-+]?\d{1,3}(?![\d.]))?)\s*(.*)$", text)
    if match is None or not match.group(2):
        return text
    tail = match.group(2).strip()
    words = tail.replace("/", " ").split()
    if _UNIT_TAIL.match(tail) and not any(w.lower() in _NOT_UNITS for w in words):
        if len(words[0]) > 1 or words[0].lower() in _SINGLE_LETTER_UNITS:
            return match.group(1)
    return text


def _decimal(text: str) -> Value | None:
    match = _DECIMAL.match(text.replace(" ", ""))
    if match is None or (match.group("int") is None and match.group("frac") is None):
        return None
    integer = (match.group("int") or "0").replace(",", "")
    fraction = match.group("frac")
    literal = match.group("sign") + integer + ("." + fraction if fraction else "")
    exponent = int(match.group("exp") or 0)
    try:
        exact = Fraction(Decimal(literal).scaleb(exponent))
    except InvalidOperation:
        return None
    return Value(exact, float(exact), max(0, (len(fraction) if fraction else 0) - exponent))


def _scaled(text: str) -> Value | None:
    """ "2.5 million", "2.5M", "30k": a decimal times a scale word."""
    match = _SCALE.match(text)
    if match is None:
        return None
    value = _decimal(match.group(1))
    if value is None or value.exact is None:
        return None
    factor = _SCALES[(match.group(2) or match.group(3)).lower()]
    exact = value.exact * factor
    return Value(exact, float(exact), max(0, (value.places or 0) - len(str(factor)) + 1))


def parse_value(text: str, unit: str | None = None) -> Value | None:
    """The number ``text`` (already ``clean_latex``-ed) stands for, or None."""
    scaled = _scaled(text.replace("$", "").strip())
    if scaled is not None:
        return scaled
    spelled = spelled_number(text.replace("$", "").strip())
    if spelled is not None and _unit_words(spelled[1]):  # "one thousand two hundred fifty"
        return Value(Fraction(spelled[0]), float(spelled[0]), 0)
    stripped = strip_unit(text, unit).replace("$", "").strip()
    if not stripped:
        return None
    decimal = _decimal(stripped)
    if decimal is not None:
        return decimal
    if stripped.lower() in _NUMBER_NAMES or stripped.lower() == "none":  # "There are none."
        value = _NUMBER_NAMES.index(stripped.lower()) if stripped.lower() != "none" else 0
        return Value(Fraction(value), float(value), 0)
    if re.search(
        r"[A-Za-z]",
        re.sub(r"(?<![A-Za-z])e(?![A-Za-z])", "", stripped)  # Euler's e is a number
        .replace("\\", " ")
        .replace("sqrt", "")
        .replace("frac", "")
        .replace("pi", "")
        .replace("times", "")
        .replace("cdot", ""),
    ):
        return None  # a variable is left: an expression, not a number
    found = numeric_value(stripped)
    if found is None:
        return None
    exact, approx = found
    return Value(exact, approx, None)


def _unit_words(rest: str) -> bool:
    """What follows a spelled number is nothing or a unit ("students", "units long"), not
    more of a number ("and a half", "point five") or an operation."""
    words = rest.split()
    return len(words) <= 3 and all(
        re.fullmatch(r"[a-z]+", word)
        and word not in _NOT_UNITS
        and word != "of"
        and not word.endswith(("th", "ths"))
        for word in words
    )


def _terminates(value: Fraction) -> bool:
    """A fraction with a finite decimal expansion (its denominator is 2^a 5^b)."""
    denominator = value.denominator
    for prime in (2, 5):
        while denominator % prime == 0:
            denominator //= prime
    return denominator == 1


def _half_unit(places: int) -> float:
    return 0.5 * 10.0**-places * (1 + 1e-9)


def values_agree(answer: Value, gold: Value, precision: int | None = None) -> tuple[bool, str]:
    """Do the two values agree, and under which rule (see the module docstring)."""
    if precision is not None:  # the relative term absorbs float noise on 6.02e23
        ok = abs(answer.approx - gold.approx) <= max(
            _half_unit(precision) + 1e-12, 1e-12 * abs(gold.approx)
        )
        return ok, (
            f"{'equal' if ok else 'differ'} at {precision} decimal places (dataset precision)"
        )
    if answer.exact is not None and gold.exact is not None and answer.exact == gold.exact:
        return True, "equal numbers"
    # a one-place gold is exact, unless the answer is a value no decimal can equal
    # ("8\\sqrt{2}" or "22/3" for 11.3): then the gold is its rounding
    endless = answer.places is None and (answer.exact is None or not _terminates(answer.exact))
    if (
        gold.places is not None
        and (gold.places >= 2 or (gold.places == 1 and endless))
        and (answer.places is None or answer.places >= gold.places)
    ):
        ok = abs(answer.approx - gold.approx) <= _half_unit(gold.places)
        return ok, f"{'rounds' if ok else 'does not round'} to the gold's {gold.places} places"
    if (
        gold.places is None
        and answer.places is not None
        and (answer.places >= 2 or answer.significant >= 3)
    ):
        ok = abs(answer.approx - gold.approx) <= _half_unit(answer.places)
        return ok, (f"{'is' if ok else 'is not'} the exact gold rounded to {answer.places} places")
    if answer.exact is None or gold.exact is None:
        ok = abs(answer.approx - gold.approx) <= 1e-9 * max(1.0, abs(gold.approx))
        return ok, "equal values" if ok else "different numbers"
    return False, "different numbers"


_MINUTE_WORDS = {"quarter": 15, "half": 30, "twenty-five": 25, "twenty five": 25}
_DIGITAL = re.compile(r"^(\d{1,2})[:.](\d{2})(?:\s*(?:[ap]\.?m\.?|o'clock))?$", re.IGNORECASE)
_SPOKEN = re.compile(
    r"^(?:(?P<minutes>[\w-]+(?:\s+five)?)(?:\s+minutes?)?\s+(?P<way>past|after|to|before)\s+)?"
    r"(?P<hour>[\w]+)(?:\s+o'?clock)?$",
    re.IGNORECASE,
)


def _count(word: str) -> int | None:
    """A number in digits or words ("10", "ten", "quarter")."""
    word = word.lower().strip()
    if word.isdigit():
        return int(word)
    if word in _MINUTE_WORDS:
        return _MINUTE_WORDS[word]
    return _NUMBER_NAMES.index(word) if word in _NUMBER_NAMES else None


def clock_time(text: str) -> tuple[int, int] | None:
    """A time of day as (hour 1-12, minute): "10:15", "10:15 am", "quarter past ten",
    "half past 3", "ten to nine" (8:50), "ten o'clock"; None for anything else."""
    said = re.sub(r"^(?:it\s+is|it's|the\s+time\s+is)\s+|[.!]$", "", text.strip(), flags=re.I)
    digital = _DIGITAL.match(said)
    if digital is not None:
        hour, minute = int(digital.group(1)), int(digital.group(2))
    else:
        spoken = _SPOKEN.match(said)
        if spoken is None or (spoken.group("way") is None and "clock" not in said.lower()):
            return None
        hour_or_none = _count(spoken.group("hour"))
        minute_or_none = _count(spoken.group("minutes")) if spoken.group("way") else 0
        if hour_or_none is None or minute_or_none is None or not 0 <= minute_or_none < 60:
            return None
        hour, minute = hour_or_none, minute_or_none
        if spoken.group("way") and spoken.group("way").lower() in {"to", "before"}:
            hour, minute = hour - 1, (60 - minute) % 60
    if not 0 <= minute < 60 or not 0 <= hour <= 24:
        return None
    return (hour - 1) % 12 + 1, minute
