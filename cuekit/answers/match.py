"""Does an extracted answer equal the gold one? Each check says which rule decided.

In order: choice letters (a letter, several letters, "(B) 4", a choice's text, or a
short answer holding the words of exactly one worded choice: "the gray cube" for
"cube", on either side), yes/no, lists and points (element by element, so ``(2, 5)``
equals ``[2, 5]``), numbers (``numbers.values_agree``: precision, rounding), math-verify for
symbolic forms, and finally the plain strings.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from cuekit.answers.normalize import (
    clean_latex,
    plain_text,
    split_top_level,
    strip_brackets,
    strip_math_delimiters,
)
from cuekit.answers.numbers import as_share, clock_time, parse_value, strip_unit, values_agree
from cuekit.answers.symbolic import symbolic_equal

__all__ = ["Match", "choice_letters", "match_answer"]

_LETTER_FIRST = re.compile(r"^\(?([A-Za-z])\)?(?:\s*[.:),]\s*|\s+)(.+)$")
_LONE_LETTER = re.compile(r"^[(\[]?([A-Za-z])[)\]]?\.?$")
_LETTER_LIST = re.compile(r"^\(?[A-Z]\)?(?:\s*(?:,|&|and|\s)\s*\(?[A-Z]\)?)+$")
# "(b)", "B", "B. 12", "B: 12", "b": a letter named as the answer.
_NAMED_LETTER = re.compile(r"^(?:\(([A-Za-z])\)|([A-Z])(?:[.:),]|\s|$)|([a-z])$)")
_YES_NO = frozenset({"yes", "no", "true", "false"})
# A Chinese verdict that opens a yes/no answer ("是的", "不是。深橙色..."): its English word.
_CHINESE_WORD = {"是的": "yes", "是": "yes", "对": "yes", "不是": "no", "否": "no", "不对": "no"}
_CHINESE_VERDICT = re.compile(r"^\s*(是的|不是|不对|是|否|对)(?=[\s，。！,.!]|$)")
# "Sí", "oui", "ja", "non", "nein", "não": a verdict in another language
_OTHER_WORD = {
    "sí": "yes",
    "si": "yes",
    "oui": "yes",
    "ja": "yes",
    "sim": "yes",
    "non": "no",
    "nein": "no",
    "não": "no",
    "nao": "no",
}
_OTHER_VERDICT = re.compile(r"^\s*(sí|si|oui|ja|sim|non|nein|não|nao)(?=[\s,.!]|$)", re.IGNORECASE)
_HEDGE = re.compile(r"\b(?:or|either)\b", re.IGNORECASE)
_PERCENT = re.compile(r"%|\bpercent\b", re.IGNORECASE)


@dataclass(frozen=True)
class Match:
    correct: bool
    rule: str  # how the comparison was decided, e.g. "equal numbers", "choice letter"


def _rhs(text: str, gold: str) -> str:
    """``x = 6`` -> ``6`` (and ``a \\approx b`` -> ``b``) unless the gold is an equation."""
    if "=" in gold:
        return text
    text = text.replace(r"\approx", "=")
    return (
        text.rsplit("=", 1)[1].strip() if "=" in text and text.rsplit("=", 1)[1].strip() else text
    )


def _symbolic(text: str) -> bool:
    """Math, not words: math-verify reads "top" as t*o*p, equal to "pot"."""
    return bool(re.search(r"[\d\\^_+\-*/=()\[\]<>]", text)) or len(text.strip()) == 1


def _without_article(text: str) -> str:
    """ "a cat" is the answer "cat"."""
    return re.sub(r"^(?:a|an|the)\s+(?=[a-z])", "", text)


def _exact_first(answer: str, gold: str, precision: int | None, unit: str | None) -> Match | None:
    """ "9π ≈ 28.3 in²" for 28.27: the exact form is the answer when it matches and the
    decimal after it is only its coarser rounding; None otherwise."""
    parts = re.split(r"\s*(?:≈|\\approx)\s*", clean_latex(answer))
    if len(parts) != 2 or "=" in gold:
        return None
    exact, rounded = (
        parts[0].rsplit("=", 1)[-1].strip(),
        re.sub(r"\s*[A-Za-z]+[²³]?$", "", parts[1]),
    )
    exact_value, rounded_value = parse_value(exact, unit), parse_value(rounded, unit)
    if (
        exact_value is None
        or rounded_value is None
        or exact_value.places is not None
        or re.search(r"[·×*^²³+]|\\cdot|\\times|\d\s*[-−]\s*\d", exact)
    ):
        return None  # only a simplified exact form (9π, 4√2, 22/3), not "π·7²"
    first = _scalar(exact, gold, precision, unit)
    if first.correct and values_agree(exact_value, rounded_value)[0]:
        return Match(True, f"{first.rule}: the exact form, {rounded} is its coarser rounding")
    return None


def _scalar(
    answer: str, gold: str, precision: int | None, unit: str | None, exact_form: bool = False
) -> Match:
    exact = _exact_first(answer, gold, precision, unit) if exact_form else None
    if exact is not None:
        return exact
    answer, gold = _rhs(clean_latex(answer), gold), clean_latex(gold)
    if _without_article(plain_text(answer)) == _without_article(plain_text(gold)):
        return Match(True, "same text")
    gold_time = clock_time(gold) if re.fullmatch(r"\s*\d{1,2}:\d{2}\s*", gold) else None
    told = clock_time(answer) if gold_time is not None else None
    if told is not None:  # "quarter past ten" for 10:15
        same = told == gold_time
        return Match(same, "the same time of day" if same else "a different time of day")
    gold_value, answer_value = parse_value(gold, unit), parse_value(answer, unit)
    if gold_value is not None and answer_value is not None:
        agree = values_agree(answer_value, gold_value, precision)
        if (
            not agree[0]
            and _PERCENT.search(answer)
            and not _PERCENT.search(gold)
            and 0 < abs(gold_value.approx) <= 1
        ):  # "37.5%" for the fraction 3/8
            share = as_share(answer_value)
            if values_agree(share, gold_value, precision)[0]:
                return Match(True, "the percentage equals the gold fraction")
        return Match(*agree)
    if (
        _symbolic(answer)
        and _symbolic(gold)
        and symbolic_equal(strip_unit(answer, unit), strip_unit(gold, unit))
    ):
        return Match(True, "math-verify: equal expressions")
    if gold_value is not None:
        return Match(False, "not the gold number")
    return Match(False, "different answers")


def _choice_by_value(text: str, choices: Sequence[str]) -> str | None:
    """The one choice ``text`` equals; failing that, the one decimal choice it rounds to
    at the choice's own places ("7.002" picks "7.0": the options are rounded values)."""
    hits = [
        i
        for i, choice in enumerate(choices)
        if choice.strip() and _scalar(text, choice, None, None).correct
    ]
    if not hits:
        value = parse_value(_rhs(clean_latex(text), ""))
        for i, choice in enumerate(choices):
            option = parse_value(clean_latex(choice))
            if (
                value is not None
                and option is not None
                and option.places
                and (value.places is None or value.places >= option.places)
                and values_agree(value, option, option.places)[0]
            ):
                hits.append(i)
    return chr(ord("A") + hits[0]) if len(hits) == 1 else None


