"""Which answer does a response commit to, and by which rule?

A careful grader reads the *last commitment* of a response, and nothing else:

1. **Explicit commitments**, in the order they appear: ``\\boxed{...}`` (and ``\\fbox``),
   final-answer phrases ("Answer: X", "the final answer is X", "the correct option is
   X", "Option B is correct", "B is the answer", "Choice: A", "Select A"), and
   ``<answer>...</answer>`` tags (rule ``tagged``). The last one wins, so a box that
   the response then revises ("...\\boxed{8}. Wait, I made an error ... the answer is
   6") loses to the revision. A phrase that does not hold an answer ("the answer is
   rounded to...") is passed over.
2. A commitment the response then **retracts** ("that's not right", "I made an error")
   without a new explicit one is replaced by the conclusion that follows the retraction,
   or by nothing. After a softer **change of mind** ("Hmm, actually, looking at the
   figure again, ... so it is 135°") a new conclusion with a different value replaces
   it; without one the commitment stands.
3. A box followed by a closing "So ... is 30." that states a **different number** gives
   two final answers: rule ``conflict``, judged wrong whichever one matches.
4. **Weak commitments**, only when there is no explicit one and the response finished:
   the closing statement, read by ``cuekit.answers.conclude`` (a whole response that is
   just an answer, a leading "Yes,", a last line that is only an answer, the conclusion
   of the last sentence: "Therefore, AB is 10.", "The measure of angle 1 is 110°.").

A response that commits to nothing gives **no answer**; no stray number or letter is
picked from it. That covers empty output, refusals ("No image was provided..."),
degenerate loops (a loop that repeats one committed answer keeps it) and output cut off
before its answer (``finished=False``, text that stops mid-sentence, or a ``<think>``
that never closes: what it holds is a draft).
"""

from __future__ import annotations

import re
import zlib
from collections import Counter
from dataclasses import dataclass

from cuekit.answers.conclude import closing_claim, conclusion, weak_answer
from cuekit.answers.normalize import clean_latex, strip_math_delimiters
from cuekit.answers.numbers import parse_value, values_agree
from cuekit.answers.reading import (
    ANSWER_PHRASE,
    answer_like,
    clean_candidate,
    is_refusal,
    looks_finished,
)

__all__ = [
    "Extraction",
    "clean_candidate",
    "extract",
    "find_boxed",
    "is_refusal",
    "prepare",
    "retracts",
]

_BOX_COMMANDS = ("\\boxed", "\\fbox")
# "Option B is correct", "option A is the correct answer", "B is the answer": the letter
# or value comes first.
_CHOICE_IS = re.compile(
    r"\b(?:option|choice)\s+\(?(?P<letter>[A-Z])\)?\s+is\s+(?:the\s+)?(?:correct|right|best)\b",
    re.IGNORECASE,
)
_VALUE_IS_ANSWER = re.compile(
    r"(?:^|(?<=[\s(]))(?P<value>\(?[A-Z]\)?|[-−]?\d[\d,./]*(?:\s*[a-z°%]{1,6})?)\s+is\s+the\s+"
    r"(?:(?:correct|right|final|best)\s+)?(?:answer|option|choice)\b"
    r"|(?:^|(?<=\n)|(?<=[.!?]\s))\W*(?P<lead>\(?[A-Z]\)?)\s+is\s+(?:the\s+)?(?:correct|right)\b",
    re.MULTILINE,
)
# Said of an earlier answer: it was wrong. Verification ("let me check") is not this.
_RETRACTION = re.compile(
    r"(?:that|this|it)(?:'s|\s+is|\s+was)\s+(?:not\s+(?:right|correct)|wrong|incorrect)"
    r"|\bI\s+made\s+(?:an?\s+)?(?:error|mistake)|\bmis(?:read|counted|calculated|added|took)"
    r"|\bmy\s+(?:mistake|error)|\bcorrection\s*:|\bhold\s+on\b|\bdouble[- ]counted"
    r"|\bI\s+(?:overlooked|forgot|missed)\b|\b(?:hmm|wait|oh)[,.]?\s+no\b|\b(?:oops|whoops)\b"
    r"|\bI\s+(?:took|used|read|picked|chose)\s+the\s+wrong\b"
    r"|\b(?:that|this)(?:'s|\s+is)\s+the\s+\w+(?:\s+\w+)?,\s+not\s+the\b"
    r"|(?:that|this|it)\s+(?:doesn't|does\s+not)\s+(?:seem|look)\s+right",
    re.IGNORECASE,
)


