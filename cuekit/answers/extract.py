"""Which answer does a response commit to, and by which rule?

A careful grader reads the *last commitment* of a response, and nothing else:

1. **Explicit commitments**, in the order they appear: ``\\boxed{...}`` (and ``\\fbox``),
   final-answer phrases ("Answer: X", "the final answer is X", "the correct option is
   X", "Option B is correct"). The last one wins, so a box that the response then
   revises ("...\\boxed{8}. Wait, I made an error ... the answer is 6") loses to the
   revision. A phrase that does not hold an answer ("the answer is rounded to...") is
   passed over.
2. A commitment the response then **retracts** ("that's not right", "I made an error")
   without a new explicit one is replaced by the conclusion that follows the retraction,
   or by nothing.
3. **Weak commitments**, only when there is no explicit one and the response finished:
   a whole response that is just an answer ("B", "12", "Yes."); a leading "Yes," or
   "No,"; a last line that is only an answer ("...the best match is:\n\n**C**"); the
   conclusion of the last sentence ("Therefore, AB is 10.", "... = 20 cm.").

A response that commits to nothing gives **no answer**; no stray number or letter is
picked from it. That covers empty output, refusals ("No image was provided..."),
degenerate loops (a loop that repeats one committed answer keeps it) and output cut off
before its answer (``finished=False``, or text that stops mid-sentence).
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

from cuekit.answers.normalize import strip_math_delimiters

__all__ = ["Extraction", "extract", "find_boxed", "is_refusal"]

_BOX_COMMANDS = ("\\boxed", "\\fbox")
_ANSWER_WORD = r"(?:final\s+answer|correct\s+answer|the\s+answer|answer)"
_PHRASE = re.compile(
    r"(?:\*\*)?" + _ANSWER_WORD + r"(?:\*\*)?(?:\s*(?:\*\*)?\s*[:：](?:\*\*)?"
    r"|\s+(?:is|should\s+be|would\s+be|will\s+be|must\s+be|remains|=)(?:\s*:)?)"
    r"|(?:correct|right|best)\s+(?:option|choice)s?(?:\s+(?:is|are)\s*:?|\s*:)"
    r"|\bI\s+(?:choose|pick|select)\b",
    re.IGNORECASE)
# "Option B is correct", "option A is the correct answer": the letter comes first.
_CHOICE_IS = re.compile(
    r"\b(?:option|choice)\s+\(?(?P<letter>[A-Z])\)?\s+is\s+(?:the\s+)?(?:correct|right|best)\b",
    re.IGNORECASE)
# Said of an earlier answer: it was wrong. Verification ("let me check") is not this.
_RETRACTION = re.compile(
    r"(?:that|this|it)(?:'s|\s+is|\s+was)\s+(?:not\s+(?:right|correct)|wrong|incorrect)"
    r"|\bI\s+made\s+(?:an?\s+)?(?:error|mistake)|\bmis(?:read|counted|calculated|added|took)"
    r"|\bmy\s+(?:mistake|error)|\bcorrection\s*:|\bhold\s+on\b|\bdouble[- ]counted"
    r"|\bI\s+(?:overlooked|forgot|missed)\b|\b(?:hmm|wait|oh)[,.]?\s+no\b"
    r"|(?:that|this|it)\s+(?:doesn't|does\s+not)\s+(?:seem|look)\s+right", re.IGNORECASE)
# Between a box and a later, different answer phrase: the response is revising the box.
_REVISION = re.compile(
    r"\b(?:wait|actually|hmm|however|but|instead|oops|mistake|error|wrong|incorrect|"
    r"correct(?:ion|ed)?|should\s+be|not\s+right|second\s+thought|on\s+closer|upon|again|"
    r"re-?(?:count|check|examin|calculat|consider|read|do|visit)\w*|double[- ]check|mis\w+)\b",
    re.IGNORECASE)
_REFUSAL = re.compile(
    r"\bI(?:'m|\s+am)\s+(?:sorry|unable)|\bI\s+(?:cannot|can't|can\s+not|could\s+not|couldn't)"
    r"\s+(?:see|view|determine|answer|help|access|verify|tell|read|open|load)"
    r"|\b(?:no|without\s+an?)\s+image\s+(?:was\s+|is\s+|has\s+been\s+)?"
    r"(?:provided|attached|uploaded|given|shown|included)"
    r"|\b(?:did\s+not|didn't|does\s+not|doesn't)\s+(?:load|contain\s+enough)"
    r"|\bnot\s+enough\s+information|\btoo\s+(?:blurry|small|unclear)\s+to"
    r"|\bnot\s+clear\s+enough\b|^\W*sorry\b|\bnot\s+able\s+to\s+(?:see|view|determine|read)"
    r"|\bimpossible\s+to\s+(?:determine|tell|say|read)|\bonly\s+guess\b"
    r"|\bwithout\s+(?:the|an?)\s+image\b"
    r"|\bcannot\s+be\s+(?:determined|found|answered)|\bas\s+an\s+AI\b"
    r"|\bI\s+(?:do\s+not|don't)\s+know\b", re.IGNORECASE)
# Words that start a phrase which is no answer: "the answer is rounded to ...".
_NOT_AN_ANSWER = re.compile(
    r"^(?:rounded|based|that|to|not|given|in|as|because|since|obtained|found|shown|below|"
    r"above|the\s+same|correct|incorrect|wrong|unclear|unknown|a\s+bit|we|let|let's|"
    r"first|this|here|an?\s+(?:integer|number|whole))\b", re.IGNORECASE)
_HEDGE_WORDS = re.compile(
    r"^(?:(?:likely|probably|approximately|approx|about|around|roughly|actually|still|indeed|"
    r"clearly|simply|then|therefore|thus|now)\b\.?|~|≈)[,:]?\s*", re.IGNORECASE)
# Where a run-on phrase stops: a reason or a remark after the answer.
_RUN_ON = re.compile(
    r",\s+(?=(?-i:[a-z]{2,})\b|(?:and\s+)?(?:The|This|It|Since|Because|Which|So)\b)|\s+(?:because|since|as\s+shown|which\s+(?:is|matches|means))\b"
    r"|;\s|\s\((?=[A-Za-z]{2,})|\s[—–]\s|\s-\s(?=(?:this|that|which|the|it|since|because)\b)"
    r"|\.\s+(?=[A-Z])|\.$", re.IGNORECASE)
_SUBJECT_VERB = re.compile(
    r"^(?:(?:the|a|an|this|its|it|so|thus|therefore|hence|there)\b(?:\s+\w[^=]*?)?\s+"
    r"(?:is|are|equals|=|will\s+be|would\s+be|must\s+be|should\s+be|remains?|comes\s+to)"
    r"|(?:it|that|there|this)'s)\s+(?P<rest>.+)$", re.IGNORECASE)
_CONCLUSION = re.compile(
    r"\b(?:so|therefore|thus|hence|which\s+(?:means|is|gives)|that\s+is|in\s+total|"
    r"altogether|in\s+all|we\s+get|this\s+gives|giving|but|however)\b,?", re.IGNORECASE)
_NUMBER = re.compile(r"(?<![\w.])[-−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?![\w])")
_YES_NO = re.compile(r"^\W*(yes|no|true|false)\b(?:\*\*)?\s*(?:[,.!:;]|$)", re.IGNORECASE)
# A response that opens with its choice: "B. The figure shows...", "(C) because ...".
_LEADING_LETTER = re.compile(r"^\W*?(\([A-Z]\)|[A-Z][.:)])(?:\*\*)?\s")
# A phrase's text that is no answer: a lead-in ("compute the sides first") or a phrase
# cut off mid-way ("The value of").
_TRAILING_FUNCTION_WORD = re.compile(
    r"\s(?:of|the|a|an|to|is|are|and|or|by|for|with|at|in|on|from|as|be|that)$")
_TERMINAL = ".!?)]}$*|"
_HYPOTHETICAL = re.compile(r"\b(?:whether|if|unless|assuming|suppose|supposing)\s+(?:\S+\s+){0,2}$",
                           re.IGNORECASE)
_OPEN_ENDED = re.compile(r"(?:[+\-*/=^×÷]|\\times|\\cdot|\\div|\\frac|\\sqrt)\s*$")
_LETTER_LIST = re.compile(r"\(?[A-Z]\)?(?:\s*(?:,|&|and|,\s*and)\s*\(?[A-Z]\)?)+")
# A closing clause that only voices doubt: the answer before it still stands.
_ONLY_DOUBT = re.compile(r"(?:I'm|I\s+am)\s+not\s+(?:sure|certain|100%\s+sure)[.!]?|"
                         r"I\s+(?:can't|cannot)\s+be\s+(?:sure|certain)[.!]?", re.IGNORECASE)
_NEGATION = re.compile(r"\b(?:not|never|no\s+longer)\b|n't\b", re.IGNORECASE)
_SHORT_ANSWER = re.compile(
    r"^(?:\(?[A-Z]\)?|[-−]?\d[\d,]*(?:\.\d+)?%?|yes|no)\.?$", re.IGNORECASE)
_STEP = re.compile(r"^(?:[-*•]\s|\d+[.)]\s|\**step\b|#)", re.IGNORECASE)


@dataclass(frozen=True)
class Extraction:
    """What a response answered: ``text`` ("" for no answer), the ``rule`` that found it,
    a ``note`` on why, and ``boxes``: the boxes of the answer in order (list answers
    spread over several boxes are joined from them)."""

    text: str
    rule: str  # boxed | phrase | conclusion | last_line | leading | whole | none
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
                content = _box_answer(text[cursor + 1:j].strip())
                found.append(_Commitment(index, j + 1, content, "boxed"))
                position = j + 1
                break
        else:
            return found


def find_boxed(text: str) -> list[str]:
    """Contents of every closed box, in order."""
    return [box.text for box in _boxes(text)]


def is_refusal(text: str) -> bool:
    """Does the text decline to answer ("I cannot see the image", "cannot be determined")?"""
    return _REFUSAL.search(text) is not None


def _is_loop(text: str) -> bool:
    """Degenerate repetition: long output that compresses far better than prose does."""
    data = text.encode()
    return len(data) >= 400 and len(zlib.compress(data, 9)) < 0.12 * len(data)


def _looks_finished(text: str) -> bool:
    """Ends like a finished answer (punctuation, closing markup), not mid-sentence."""
    stripped = text.rstrip()
    return bool(stripped) and stripped[-1] in _TERMINAL


def clean_candidate(text: str) -> str:
    """Cut a phrase's answer out of the rest of its line: markdown, math delimiters, run-on
    reasons ("6 balls remain, since ..."), a subject ("The value of x is 11")."""
    text = text.strip()
    if text.startswith("**"):
        text = text[2:]
    if "**" in text:  # "**Answer: No**, the line ..." ends at the bold
        text = text.split("**", 1)[0]
    math = re.match(r"^(\$\$?|\\\(|\\\[)(.+?)(\$\$?|\\\)|\\\])", text)
    if math is not None and not re.match(r"\s*[=<>+*/^-]", text[math.end():]):
        return math.group(2).strip()  # "$\frac{5}{2}$ is the ratio"; not "$x$ = 5"
    text = _HEDGE_WORDS.sub("", strip_math_delimiters(text).strip())
    cut = _RUN_ON.search(text)
    if cut is not None and cut.start() > 0:
        text = text[:cut.start()]
    subject = _SUBJECT_VERB.match(text.strip())
    if subject is not None and len(text.split()) >= 2:
        text = subject.group("rest")
    return text.strip().strip("*").strip().rstrip(".;:,").strip()


def _answer_like(candidate: str) -> bool:
    """Could a grader read this as an answer? A number, math, a choice letter or a few
    words (a colour, a name), but not a lead-in or a sentence cut off mid-way."""
    if not candidate or len(candidate) > 80 or _NOT_AN_ANSWER.match(candidate):
        return False
    if _TRAILING_FUNCTION_WORD.search(candidate):
        return False
    if _OPEN_ENDED.search(candidate):
        return False  # "\frac{3}{4} \times": cut off inside the expression
    return bool(re.search(r"[\d\\^=√π%$]", candidate)) or len(candidate.split()) <= 3 \
        or _LETTER_LIST.fullmatch(candidate) is not None


def _box_answer(content: str) -> str:
    """A box that holds a sentence ("\\text{The area is } 12") gives its answer part."""
    cleaned = strip_math_delimiters(re.sub(r"\\text\s*\{([^{}]*)\}", r"\1", content))
    if not re.search(r"[A-Za-z]{2,}\s+[A-Za-z]{2,}\s", cleaned):
        return content
    phrases = list(_PHRASE.finditer(cleaned))
    tail = clean_candidate(cleaned[phrases[-1].end():] if phrases else cleaned)
    return tail if tail and tail != cleaned.strip() and _answer_like(tail) else content


def _phrases(text: str, boxes: list[_Commitment]) -> list[_Commitment]:
    found = [_Commitment(m.start(), m.end(), m.group("letter").upper(), "phrase")
             for m in _CHOICE_IS.finditer(text)]
    for match in _PHRASE.finditer(text):
        end = match.end()
        if any(box.start >= end and box.start - end <= 40 and "\n\n" not in text[end:box.start]
               for box in boxes):
            continue  # "The answer is \boxed{8}": the box is the commitment
        line_end = text.find("\n", end)
        rest = text[end:] if line_end < 0 else text[end:line_end]
        if not rest.strip() and line_end >= 0:  # "Answer:\n12", "Answer:\n$$\n12\n$$"
            following = re.search(r"[^\n]*[^\s$\\\[\]()][^\n]*", text[line_end:])
            if following is not None:
                rest = following.group()
                end = line_end + following.start()
        if _HYPOTHETICAL.search(text, max(0, match.start() - 30), match.start()) \
                or re.split(r"(?<=[.!?])\s", rest.strip())[0].endswith("?"):
            continue  # "whether the answer is 4", "Is the answer 12?": not a commitment
        candidate = clean_candidate(rest)
        if _answer_like(candidate):
            found.append(_Commitment(match.start(), end + len(rest), candidate, "phrase",
                                     labelled=":" in match.group() or "：" in match.group()))
    return found


def _last_sentence(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return ""
    sentences = re.split(r"(?<=[.!?])\s+(?=[A-Z$\\])", lines[-1])
    return sentences[-1].strip()


def _conclusion(text: str, *, revising: bool = False) -> str | None:
    """The answer the last sentence concludes with: its yes/no, the value after its last
    "=" or the one number it (or its clause after "so"/"therefore") holds, or the word
    after "is" when it has no number. After a retraction (``revising``) any last
    statement is the new answer; otherwise a long response needs a concluding word."""
    sentence = _last_sentence(text)
    if not sentence:
        return None
    markers = list(_CONCLUSION.finditer(sentence))
    if not markers and not revising and not _stands_alone(text):
        return None  # a step of reasoning, not its conclusion
    clause = sentence[markers[-1].end():].strip() if markers else sentence
    if markers and _ONLY_DOUBT.fullmatch(clause):  # "..., but I'm not sure.": the answer
        return _clause_answer(sentence[:markers[-1].start()], sentence)  # came before it
    return _clause_answer(clause, sentence)


def _clause_answer(clause: str, sentence: str) -> str | None:
    """The answer one clause of the last sentence gives (see ``_conclusion``)."""
    negated = _NEGATION.search(clause)
    if negated is not None:  # "The answer is not 5." rules 5 out; it does not give it
        ruled_out = re.match(r"\s*(?:equal\s+to\s+)?(\(?[A-Z]\)?|[-−]?\d+(?:[.,]\d+)*)[.!]?$",
                             clause[negated.end():])
        return f"not {ruled_out.group(1)}" if ruled_out else None
    yes_no = _YES_NO.match(clause)
    if yes_no is not None:
        return yes_no.group(1)
    plain = strip_math_delimiters(clause)
    if "=" in plain:
        rhs = clean_candidate(plain.rsplit("=", 1)[1])
        if rhs:
            return rhs
    for part in (plain, strip_math_delimiters(sentence)):
        numbers = _NUMBER.findall(part)
        if len(numbers) == 1:
            return numbers[0]
        if numbers:
            return None
    tail = re.search(r"\b(?:is|are)\s+(an?\s+|the\s+)?([\w' -]{1,30}?)[.!]?$", plain)
    if tail is None or len(tail.group(2).split()) > 3:
        return None
    # "The ball is red." or "The continent shown in red is Asia." name the answer; a
    # longer sentence ending "is a right angle" describes the figure instead.
    words = len(sentence.split())
    return tail.group(2).strip() if words <= 6 or (words <= 10 and not tail.group(1)) else None


def _last_line(text: str) -> str | None:
    """A last line that is only an answer ("**C**", "12", "Yes"), or a short one after a
    lead-in ("the best match is:"); not a bullet or a step of reasoning."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if len(lines) < 2 or _STEP.match(lines[-1]):
        return None
    last = strip_math_delimiters(lines[-1]).strip().strip("*#").strip()
    if not last or last.endswith(":"):
        return None
    lead_in = lines[-2].rstrip("*# ").endswith(":") and len(last.split()) <= 4
    if _OPEN_ENDED.search(last):
        return None
    return last.rstrip(".") if lead_in or _SHORT_ANSWER.match(last) else None