def choice_letters(text: str, choices: Sequence[str]) -> tuple[frozenset[str] | None, str]:
    """The choice letters ``text`` names: ``B``, ``(b)``, ``A, C``, ``AC``, ``(B) 4`` or a
    choice's text. ``(None, why)`` when it names none or contradicts itself."""
    count = min(len(choices), 26)
    cleaned = clean_latex(text).strip().strip("*").strip()
    cleaned = re.sub(r"^(?:option|choice)\s+", "", cleaned, flags=re.IGNORECASE)
    in_range = {chr(ord("A") + i) for i in range(count)}
    lone = _LONE_LETTER.match(cleaned)
    if lone is not None and lone.group(1).upper() in in_range:
        return frozenset(lone.group(1).upper()), "a choice letter"
    if (_LETTER_LIST.match(cleaned) or re.fullmatch(r"[A-Z]{2,}", cleaned)) and set(
        re.findall(r"[A-Z]", cleaned)
    ) <= in_range:
        return frozenset(re.findall(r"[A-Z]", cleaned)), "choice letters"
    first = _LETTER_FIRST.match(cleaned)
    if (
        first is not None
        and (first.group(1).isupper() or cleaned.startswith("("))
        and first.group(1).upper() in in_range
    ):
        letter, rest = first.group(1).upper(), first.group(2).strip().strip("()")
        named = _choice_by_value(rest, choices)
        if named is not None and named != letter:
            return None, f"letter {letter} with the text of choice {named}"
        return frozenset(letter), "a choice letter with its text"
    by_value = _choice_by_value(cleaned, choices)
    if by_value is not None:
        return frozenset(by_value), "the text of a choice"
    said = re.match(r"^(yes|no|true|false)\b", plain_text(cleaned))  # "Yes, it is."
    if said is not None and (letter := _choice_by_value(said.group(1), choices)) is not None:
        return frozenset(letter), "the text of a choice"
    within = _choice_within(cleaned, choices)
    if within is not None:
        return frozenset(within), "the text of one choice within a short answer"
    return None, "names no choice"