def retracts(text: str) -> bool:
    """``text`` says an earlier answer was wrong ("Wait, I made an error")."""
    return _RETRACTION.search(text) is not None


# A softer change of mind: it replaces the earlier answer only with a new conclusion.
_CHANGE_OF_MIND = re.compile(
    r"\bwait\b(?=[\s—–,.:-]*(?:re-?check|on\s+(?:a\s+)?second|looking|I\s+(?:see|misread|miscounted)))"
    r"|\b(?:actually|on\s+(?:a\s+)?(?:second\s+thought|reflection|closer\s+(?:look|inspection))"
    r"|looking\s+(?:at\s+(?:the\s+\w+\s+)?)?again|I\s+(?:initially|first)\s+thought"
    r"|at\s+first\s+I\s+thought|impossible|not\s+possible|invalid|(?:does\s+not|doesn't)"
    r"\s+make\s+sense|(?:must|should)\s+be\s+rejected|we\s+reject|discard)\b",
    re.IGNORECASE,
)
# Between a box and a later, different answer phrase: the response is revising the box.
_REVISION = re.compile(
    r"\b(?:wait|actually|hmm|however|but|instead|oops|mistake|error|wrong|incorrect|"
    r"correct(?:ion|ed)?|should\s+be|not\s+right|second\s+thought|on\s+closer|upon|again|"
    r"re-?(?:count|check|examin|calculat|consider|read|do|visit)\w*|double[- ]check|mis\w+)\b",
    re.IGNORECASE,
)
# One word said eight times or more at the very end: generation that degenerated after
# whatever came before it.
_WORD_LOOP = re.compile(r"\b(\w+)\b(?:[\s,.]+\1\b){7,}[\s,.]*\w*\s*$", re.IGNORECASE)
_EMOJI = re.compile("[\U0001f000-\U0001faff\u2600-\u26ff\u2728-\u27bf\ufe0f]+")
_MIXED_NUMBER = re.compile(r"(?<![\d.])(\d+)\s?([½¼¾])")
# A closing line that only lists the options again ("Looking at the options: A. 6, B. 8,
# C. 10, D. 12"): a restatement of the question, not part of the answer.
_OPTIONS_RESTATED = re.compile(
    r"\n[^\S\n]*(?:[^\n:]{0,40}\b(?:options|choices)\b[^\n:]{0,20}:)?[^\S\n]*"
    r"\(?A[.):][^\n]{1,40}?[,;\s][^\S\n]*\(?B[.):][^\n]{1,40}?[,;\s][^\S\n]*\(?C[.):][^\n]*\s*$"
)
# A power of ten written in superscript digits: "5.97 × 10²⁴" (scientific notation; other
# bases keep their superscripts, which the symbolic back end reads).
_SUPERSCRIPT_POWER = re.compile(r"(?<![\d.])10([⁻⁰¹²³⁴⁵⁶⁷⁸⁹]+)")
_SUPERSCRIPTS = str.maketrans("⁻⁰¹²³⁴⁵⁶⁷⁸⁹", "-0123456789")
_HALVES = {"½": ".5", "¼": ".25", "¾": ".75"}
# "<answer>42</answer>": the tag RL-trained models answer in, as explicit as a box.
_ANSWER_TAG = re.compile(
    r"<answer>\s*(.*?)\s*</answer>"
    # '{"answer": "B"}': a JSON answer object, as explicit as a tag
    r"|\{\s*[\"']?(?:final_)?answer[\"']?\s*:\s*[\"']?([^\"'{}]*?)[\"']?\s*\}",
    re.DOTALL | re.IGNORECASE,
)
_SPACE_ONLY = re.compile(r"\s|\\q?quad|\\[,;:! ]|~")  # "\boxed{\quad}" is an empty box
_HYPOTHETICAL = re.compile(
    r"\b(?:whether|if|unless|assuming|suppose|supposing)\s+(?:\S+\s+){0,2}$", re.IGNORECASE
)


@dataclass(frozen=True)
class Extraction:
    """What a response answered: ``text`` ("" for no answer), the ``rule`` that found it,
    a ``note`` on why, and ``boxes``: the boxes of the answer in order (list answers
    spread over several boxes are joined from them)."""

    text: str
    rule: str  # boxed | tagged | phrase | conclusion | last_line | leading | whole | conflict
    #   | none
    note: str = ""
    boxes: tuple[str, ...] = ()

    @property
    def answered(self) -> bool:
        return self.rule != "none"


@dataclass(frozen=True)
class _Commitment:
    start: int
    end: int
    text: str
    rule: str
    labelled: bool = True  # a box or "Answer: X"; False for "the answer would be X"


