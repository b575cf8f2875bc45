"""Answer extraction and equivalence for free-form VLM responses.

:func:`extract` finds the answer a response commits to, in this order:

1. the last ``\\boxed{...}`` (or ``\\fbox{...}``), braces matched, so
   ``\\boxed{\\frac{1}{2}}`` gives ``\\frac{1}{2}``;
2. the last final-answer phrase: "final answer is X", "the answer is X", "Answer: X";
3. for multiple choice, the last choice letter the response names ("(B)", "B.",
   "option B") or the one choice text it names;
4. the last number in the response;
5. the response's last non-empty line.

:func:`is_equivalent` then compares the extraction with the reference: choice letters
and choice texts are mapped onto each other, then normalized strings, then exact
numeric values (units, currency, thousands separators and degree signs ignored), then
``math-verify`` (symbolic equivalence of LaTeX or plain expressions). When
``math-verify`` is not installed the last step is skipped, i.e. matching falls back to
normalized strings and numbers.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from cuekit.cues.leak import parse_number

__all__ = ["Extraction", "Judgement", "choice_letter", "extract", "extract_answer",
           "find_boxed", "is_equivalent", "judge", "normalize_answer"]

_BOX_COMMANDS = ("\\boxed", "\\fbox")
# The answer follows the last of these, up to the end of its line.
_FINAL_PHRASE = re.compile(
    r"(?:final\s+answer|the\s+(?:correct\s+)?answer|answer)\s*(?:is|:|=)\s*:?\s*",
    re.IGNORECASE)
# A choice letter the response names: "(B)", "B.", "B)", "option B", "choice B", or "B" alone.
_CHOICE_IN_TEXT = re.compile(
    r"\(([A-Za-z])\)|(?i:option|choice)\s+\(?([A-Za-z])\)?(?![A-Za-z])"
    r"|(?<![A-Za-z0-9])([A-Z])(?:[.):](?!\w)|\s*$)", re.MULTILINE)
_LONE_LETTER = re.compile(r"^\s*\(?\s*([A-Za-z])\s*[.):]?\s*$")
_NUMBER = re.compile(r"[-−]?\d{1,3}(?:,\d{3})+(?:\.\d+)?|[-−]?\d+(?:\.\d+)?(?:/\d+)?")
_LATEX_WRAPPERS = re.compile(r"\\(?:text|textbf|mathrm|mathbf|operatorname)\s*\{([^{}]*)\}")
_LATEX_NOISE = re.compile(r"\\left|\\right|\\[,;:! ]|\\displaystyle")
_DEGREES = re.compile(r"\^\s*\{?\\circ\}?|°|\s*\bdegrees?\b", re.IGNORECASE)


@dataclass(frozen=True)
class Extraction:
    """What a response answered, and which rule found it."""

    text: str  # "" when the response is empty
    method: str  # boxed | phrase | choice | number | line | none


@dataclass(frozen=True)
class Judgement:
    extracted: str
    method: str
    correct: bool


def find_boxed(text: str) -> list[str]:
    """Contents of every ``\\boxed{...}``/``\\fbox{...}`` in order, nested braces kept.

    An unclosed box (a truncated response) is skipped.
    """
    found: list[str] = []
    position = 0
    while True:
        starts = [(text.find(cmd, position), cmd) for cmd in _BOX_COMMANDS]
        starts = [(i, cmd) for i, cmd in starts if i >= 0]
        if not starts:
            return found
        index, command = min(starts)
        cursor = index + len(command)
        while cursor < len(text) and text[cursor] == " ":
            cursor += 1
        if cursor >= len(text) or text[cursor] != "{":
            position = cursor
            continue
        depth, end = 0, None
        for j in range(cursor, len(text)):
            if text[j] == "{":
                depth += 1
            elif text[j] == "}":
                depth -= 1
                if depth == 0:
                    end = j
                    break
        if end is None:
            return found
        found.append(text[cursor + 1:end].strip())
        position = end + 1


def _clean_phrase(answer: str) -> str:
    """Cut a final-answer phrase down to the answer: drop markdown and a closing period."""
    answer = answer.strip().strip("*").strip()
    if answer.startswith("$") and answer.count("$") >= 2:
        answer = answer[1:answer.index("$", 1)]
    return re.sub(r"[.;,]+$", "", answer).strip().strip("*").strip()


def _letter_count(choices: Sequence[str] | None) -> int:
    return min(len(choices), 26) if choices else 0


def choice_letter(text: str, choices: Sequence[str] | None) -> str | None:
    """The choice letter ``text`` stands for: a lone letter ("b", "(B)", "B.") in range, or
    the letter of the one choice whose text it equals. None otherwise."""
    count = _letter_count(choices)
    if not count:
        return None
    lone = _LONE_LETTER.match(_strip_latex(text))
    if lone is not None:
        index = ord(lone.group(1).upper()) - ord("A")
        return chr(ord("A") + index) if index < count else None
    matches = [i for i, choice in enumerate(choices[:count])  # type: ignore[index]
               if choice.strip() and _same_value(text, choice)]
    return chr(ord("A") + matches[0]) if len(matches) == 1 else None


def _choice_in_response(response: str, choices: Sequence[str]) -> str | None:
    """The last in-range choice letter named in ``response``, else the single choice text."""
    count = _letter_count(choices)
    letters = [next(g for g in m.groups() if g).upper() for m in _CHOICE_IN_TEXT.finditer(response)]
    # Outside "(a)" and "option a" only uppercase letters count: "a" is an article.
    letters = [letter for letter in letters if ord(letter) - ord("A") < count]
    if letters:
        return letters[-1]
    lowered = response.lower()
    named = [i for i, c in enumerate(choices[:count])
             if c.strip() and re.search(r"(?<!\w)" + re.escape(c.strip().lower()) + r"(?!\w)",
                                        lowered)]
    return chr(ord("A") + named[0]) if len(named) == 1 else None


def extract(response: str, choices: Sequence[str] | None = None) -> Extraction:
    """The answer ``response`` commits to; see the module docstring for the rules."""
    if not response or not response.strip():
        return Extraction("", "none")
    boxed = find_boxed(response)
    if boxed:
        return Extraction(boxed[-1], "boxed")
    phrases = list(_FINAL_PHRASE.finditer(response))
    if phrases:
        cleaned = _clean_phrase(response[phrases[-1].end():].split("\n", 1)[0])
        if cleaned:
            return Extraction(cleaned, "phrase")
    if choices:
        letter = _choice_in_response(response, choices)
        if letter is not None:
            return Extraction(letter, "choice")
    numbers = _NUMBER.findall(response)
    if numbers:
        return Extraction(numbers[-1], "number")
    lines = [line.strip() for line in response.strip().splitlines() if line.strip()]
    return Extraction(_clean_phrase(lines[-1]), "line")


def extract_answer(response: str, choices: Sequence[str] | None = None) -> str:
    """The extracted answer text (``extract(...).text``)."""
    return extract(response, choices).text


def _strip_latex(text: str) -> str:
    text = text.strip().strip("$").strip()
    previous = None
    while previous != text:  # unwrap nested \text{\textbf{x}}
        previous = text
        text = _LATEX_WRAPPERS.sub(r"\1", text)
    text = _LATEX_NOISE.sub("", text).replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    return text.strip()


def normalize_answer(text: str | None) -> str:
    """A canonical string: LaTeX wrappers, ``$``, degree signs and markdown dropped,
    lowercased, inner whitespace collapsed, surrounding punctuation stripped."""
    if text is None:
        return ""
    text = _DEGREES.sub("", _strip_latex(text)).replace("**", "")
    text = re.sub(r"\s+", " ", text).strip().strip(".,;:!$ ").lower()
    if re.fullmatch(r"\(\s*[a-z]\s*\)", text):  # "(b)" -> "b"
        text = text[1:-1].strip()
    return text


def _same_value(predicted: str, reference: str, precision: int | None = None) -> bool:
    """Equal after normalization, as exact numbers (both rounded to ``precision`` decimal
    places when the dataset gives one, as MathVista does), or symbolically (math-verify)."""
    pred, ref = normalize_answer(predicted), normalize_answer(reference)
    if not pred or not ref:
        return False
    if pred == ref:
        return True
    pred_number, ref_number = parse_number(pred), parse_number(ref)
    if pred_number is not None and ref_number is not None:
        if precision is not None:
            return round(pred_number, precision) == round(ref_number, precision)
        return pred_number == ref_number
    return _math_verify(predicted, reference)


def _as_latex(text: str) -> str:
    text = _DEGREES.sub("", text.strip())
    return text if "$" in text or "\\boxed" in text else f"${text}$"


@lru_cache(maxsize=1)
def _math_verify_module():
    try:
        import math_verify
    except ImportError:  # optional: fall back to string and number matching
        return None
    return math_verify


def _math_verify(predicted: str, reference: str) -> bool:
    module = _math_verify_module()
    if module is None:
        return False
    # math-verify's timeouts use signals, which only work in the main thread.
    timeout = 5 if threading.current_thread() is threading.main_thread() else None
    try:
        gold = module.parse(_as_latex(reference), parsing_timeout=timeout)
        target = module.parse(_as_latex(predicted), parsing_timeout=timeout)
        if not gold or not target:
            return False
        return bool(module.verify(gold, target, timeout_seconds=timeout))
    except Exception:  # a parser crash means "not shown equal", never a failed eval
        return False


def is_equivalent(predicted: str, reference: str | None,
                  choices: Sequence[str] | None = None, *, precision: int | None = None) -> bool:
    """Does ``predicted`` (an extracted answer) match ``reference``?

    With ``choices``, a letter reference ("B") matches the letter or the text of
    choice B, and a text reference matches its letter too. With ``precision``, numbers
    are compared after rounding both to that many decimal places.
    """
    if reference is None or not str(reference).strip() or not predicted.strip():
        return False
    if choices:
        ref_letter = choice_letter(reference, choices)
        pred_letter = choice_letter(predicted, choices)
        if ref_letter is not None and _LONE_LETTER.match(reference):
            return pred_letter == ref_letter
        if pred_letter is not None and _LONE_LETTER.match(_strip_latex(predicted)):
            return ref_letter == pred_letter if ref_letter is not None else _same_value(
                choices[ord(pred_letter) - ord("A")], reference, precision)
    return _same_value(predicted, reference, precision)


def judge(response: str, reference: str | None, choices: Sequence[str] | None = None, *,
          precision: int | None = None) -> Judgement:
    """Extract the answer of ``response`` and compare it with ``reference``."""
    found = extract(response, choices)
    return Judgement(found.text, found.method,
                     is_equivalent(found.text, reference, choices, precision=precision))