def _stands_alone(text: str) -> bool:
    """The last line is a short statement of its own, or the whole response is short:
    not a numbered step or bullet in the middle of reasoning."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if len(lines) == 1 and len(re.split(r"(?<=[.!?])\s+", lines[0])) <= 2:
        return True
    last = lines[-1]
    return len(lines) > 1 and not _STEP.match(last) and len(re.split(r"(?<=[.!?])\s+", last)) <= 2


def _weak(text: str) -> Extraction:
    """No explicit commitment: the response itself, a leading yes/no, or its conclusion."""
    body = text.strip()
    words = strip_math_delimiters(body).split()
    if "\n" not in body and len(words) <= 4 and len(body) <= 40:
        return Extraction(clean_candidate(body) or body, "whole", "the whole response")
    # A leading letter counts only in a finished response that does not go through the
    # options one by one ("A. 30°: too small.\nB. 45°: ...").
    options_listed = len(re.findall(r"^\W*\(?[A-Z][.:)]\s", body, re.MULTILINE)) > 1
    leading = _YES_NO.match(body) or (
        _LEADING_LETTER.match(body) if _looks_finished(body) and not options_listed else None)
    if leading is not None:
        return Extraction(leading.group(1).strip(".:"), "leading", "the response opens with it")
    last_line = _last_line(text)
    if last_line:
        return Extraction(last_line, "last_line", "a short answer on the last line")
    if not _looks_finished(text):
        return Extraction("", "none", "stops mid-sentence before committing to an answer")
    concluded = _conclusion(text)
    if concluded:
        return Extraction(concluded, "conclusion", "the conclusion of the last sentence")
    return Extraction("", "none", "commits to no answer")


def _after_retraction(text: str, last: _Commitment) -> Extraction | None:
    retraction = _RETRACTION.search(text, last.end)
    if retraction is None:
        return None
    later = text[retraction.end():]
    concluded = _conclusion(later, revising=True) if _looks_finished(later) else None
    if concluded:
        return Extraction(concluded, "conclusion",
                          f"the response retracts {last.text!r} and then concludes this")
    return Extraction("", "none", f"the response retracts {last.text!r} and gives no other")


def _joined_boxes(text: str, boxes: list[_Commitment]) -> str | None:
    """``\\boxed{3} or \\boxed{4}`` (alternatives) or ``\\boxed{3}, \\boxed{4}`` (a list):
    the last two boxes with nothing but a connective between them, as one answer."""
    if len(boxes) < 2 or boxes[-2].text.replace(" ", "") == boxes[-1].text.replace(" ", ""):
        return None
    between = strip_math_delimiters(text[boxes[-2].end:boxes[-1].start]).strip()
    connective = re.fullmatch(r"(?:(or|either)|and|,|;)?", between, re.IGNORECASE)
    if connective is None:
        return None
    return f"{boxes[-2].text} {'or' if connective.group(1) else ','} {boxes[-1].text}".replace(
        " ,", ",")


def _drop_unrevised(text: str, explicit: list[_Commitment]) -> list[_Commitment]:
    """A phrase after the last box that gives a different answer overrides it only when
    the text between says it revises ("wait", "actually", "I made an error"); otherwise
    it is a remark ("the answer is rounded...", "Note that the answer is ...")."""
    boxes = [i for i, c in enumerate(explicit) if c.rule == "boxed"]
    if not boxes:
        return explicit
    box = explicit[boxes[-1]]
    kept = explicit[:boxes[-1] + 1]
    for later in explicit[boxes[-1] + 1:]:
        same = later.text.replace(" ", "") == box.text.replace(" ", "")
        if same or _REVISION.search(text, box.end, later.start):
            kept.append(later)
    return kept


def extract(response: str, finished: bool | None = None) -> Extraction:
    """The answer ``response`` commits to (module docstring). ``finished=False`` says it
    was cut off at the token limit; None means unknown (judged from the text)."""
    text = (response or "").replace("’", "'").replace("‘", "'")  # curly apostrophes
    if "</think>" in text:  # a thinking model answers after its reasoning
        text = text.rsplit("</think>", 1)[1]
    text = text.replace("<think>", "")
    if not strip_math_delimiters(text).strip(" \n\t.…"):
        return Extraction("", "none", "empty response")
    boxes = [box for box in _boxes(text) if box.text]
    text_without_empty = re.sub(r"\\(?:boxed|fbox)\s*\{\s*\}", " ", text)
    if not strip_math_delimiters(text_without_empty).strip(" \n\t.…"):
        return Extraction("", "none", "only an empty box")
    explicit = _drop_unrevised(text, sorted(boxes + _phrases(text, boxes), key=lambda c: c.start))
    if finished is False and explicit and explicit[-1].rule == "phrase" \
            and not text[explicit[-1].end:].strip():
        explicit.pop()  # cut off inside its own answer phrase
    looping = _is_loop(text)
    if explicit:
        last = explicit[-1]
        if looping and len({c.text.replace(" ", "") for c in explicit}) > 1:
            return Extraction("", "none", "a loop that commits to several answers")
        if not last.labelled and is_refusal(text):
            return Extraction("", "none", f"the response declines to answer and only "
                                          f"speculates {last.text!r}")
        revised = _after_retraction(text, last)
        if revised is not None:
            return revised
        note = f"the last of {len(explicit)} commitments" if len(explicit) > 1 else ""
        tail_boxes = tuple(b.text for b in boxes)
        joined = _joined_boxes(text, boxes) if last.rule == "boxed" else None
        if joined is not None:
            return Extraction(joined, "boxed", "the last boxes are given together",
                              tail_boxes)
        return Extraction(last.text, last.rule, note, tail_boxes)
    if is_refusal(text):
        return Extraction("", "none", "the response declines to answer")
    if looping:
        return Extraction("", "none", "a loop with no committed answer")
    if finished is False:
        return Extraction("", "none", "cut off at the token limit before an answer")
    return _weak(text)