def _boxes(text: str) -> list[_Commitment]:
    """Every closed ``\\boxed{...}``/``\\fbox{...}``, braces matched; an unclosed one (a
    truncated response) ends the search."""
    found: list[_Commitment] = []
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
        depth = 0
        for j in range(cursor, len(text)):
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            if depth == 0:
                content = _box_answer(text[cursor + 1 : j].strip())
                found.append(_Commitment(index, j + 1, content, "boxed"))
                position = j + 1
                break
        else:
            return found


def find_boxed(text: str) -> list[str]:
    """Contents of every closed box, in order."""
    return [box.text for box in _boxes(text)]


def _is_loop(text: str) -> bool:
    """Degenerate repetition: long output that compresses far better than prose does, or
    one line of working said four times or more ("Now we sort the values ..." again and
    again), which a finished solution does not do."""
    data = text.encode()
    if len(data) >= 400 and len(zlib.compress(data, 9)) < 0.12 * len(data):
        return True
    lines = Counter(
        line.strip() for line in text.splitlines() if len(re.findall(r"\w+", line)) >= 4
    )
    return bool(lines) and max(lines.values()) >= 4


def _box_answer(content: str) -> str:
    """A box that holds a sentence ("\\text{The area is } 12") gives its answer part."""
    cleaned = strip_math_delimiters(re.sub(r"\\text\s*\{([^{}]*)\}", r"\1", content))
    if not re.search(r"[A-Za-z]{2,}\s+[A-Za-z]{2,}\s", cleaned):
        return content
    phrases = list(ANSWER_PHRASE.finditer(cleaned))
    tail = clean_candidate(cleaned[phrases[-1].end() :] if phrases else cleaned)
    return tail if tail and tail != cleaned.strip() and answer_like(tail) else content


def _phrases(text: str, boxes: list[_Commitment]) -> list[_Commitment]:
    found = [
        _Commitment(m.start(), m.end(), m.group("letter").upper(), "phrase")
        for m in _CHOICE_IS.finditer(text)
    ]
    found += [
        _Commitment(m.start(), m.end(), (m.group("value") or m.group("lead")).strip("()"), "phrase")
        for m in _VALUE_IS_ANSWER.finditer(text)
    ]
    found += [
        _Commitment(m.start(), m.end(), clean_candidate(m.group(1) or m.group(2) or ""), "tagged")
        for m in _ANSWER_TAG.finditer(text)
        if clean_candidate(m.group(1) or m.group(2) or "")
    ]
    for match in ANSWER_PHRASE.finditer(text):
        end = match.end()
        if any(
            box.start >= end and box.start - end <= 40 and "\n\n" not in text[end : box.start]
            for box in boxes
        ):
            continue  # "The answer is \boxed{8}": the box is the commitment
        line_end = text.find("\n", end)
        rest = text[end:] if line_end < 0 else text[end:line_end]
        if not rest.strip() and line_end >= 0:  # "Answer:\n12", "Answer:\n$$\n12\n$$"
            following = re.search(r"[^\n]*[^\s$\\\[\]()][^\n]*", text[line_end:])
            if following is not None:
                rest = following.group()
                end = line_end + following.start()
        if _HYPOTHETICAL.search(text, max(0, match.start() - 30), match.start()) or re.split(
            r"(?<=[.!?])\s", rest.strip()
        )[0].endswith("?"):
            continue  # "whether the answer is 4", "Is the answer 12?": not a commitment
        candidate = clean_candidate(rest)
        if answer_like(candidate):
            found.append(
                _Commitment(
                    match.start(),
                    end + len(rest),
                    candidate,
                    "phrase",
                    labelled=":" in match.group() or "：" in match.group(),
                )
            )
    return found


def _numbers_differ(first: str, second: str) -> bool:
    """Two answers that are both numbers and do not agree, even as roundings of each
    other ("15" and "30" differ; "2\\sqrt{3}" and "3.46" do not)."""
    a, b = parse_value(clean_latex(first)), parse_value(clean_latex(second))
    if a is None or b is None:
        return False
    return not (values_agree(a, b)[0] or values_agree(b, a)[0])