def _several_choices(text: str, choices: Sequence[str]) -> frozenset[str] | None:
    """The letters of a multi-select answer given by the options' texts ("Triangle 1 and
    Triangle 3"), each part one choice's text; None otherwise."""
    parts = re.split(r"\s*(?:,\s*and|,|;|\band\b|&)\s*", clean_latex(text).strip(" .*"))
    named = [_choice_by_value(part, choices) for part in parts if part.strip()]
    if len(named) < 2 or None in named:
        return None
    return frozenset(str(letter) for letter in named)


def _choice_within(text: str, choices: Sequence[str]) -> str | None:
    """A short answer that holds the words of exactly one worded choice ("the gray cube"
    for "cube"); a choice inside a longer found choice does not count on its own."""
    said = plain_text(text)
    if len(said.split()) > 6:
        return None
    worded = [plain_text(c) if re.search(r"[a-z]{2,}", plain_text(c)) else "" for c in choices]
    hits = [
        i
        for i, words in enumerate(worded)
        if words and re.search(r"(?<![\w-])" + re.escape(words) + r"(?![\w-])", said)
    ]
    hits = [i for i in hits if not any(j != i and worded[i] in worded[j] for j in hits)]
    return chr(ord("A") + hits[0]) if len(hits) == 1 else None


def _list_items(text: str) -> tuple[list[str], str]:
    """``"(2, 5)"``, ``"2, 5"``, ``"2 and 5"``, ``"x = 2 or x = 3"``: items and brackets."""
    inner, brackets = strip_brackets(clean_latex(text))
    items = split_top_level(inner)
    if len(items) == 1:
        items = re.split(r"\s+(?:and|or)\s+", inner)
    return [re.sub(r"^(?:and|or)\s+", "", item).strip() for item in items], brackets