def _after_retraction(text: str, last: _Commitment) -> Extraction | None:
    """What replaces ``last`` when the response takes it back: after a retraction ("I
    made an error") its next statement or nothing; after a softer change of mind
    ("Hmm, actually, looking again ... so it is 135°") a new conclusion, if it gives one
    with a different value."""
    retraction = _RETRACTION.search(text, last.end)
    if retraction is None:
        change = _CHANGE_OF_MIND.search(text, last.end)
        later = text[change.end() :] if change is not None else ""
        concluded = conclusion(later) if later and looks_finished(later) else None
        if concluded and _numbers_differ(concluded, last.text):
            return Extraction(
                concluded,
                "conclusion",
                f"the response changes its mind about {last.text!r} and concludes this",
            )
        return None
    later = text[retraction.end() :]
    concluded = conclusion(later, revising=True) if looks_finished(later) else None
    if concluded:
        return Extraction(
            concluded, "conclusion", f"the response retracts {last.text!r} and then concludes this"
        )
    return Extraction("", "none", f"the response retracts {last.text!r} and gives no other")


def _contradicted(text: str, last: _Commitment) -> str | None:
    """A closing "So ... is 30." after the last box that states another number: the
    response gives two different final answers. Returns the second one."""
    after = text[last.end :]
    if last.rule != "boxed" or not after.strip() or not looks_finished(after):
        return None
    claim = closing_claim(after)
    return claim if claim and _numbers_differ(claim, last.text) else None


def _joined_boxes(text: str, boxes: list[_Commitment]) -> str | None:
    """``\\boxed{3} or \\boxed{4}`` (alternatives) or ``\\boxed{3}, \\boxed{4}`` (a list):
    the last two boxes with nothing but a connective between them, as one answer."""
    if len(boxes) < 2 or boxes[-2].text.replace(" ", "") == boxes[-1].text.replace(" ", ""):
        return None
    between = strip_math_delimiters(text[boxes[-2].end : boxes[-1].start]).strip()
    connective = re.fullmatch(r"(?:(or|either)|and|,|;)?", between, re.IGNORECASE)
    if connective is None:
        return None
    return f"{boxes[-2].text} {'or' if connective.group(1) else ','} {boxes[-1].text}".replace(
        " ,", ","
    )


def _drop_unrevised(text: str, explicit: list[_Commitment]) -> list[_Commitment]:
    """A phrase after the last box that gives a different answer overrides it only when
    the text between says it revises ("wait", "actually", "I made an error"); otherwise
    it is a remark ("the answer is rounded...", "Note that the answer is ...")."""
    boxes = [i for i, c in enumerate(explicit) if c.rule == "boxed"]
    if not boxes:
        return explicit
    box = explicit[boxes[-1]]
    kept = explicit[: boxes[-1] + 1]
    for later in explicit[boxes[-1] + 1 :]:
        same = later.text.replace(" ", "") == box.text.replace(" ", "")
        if same or _REVISION.search(text, box.end, later.start):
            kept.append(later)
    return kept


def _final_label(text: str, commitment: _Commitment) -> str | None:
    """The answer label that introduces a box ("Final answer: $\\boxed{B}$") or a labelled
    phrase ("Answer: 5"), lower-cased; None for a box without one."""
    before = text[max(0, commitment.start - 40) : commitment.start]
    if commitment.rule == "phrase":
        return (
            (before + text[commitment.start : commitment.end]).lower()
            if commitment.labelled
            else None
        )
    labels = [
        label.group().lower()
        for label in ANSWER_PHRASE.finditer(before)
        if not before[label.end() :].strip(" $*:\\([\n")
    ]
    return labels[-1] if commitment.rule == "boxed" and labels else None


def _other_final(text: str, explicit: list[_Commitment]) -> str | None:
    """The earlier of two labelled final answers that differ, with nothing between them
    that revises ("Final answer: \\boxed{B}\n\nAnswer: \\boxed{A}"); None otherwise. A
    later label that says "final" supersedes one that does not ("Answer: 5 ... Final
    answer: 9")."""
    if len(explicit) < 2:
        return None
    first, last = explicit[-2], explicit[-1]
    if first.text.replace(" ", "").lower() == last.text.replace(" ", "").lower():
        return None
    labels = (_final_label(text, first), _final_label(text, last))
    if labels[0] is None or labels[1] is None:
        return None
    if "final" in labels[1] and "final" not in labels[0]:
        return None
    return None if _REVISION.search(text, first.end, last.start) else first.text


# Between two boxes: a second reading offered beside the first, not a correction of it.
_ALTERNATIVE = re.compile(
    r"\b(?:alternatively|another\s+(?:interpretation|reading|possibility|way\s+to\s+read)"
    r"|(?:read|interpret)\w*\s+(?:\w+\s+){0,2}differently|on\s+the\s+other\s+hand)\b",
    re.IGNORECASE,
)