def _is_list(gold: str, answer_type: str | None) -> bool:
    inner, brackets = strip_brackets(clean_latex(gold))
    items = split_top_level(inner)
    if len(items) < 2:
        return False
    thousands = re.fullmatch(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?", inner.replace(" ", ""))
    return answer_type == "list" or bool(brackets) or not thousands


def _match_list(
    answer: str, gold: str, boxes: Sequence[str], precision: int | None, unit: str | None
) -> Match:
    named = re.match(r"^[^=()\[\]]{1,20}=\s*(?=[(\[])|^[A-Z]'?\s*(?=\()", clean_latex(answer))
    if named is not None and "=" not in gold:  # "B = (4, -1)": the point, not its name
        answer = clean_latex(answer)[named.end() :]
    gold_items, gold_brackets = _list_items(gold)
    items, brackets = _list_items(answer)
    if len(items) != len(gold_items) and len(boxes) >= len(gold_items):
        items, brackets = [clean_latex(b) for b in boxes[-len(gold_items) :]], ""
    if len(items) != len(gold_items):
        return Match(False, f"{len(items)} items, the gold has {len(gold_items)}")
    # half-open brackets, or a bound at infinity, make the gold an interval, not a point
    interval = gold_brackets in ("(]", "[)") or (
        gold_brackets in ("()", "[]") and "infty" in gold + answer
    )
    if interval and brackets != gold_brackets:
        return Match(False, f"interval {brackets or 'without brackets'}, gold {gold_brackets}")
    if "{}" in (brackets, gold_brackets):  # a set: each gold item once, in any order
        unmatched = list(items)
        for gold_item in gold_items:
            hit = next(
                (i for i in unmatched if _scalar(i, gold_item, precision, unit).correct), None
            )
            if hit is None:
                return Match(False, f"set item {gold_item!r} missing")
            unmatched.remove(hit)
        return Match(True, f"all {len(items)} items equal, as a set")
    for index, (item, gold_item) in enumerate(zip(items, gold_items, strict=True)):
        result = _scalar(item, gold_item, precision, unit)
        if not result.correct:
            return Match(False, f"item {index + 1}: {result.rule}")
    return Match(True, f"all {len(items)} items equal, in order")


_OPS = {
    "\\geq": ">=",
    "\\ge": ">=",
    "≥": ">=",
    ">=": ">=",
    "\\leq": "<=",
    "\\le": "<=",
    "≤": "<=",
    "<=": "<=",
    ">": ">",
    "<": "<",
}
_OP = r"(\\geq?|\\leq?|≥|≤|>=|<=|>|<)"
_BOUND = r"([-−]?\d+(?:\.\d+)?(?:/\d+)?)"
_ONE_SIDED = re.compile(r"^\s*[a-z]\s*" + _OP + r"\s*" + _BOUND + r"\s*$")
_TWO_SIDED = re.compile(
    r"^\s*" + _BOUND + r"\s*" + _OP + r"\s*[a-z]\s*" + _OP + r"\s*" + _BOUND + r"\s*$"
)


def _as_interval(answer: str) -> str | None:
    """An inequality in one variable as interval notation ("x \\geq 1" -> "[1, +\\infty)",
    "-2 < x \\le 3" -> "(-2, 3]"), for a gold written as an interval; None otherwise."""
    text = strip_math_delimiters(answer).strip().rstrip(".")
    one = _ONE_SIDED.match(text)
    if one is not None:
        op, bound = _OPS[one.group(1)], one.group(2)
        if op.startswith(">"):
            return ("[" if op == ">=" else "(") + f"{bound}, +\\infty)"
        return f"(-\\infty, {bound}" + ("]" if op == "<=" else ")")
    two = _TWO_SIDED.match(text)
    if two is not None and {_OPS[two.group(2)][0], _OPS[two.group(3)][0]} == {"<"}:
        low, high = two.group(1), two.group(4)
        left = "[" if _OPS[two.group(2)] == "<=" else "("
        right = "]" if _OPS[two.group(3)] == "<=" else ")"
        return f"{left}{low}, {high}{right}"
    return None


def match_answer(
    answer: str,
    gold: str,
    *,
    choices: Sequence[str] | None = None,
    precision: int | None = None,
    answer_type: str | None = None,
    unit: str | None = None,
    boxes: Sequence[str] = (),
    exact_form: bool = True,
) -> Match:
    """Compare an extracted answer with the gold one (module docstring for the order).
    ``exact_form``: an exact form before its coarser rounding ("9π ≈ 28.3") is judged by
    the exact form; off when the dataset fixes the precision the answer must have."""
    if not answer.strip():
        return Match(False, "no answer")
    if plain_text(gold) in _YES_NO or (choices and {plain_text(c) for c in choices} <= _YES_NO):
        answer = _CHINESE_VERDICT.sub(lambda m: _CHINESE_WORD[m.group(1)], answer)
        answer = _OTHER_VERDICT.sub(lambda m: _OTHER_WORD[m.group(1).lower()], answer)
    if plain_text(gold) in {"true", "false"} or (
        choices and {plain_text(c) for c in choices} == {"true", "false"}
    ):  # a verdict "yes"/"no" read from a statement answers "True or false: ..."
        answer = re.sub(
            r"^\s*(yes|no)\b",
            lambda m: "true" if m.group(1).lower() == "yes" else "false",
            answer,
            flags=re.I,
        )
    if re.match(r"^(?:not|never)\b", plain_text(answer)):
        return Match(False, "a negated answer")
    listed = _is_list(gold, answer_type)  # "x = 2 or x = 3" lists the solutions
    said = plain_text(answer)
    both_ways = re.search(r"\byes\b", said) and re.search(r"\bno\b", said)  # "Yes and no."
    if both_ways:
        return Match(False, "hedged between answers")
    if _HEDGE.search(said) and not _HEDGE.search(plain_text(gold)) and not listed:
        parts = [
            part
            for part in re.split(r"\s*,?\s*\b(?:either|or)\b\s*", answer, flags=re.I)
            if part.strip()
        ]
        forms = [
            match_answer(
                part,
                gold,
                choices=choices,
                precision=precision,
                answer_type=answer_type,
                unit=unit,
                exact_form=exact_form,
            )
            for part in parts
        ]
        if len(forms) == 2 and all(form.correct for form in forms):
            return Match(True, f"{forms[0].rule}, the same value in two forms")
        return Match(False, "hedged between answers")  # "roughly 9 or 10"
    interval = _as_interval(answer) if re.fullmatch(r"\s*[\[(].*,.*[\])]\s*", gold) else None
    if interval is not None:  # "x ≥ 1" for the gold "[1, +\infty)"
        judged = match_answer(interval, gold, precision=precision, answer_type=answer_type)
        return Match(judged.correct, f"{judged.rule}, read as the interval {interval}")
    if choices:
        gold_letters, _ = choice_letters(gold, choices)
        if gold_letters is not None:
            letters, how = choice_letters(answer, choices)
            several = _several_choices(answer, choices) if letters is None else None
            if several is not None and len(gold_letters) > 1:  # a multi-select question
                letters, how = several, "the texts of several choices"
            if letters is None:
                return Match(False, how)
            same = letters == gold_letters
            return Match(
                same,
                f"{how}: {''.join(sorted(letters))} "
                f"{'=' if same else '!='} {''.join(sorted(gold_letters))}",
            )
        lone = _LONE_LETTER.match(clean_latex(answer).strip())
        if lone is not None and ord(lone.group(1).upper()) - ord("A") < len(choices):
            answer = choices[ord(lone.group(1).upper()) - ord("A")]
    elif re.fullmatch(r"[A-H]{2,}", gold.strip()) and _LETTER_LIST.match(
        clean_latex(answer).strip().strip("*")
    ):  # "A, C" for a multi-select gold "AC" whose choices are not given
        picked = frozenset(re.findall(r"[A-H]", clean_latex(answer)))
        same = picked == frozenset(gold.strip())
        return Match(
            same,
            f"choice letters: {''.join(sorted(picked))} {'=' if same else '!='} "
            f"{''.join(sorted(gold.strip()))}",
        )
    elif re.fullmatch(r"\(?[A-Z]\)?", gold.strip()):  # a letter gold, its choices unknown
        named = _NAMED_LETTER.match(clean_latex(answer).strip().strip("*"))
        if named is not None:
            letter = next(g for g in named.groups() if g).upper()
            same = letter == gold.strip().strip("()")
            return Match(
                same,
                f"a choice letter: {letter} {'=' if same else '!='} {gold.strip().strip('()')}",
            )
    gold_plain = plain_text(gold)
    if gold_plain in _YES_NO:
        opening = re.match(r"^(yes|no|true|false)\b", plain_text(answer))
        said_word = opening.group(1) if opening else plain_text(answer)
        return Match(said_word == gold_plain, "yes/no" if opening else "not a yes/no answer")
    if listed:
        return _match_list(answer, gold, boxes, precision, unit)
    if answer_type == "integer" and precision is None:
        precision = 0 if parse_value(clean_latex(gold)) is not None else None
        if precision == 0:
            value = parse_value(clean_latex(_rhs(answer, gold)), unit)
            if value is not None and value.exact is not None and value.exact.denominator != 1:
                return Match(False, "not a whole number")
    return _scalar(answer, gold, precision, unit, exact_form)