def _alternative(text: str, explicit: list[_Commitment]) -> str | None:
    """The earlier of two different boxes when the text between offers the later one as
    another reading ("\\boxed{5}. Alternatively, if we read the figure differently …
    \\boxed{6}"), and does not retract the first; None otherwise."""
    boxes = [c for c in explicit if c.rule == "boxed"]
    if len(boxes) < 2 or explicit[-1] is not boxes[-1]:
        return None
    first, last = boxes[-2], boxes[-1]
    if first.text.replace(" ", "") == last.text.replace(" ", ""):
        return None
    between = text[first.end : last.start]
    if _ALTERNATIVE.search(between) is None or _RETRACTION.search(between):
        return None
    return first.text


def prepare(response: str) -> str:
    """The part of ``response`` a grader reads: after a thinking model's ``</think>``,
    without code fences, curly apostrophes, unicode mixed numbers and a closing line
    that only lists the options again."""
    text = (response or "").replace("’", "'").replace("‘", "'")  # curly apostrophes
    if "</think>" in text:  # a thinking model answers after its reasoning
        text = text.rsplit("</think>", 1)[1]
    text = text.replace("<think>", "")
    text = re.sub(r"^\s*```\w*\s*$", "", text, flags=re.MULTILINE)  # code fences are markup
    text = _EMOJI.sub("", text)  # "x = 5 🎉": emoji are tone, not content
    text = _WORD_LOOP.sub("", text)  # "So 4.2.\n\nThe the the the ...": degenerate tail
    text = _OPTIONS_RESTATED.sub("", text)
    text = _SUPERSCRIPT_POWER.sub(  # "10²⁴" is 10^{24}
        lambda m: "10^{" + m.group(1).translate(_SUPERSCRIPTS) + "}", text
    )
    return _MIXED_NUMBER.sub(lambda m: m.group(1) + _HALVES[m.group(2)], text)  # "3 ½" is 3.5


def extract(response: str, finished: bool | None = None) -> Extraction:
    """The answer ``response`` commits to (module docstring). ``finished=False`` says it
    was cut off at the token limit; None means unknown (judged from the text)."""
    text = prepare(response)
    if not strip_math_delimiters(text).strip(" \n\t.…"):
        return Extraction("", "none", "empty response")
    if "<think>" in (response or "") and "</think>" not in response:
        # the reasoning never closed: cut off while thinking, before the answer it drafts
        return Extraction("", "none", "cut off inside its thinking, before the answer")
    boxes = [box for box in _boxes(text) if _SPACE_ONLY.sub("", box.text)]
    text_without_empty = re.sub(r"\\(?:boxed|fbox)\s*\{(?:\s|\\q?quad|\\[,;:! ]|~)*\}", " ", text)
    if not strip_math_delimiters(text_without_empty).strip(" \n\t.…"):
        return Extraction("", "none", "only an empty box")
    explicit = _drop_unrevised(text, sorted(boxes + _phrases(text, boxes), key=lambda c: c.start))
    if (
        finished is False
        and explicit
        and explicit[-1].rule == "phrase"
        and not text[explicit[-1].end :].strip()
    ):
        explicit.pop()  # cut off inside its own answer phrase
    looping = _is_loop(text)
    if explicit:
        last = explicit[-1]
        if looping and len({c.text.replace(" ", "") for c in explicit}) > 1:
            return Extraction("", "none", "a loop that commits to several answers")
        if not last.labelled and is_refusal(text):
            return Extraction(
                "", "none", f"the response declines to answer and only speculates {last.text!r}"
            )
        revised = _after_retraction(text, last)
        if revised is not None:
            return revised
        other = (
            _contradicted(text, last)
            or _other_final(text, explicit)
            or _alternative(text, explicit)
        )
        if other is not None:
            return Extraction(
                last.text,
                "conflict",
                f"then concludes {other!r}: two different final answers",
                tuple(b.text for b in boxes),
            )
        note = f"the last of {len(explicit)} commitments" if len(explicit) > 1 else ""
        tail_boxes = tuple(b.text for b in boxes)
        joined = _joined_boxes(text, boxes) if last.rule == "boxed" else None
        if joined is not None:
            return Extraction(joined, "boxed", "the last boxes are given together", tail_boxes)
        return Extraction(last.text, last.rule, note, tail_boxes)
    if is_refusal(text):
        return Extraction("", "none", "the response declines to answer")
    if looping:
        return Extraction("", "none", "a loop with no committed answer")
    if finished is False:
        return Extraction("", "none", "cut off at the token limit before an answer")
    return Extraction(*weak_answer(text))
