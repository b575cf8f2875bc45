"""The answer a response ends on when it makes no explicit commitment.

A finished response without a box or an answer phrase may still close on its answer. A
grader reads its *closing statement*:

1. **Trailing remarks are set aside**: a check ("Check: 2(8) + 4 = 20 ✓",
   "**Verification:** substituting ...", "Confirmed."), a parenthetical aside ("(For reference, the
   area would be 80 cm².)") or a note or hypothetical ("Note: if it were equilateral,
   each angle would be 60°.") comes after the answer and is not it; nor is an
   explanation of it ("This is because ...", "Explanation: ...", "I counted ...") or a
   pleasantry ("Hope this helps!", "Let me know if ...").
2. **The last sentence** without a closing aside in parentheses, or its clause after a
   concluding word ("so", "therefore", "i.e.", "→", ...; not one that ends the sentence,
   "... 7 people in total."),
   and of that clause the part after its last semicolon ("the answer is not 5; it is 6")
   when that part gives an answer.
   A long response needs a concluding word or a closing line that stands alone: a
   numbered step or a bullet is reasoning, not a conclusion; a question asserts nothing.
3. **In that clause**, in order:
   - a negation rules a value out ("is not 5"); it gives no answer;
   - a leading yes/no; a clause that is only a letter ("x = 14 → B");
   - a single option named as such ("which corresponds to option B", "Only (C) fits");
   - a bold span that ends it after other words ("The trend is **decreasing**."), or
     its one bold span with a number ("The peak occurs in **2016** with a value of 58");
   - a point or interval that ends it ("... i.e., at the point $(2, 3)$.");
   - the right side of its last "=", or of its one equation for a lone variable ("x = 5,
     and AB = BC = 10" answers x); the values of one variable given together ("x = 3
     and x = −3") are a list;
   - two numbers offered as alternatives ("roughly 9 or 10"): a hedge, judged wrong;
   - its one number; with several numbers (or none in digits) the *predicate* after its
     last "is"/"are"/"equals" when that is a number or math ("The measure of angle 1 is
     110°": the 1 names the angle; "There are four people"; "The two values are 2 and
     5"); a bracketed or typeset predicate wins over a lone number ("The solution set is
     $(-\\infty, 2)$");
   - the subject of a superlative ("Brazil has the highest production");
   - a short noun after "is" in a short sentence ("The ball is red.", "The largest
     slice is colored green.").

Besides the conclusion: a whole response that is only an answer ("B", "12 cm", "Yes.";
a short sentence around its number, "It has 8 sides.", is read by its conclusion), a
leading "Yes," / "No," / "B.", and a last line that is only an answer ("**C**"), but not
the next label of an option-by-option walk cut off ("A. ...\\nB. ...\\nC.").
"""

from __future__ import annotations

import re

from cuekit.answers.normalize import strip_math_delimiters
from cuekit.answers.reading import (
    NEGATION,
    NUMBER,
    NUMBER_WORDS,
    PARALLEL,
    YES_NO,
    answer_like,
    clean_candidate,
    looks_finished,
    offered_values,
    open_ended,
)

__all__ = ["closing_claim", "closing_sentences", "conclusion", "weak_answer"]

_CONCLUSION = re.compile(
    r"\b(?:so|therefore|thus|hence|which\s+(?:means|is|gives)|that\s+is|that's|in\s+total|"
    r"altogether|in\s+all|we\s+get|this\s+gives|giving|but|however)\b,?|\bi\.e\.,?"
    r"|→|⇒|=>|\\Rightarrow|\\implies|因此|所以|故",
    re.IGNORECASE,
)
# A closing sentence that states a result: "So the area is 30 square units."
_CLAIM_START = re.compile(r"^\W*(?:so|therefore|thus|hence|in\s+conclusion)\b,?", re.IGNORECASE)
# A trailing check of the answer, not the answer: "Check: ...", "Verification: ...", "✓".
_CHECK = re.compile(
    r"^\W*(?:check(?:ing)?|verif(?:y|ying|ication)|to\s+(?:verify|check|confirm)|"
    r"let(?:'s|\s+me|\s+us)\s+(?:verify|check|confirm|double[- ]check)|substitut\w*|plugging"
    r"|sanity\s+check|double[- ]check\w*)\b|[✓✔]\W*$"
    r"|^\W*(?:confirmed|verified|correct|(?:this|that|it)\s+checks\s+out)\W*$",
    re.IGNORECASE,
)
# An aside in parentheses, a note or a hypothetical after the answer: "(For reference,
# ...)", "Note: if the triangle were equilateral, each angle would be 60°."
_ASIDE = re.compile(
    r"^\(.*\)[.!]?$|^\W*(?:note|remark|n\.?b\.?|alternatively|for\s+reference"
    r"|for\s+comparison|if\b(?![^.]*\b(?:so|therefore|thus)\b))"
    # an explanation of the answer just given: "This is because ...",
    # "Explanation: ...", "I counted 4 in the front row ..."
    r"|^\W*(?:(?:this|that)(?:\s+is|'s)\s+because|explanation|reason(?:ing)?\s*:"
    r"|here(?:\s+is|'s)\s+why|I\s+(?:counted|got\s+this))\b"
    # a closing pleasantry: "Hope this helps!", "Let me know if ..."
    r"|^\W*(?:(?:I\s+)?hope\s+(?:this|that|it)\s+helps|let\s+me\s+know|feel\s+free"
    r"|(?:I'm\s+)?happy\s+to\s+help|good\s+luck|if\s+you\s+have\s+any)\b",
    re.DOTALL | re.IGNORECASE,
)
_OPTION = re.compile(r"\b(?i:option|choice)\s+\(?([A-H])\)?(?![\w])|\(([A-H])\)")
_RULES_OUT = re.compile(
    r"\brule[sd]?\s+out|\beliminat|\bincorrect|\bwrong|\bfails?\b"
    r"|\bexcept\b|\bexclud",
    re.IGNORECASE,
)
_BOLD_END = re.compile(r"\*\*([^*\n]{1,60}?)\*\*\W*$")
# The subject of a superlative names the answer: "Brazil has the highest production".
_SUPERLATIVE_SUBJECT = re.compile(
    r"(?:^|,\s*)(?!(?:it|this|that|which|he|she|they|there)\b)(?P<subject>(?-i:[A-Z])[\w'-]*"
    r"(?:\s+[\w'-]+){0,2}?)\s+(?:has|had|have|is|was|shows|gets|got|received|scored|holds)\s+"
    r"the\s+(?:highest|lowest|largest|smallest|most|least|greatest|biggest|tallest|shortest|"
    r"longest|fewest|maximum|minimum)\b",
    re.IGNORECASE,
)
# "gives": the result of a step, "one sixth of that gives 6π"
_COPULA = re.compile(
    r"\b(?:is|are|was|were|equals|measures|comes\s+to|gives|yields)\s+", re.IGNORECASE
)
_LEADING_NUMBER_WORD = re.compile(r"^(" + "|".join(NUMBER_WORDS) + r")\b", re.IGNORECASE)
# A closing clause that only voices doubt: the answer before it still stands.
_ONLY_DOUBT = re.compile(
    r"(?:I'm|I\s+am)\s+not\s+(?:sure|certain|100%\s+sure)[.!]?|"
    r"I\s+(?:can't|cannot)\s+be\s+(?:sure|certain)[.!]?",
    re.IGNORECASE,
)
_SHORT_ANSWER = re.compile(r"^(?:\(?[A-Z]\)?|[-−+]?\d[\d,]*(?:\.\d+)?%?|yes|no)\.?$", re.IGNORECASE)
_STEP = re.compile(r"^(?:[-*•]\s|\d+[.)]\s|\**step\b|#)", re.IGNORECASE)
# A response that opens with its choice: "B. The figure shows...", "(C) because ...".
_LEADING_LETTER = re.compile(r"^\W*?(\([A-Z]\)|[A-Z][.:)])(?:\*\*)?\s")
_LABEL = re.compile(r"^\W*\(?([A-Z]|\d{1,2})[.):]")
_TIME = re.compile(r"(?<![\d:.])(\d{1,2}:\d{2})(?:\s*[AaPp]\.?[Mm]\b\.?)?(?![\d:])")
# What the response means to do, not what it found: "To find the value, locate ...".
_PLAN_START = re.compile(
    r"^\W*to\s+(?:find|determine|solve|answer|compute|calculate|get)\b", re.IGNORECASE
)
# A clause that ends on what the response will do: "... and solve for y."
_PLAN = re.compile(
    r"\b(?:solve|find|compute|calculate|determine)\s+(?:for\s+)?(?:the\s+\w+\s+"
    r"of\s+)?\$?\\?[A-Za-z]{1,6}\$?\W*$",
    re.IGNORECASE,
)
# A response that opens with its value, then explains it: "5. There are four small
# triangles and ...", "27 — it sits just below the 30 gridline", "30 square units — half
# of ...". Not a numbered list ("1. Identify ...\n2. ...").
_LEADING_VALUE = re.compile(
    r"^\W{0,3}?(\$?[-−]?\d[\d,]*(?:\.\d+)?\$?(?:\s?(?:[A-Za-z]+|°|%)){0,2}?)\**"
    r"(?:\.\s+(?=[A-Z])|\s+[—–]\s+|\s+-\s+|,\s+(?=(?:because|since|as)\b))"
)
_NUMBERED = re.compile(r"^\W*\d{1,2}[.)]\s", re.MULTILINE)
# A response that opens with a short worded answer as a sentence of its own, then gives
# its evidence: "India. Its growth rate of 8.9% was ...", "**Cherry** — it reaches 42".
# Not an opening word of the reasoning ("Okay.", "Solution.", "First, ...").
_LEADING_WORDS = re.compile(
    r"^\W{0,3}?((?-i:[A-Z])[\w'-]*(?:\s+[A-Za-z][\w'-]*){0,2}?)\**"
    r"(?:\.\s+(?=(?-i:[A-Z]))|\s+[—–]\s+)"
)
_OPENING_WORD = re.compile(
    r"^(?:ok(?:ay)?|sure|alright|all\s+right|hmm+|well|great|yes|no|answer|solution|step|"
    r"first|let|let's|note|given|explanation|analysis|reasoning|thinking|so|now|here|"
    r"understood|got\s+it|good|correct|right|wait|i|we|the|this|it)\b",
    re.IGNORECASE,
)


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.strip().splitlines() if line.strip()]


def _sentences(line: str) -> list[str]:
    """A line's sentences; an aside in parentheses is a sentence of its own."""
    parts = re.split(r"(?<=[.!?])\s+(?=[A-Z$\\(])|(?<=[。！？])", line)
    return [part.strip() for part in parts if part.strip()]


def _closing_text(text: str) -> str:
    """The text without its trailing checks and asides (module docstring, step 1)."""
    lines = _lines(text)
    while lines:
        sentences = _sentences(lines[-1])
        while sentences and (_CHECK.search(sentences[-1]) or _ASIDE.match(sentences[-1])):
            sentences.pop()
        if sentences:
            lines[-1] = " ".join(sentences)
            break
        if len(lines) == 1:
            break  # nothing but a check: leave it
        lines.pop()  # the whole last line was a check; the answer came before it
    return "\n".join(lines)


def _last_sentence(text: str) -> str:
    lines = _lines(text)
    return _sentences(lines[-1])[-1] if lines else ""


def closing_sentences(text: str) -> list[str]:
    """The last two sentences of ``text`` without its trailing checks and asides, the
    last one first."""
    lines = _lines(_closing_text(text))
    sentences = [s for line in lines[-2:] for s in _sentences(line)]
    return sentences[::-1][:2]


def _stands_alone(text: str) -> bool:
    """The last line is a short statement of its own, or the whole response is short:
    not a numbered step or bullet in the middle of reasoning."""
    lines = _lines(text)
    if len(lines) == 1 and len(_sentences(lines[0])) <= 2:
        return True
    return len(lines) > 1 and not _STEP.match(lines[-1]) and len(_sentences(lines[-1])) <= 2


def conclusion(text: str, *, revising: bool = False) -> str | None:
    """The answer the closing statement of ``text`` gives (module docstring). After a
    retraction (``revising``) any last statement is the new answer."""
    closing = _closing_text(text)
    sentence = _last_sentence(closing)
    if not sentence or sentence.rstrip("*$ ").endswith("?") or _PLAN_START.match(sentence):
        return None  # a question ("Is the answer 12?") or a plan asserts nothing
    # "... is 19 (row "C", column "2019")." or "... 4.24 (i.e., $3\sqrt{2}$).": an aside
    # with words at the end of the sentence is set aside; a point "(2, 3)" is kept
    aside = re.search(r"\s\((?=[^()]*[A-Za-z]{2,})[^()]*\)\W*$", sentence)
    if aside is not None and aside.start() > 0:
        sentence = sentence[: aside.start()] + sentence[aside.end() :].strip()
    # a marker that ends the sentence ("..., so 7 people in total.") opens no clause
    markers = [m for m in _CONCLUSION.finditer(sentence) if sentence[m.end() :].strip(" .!*$")]
    if not markers and not revising and not _stands_alone(closing):
        return None  # a step of reasoning, not its conclusion
    clause = sentence[markers[-1].end() :].strip() if markers else sentence
    if markers and _ONLY_DOUBT.fullmatch(clause):  # "..., but I'm not sure.": the answer
        return clause_answer(sentence[: markers[-1].start()], sentence)  # came before it
    return clause_answer(clause, sentence)


def closing_claim(text: str) -> str | None:
    """The result a closing sentence that starts "So"/"Therefore"/... states, if any:
    used to catch a response whose last words contradict its box."""
    sentence = _last_sentence(_closing_text(text))
    start = _CLAIM_START.match(sentence)
    return clause_answer(sentence[start.end() :], sentence) if start else None


# "options A and C", "choices (B), (C) and (E)": several options picked together.
# "The increasing functions are A, C.": the letters after the copula are the options.
_OPTIONS = re.compile(
    r"\b(?i:options|choices|are|were)\s+(\(?[A-H]\)?(?:\s*(?:,|and|&|,\s*and)\s*\(?[A-H]\)?)+)"
    r"\W*$"
)


def _named_option(clause: str) -> str | None:
    several = _OPTIONS.search(clause)
    if several is not None and not _RULES_OUT.search(clause) and not NEGATION.search(clause):
        return ", ".join(re.findall(r"[A-H]", several.group(1)))
    letters = {a or b for a, b in _OPTION.findall(clause)}
    if len(letters) == 1 and not _RULES_OUT.search(clause) and not NEGATION.search(clause):
        return letters.pop()
    return None


def _predicate(clause: str) -> str | None:
    """The number or math after the clause's last copula ("... is 110°"), or None."""
    copulas = list(_COPULA.finditer(clause))
    if not copulas:
        return None
    rest = _LEADING_NUMBER_WORD.sub(
        lambda m: str(NUMBER_WORDS.index(m.group(1).lower())), clause[copulas[-1].end() :]
    )
    candidate = clean_candidate(rest)
    if candidate and answer_like(candidate) and re.search(r"[\d\\√π]", candidate):
        return candidate
    return None


def clause_answer(clause: str, sentence: str) -> str | None:
    """The answer one clause of the last sentence gives (module docstring, step 3): its
    part after the last semicolon, failing that the whole clause."""
    if re.search(r";\s\S", clause):
        last = _part_answer(re.split(r";\s", clause)[-1], sentence)
        if last is not None:
            return last
    labelled = re.search(r"\w:\s+([^:]+)$", clause)  # "3 of 8 slices are shaded: 37.5%."
    if labelled is not None:  # "Peak: 78 (2016)": an aside in brackets after the value
        value = clean_candidate(re.sub(r"\s*\([^()]*\)\W*$", "", labelled.group(1)))
        if _SHORT_ANSWER.match(value):
            return value
    if _PLAN.search(clause):
        return None  # "... and solve for y.": what it will do, not what it found
    return _part_answer(clause, sentence)


# "x = 3 and x = −3", "x = 1, x = 2 or x = 4" at the end of a clause: one variable's values
_SOLUTIONS = re.compile(
    r"(?<![\w\\])([a-z])\s*=\s*[^\s,;=]+(?:\s*(?:,|,?\s+(?:and|or))\s+\1"
    r"\s*=\s*[^\s,;=]+)+\W*$"
)


# A point given by its coordinates at the end of a clause: "at x = 2, y = −3".
_COORDINATES = re.compile(
    r"(?<![\w\\])x(?:\s*=|-coordinate(?:\s+(?:of|is))?)\s*([-−]?\d+(?:\.\d+)?)\s*(?:,|,?\s+and)"
    r"\s+(?:an?\s+|the\s+)?y(?:\s*=|-coordinate(?:\s+(?:of|is))?)\s*([-−]?\d+(?:\.\d+)?)\W*$"
)  # "at x = 2, y = −3", "has x-coordinate 2 and y-coordinate 5"


# A closing equation whose left side is a multiple of the unknown: "Thus 2∠R = 90°".
_UNSOLVED = re.compile(
    r"(?:^|[\s,;:])[-−]?\d+(?:\.\d+)?\s*(?:\\angle\s*|∠\s*)?(?:[a-z]|[A-Z]{1,3})\s*=\s*[^=]+$"
)


def _equation_answer(plain: str) -> str | None:
    """The right side of the clause's last "=", or of its one equation that solves for a
    lone variable ("x = 5, and AB = BC = 10" gives 5)."""
    parts = [part.strip(" ,*") for part in re.split(r",?\s+and\s+|,\s+|;\s+", plain) if "=" in part]
    solutions = _SOLUTIONS.search(plain)
    if solutions is not None:  # "at x = −1 and x = 3": the solutions of one variable,
        # a set: they come in no order ("x = 3 and x = −3" are the solutions [-3, 3])
        values = re.findall(r"=\s*([^\s,;]*[^\s,;.])", solutions.group())
        return "\\{" + ", ".join(values) + "\\}"
    point = _COORDINATES.search(plain)
    if point is not None:  # "The vertex is at x = 2, y = −3.": the point (2, −3)
        return f"({point.group(1)}, {point.group(2)})"
    lone = [part for part in parts if re.match(r"^\s*[a-z]\s*=", part)]
    chosen = lone[0] if len(parts) > 1 and len(lone) == 1 else plain
    rhs = clean_candidate(chosen.rsplit("=", 1)[1])
    return rhs or None


def _part_answer(clause: str, sentence: str) -> str | None:
    clause = (
        re.sub(r"\b(it|that|this|there|what)'s\b", r"\1 is", clause, flags=re.IGNORECASE)
        .strip()
        .rstrip(",;:")
    )
    negated = NEGATION.search(clause)
    if negated is not None:  # "The answer is not 5." rules 5 out; it does not give it
        ruled_out = re.match(
            r"\s*(?:equal\s+to\s+)?(\(?[A-Z]\)?|[-−]?\d+(?:[.,]\d+)*)[.!]?$",
            clause[negated.end() :],
        )
        return f"not {ruled_out.group(1)}" if ruled_out else None
    yes_no = YES_NO.match(clause)
    if yes_no is not None:
        return yes_no.group(1)
    spelled = re.fullmatch(r"\W*(" + "|".join(NUMBER_WORDS) + r")\W*", clause, re.IGNORECASE)
    if spelled is not None:  # "... — that's four."
        return str(NUMBER_WORDS.index(spelled.group(1).lower()))
    letter = re.fullmatch(r"\W*(\(?[A-Z]\)?)\W*", clause)
    if letter is not None:  # "x = 14 → B": the clause is only a choice letter
        return letter.group(1)
    option = _named_option(clause)
    if option is not None:
        return option
    bold = _BOLD_END.search(clause)  # after other words: "**Final Answer**" is a heading
    if (
        bold is not None
        and clause[: bold.start()].strip(" *#")
        and not bold.group(1).rstrip().endswith(":")
    ):
        candidate = clean_candidate(bold.group(1))
        if answer_like(candidate):
            return candidate
    numbered_bold = [
        b for b in re.findall(r"\*\*([^*\n]{1,40}?)\*\*", clause) if re.search(r"\d", b)
    ]
    if len(numbered_bold) == 1:  # "The peak occurs in **2016** with a value of 58."
        candidate = clean_candidate(numbered_bold[0])
        if answer_like(candidate):
            return candidate
    relation = re.search(r"\$([^$]*(?:[<>≤≥]|\\[lg]eq?\b|\\neq\b)[^$]*)\$\W*$", clause)
    if relation is not None:  # "... represents $x > -2$.": an inequality is the answer
        return relation.group(1).strip()
    plain = strip_math_delimiters(clause)
    point = re.search(r"(\([^()]*,[^()]*\))\W*$", plain)
    if point is not None and "=" not in plain[point.end() :]:  # "... at the point (2, 3)."
        return point.group(1).strip()
    # "(5² + 12² = 169)" inside the sentence: working set aside, not the answer
    plain = re.sub(r"\s*\([^()]*=[^()]*\)", "", plain).strip() or plain
    named_point = _COORDINATES.search(plain)
    if named_point is not None:  # "the midpoint has x-coordinate 2 and y-coordinate 5"
        return f"({named_point.group(1)}, {named_point.group(2)})"
    values = list(NUMBER.finditer(plain))
    if len(values) >= 2 and PARALLEL.match(plain, values[-2].end(), values[-1].start()):
        return None  # "the top line is at 7.5 and the bottom at 5.0": two facts, no answer
    if "=" in plain:
        if _UNSOLVED.search(plain):
            return None  # "so 2y = 16.": the unknown is not solved for yet
        rhs = _equation_answer(plain)
        if rhs:
            return rhs
    times = _TIME.findall(plain)
    if len(times) == 1 and not re.search(r"\d", _TIME.sub("", plain)):
        return times[0]  # "the train arrives at 3:45 PM."
    hedges = offered_values(plain, comma=True)
    if hedges:  # "roughly 9 or 10": a hedge between two answers, not one
        return f"{hedges[0].group(1)} or {hedges[0].group(4)}"
    predicate = _predicate(clause)
    numbers = NUMBER.findall(plain)
    if predicate is not None and (
        len(numbers) != 1
        or re.match(r"^[(\[]", predicate)
        or "\\" in predicate
        or re.search(r"\d\s*[π√]", predicate)  # "16π square units": a value NUMBER misses
    ):
        return predicate
    for part in (plain, strip_math_delimiters(sentence)):
        numbers = NUMBER.findall(part)
        if len(numbers) == 1:  # with its scale: "1.25 million people"
            scaled = re.search(re.escape(numbers[0]) + r"\s+(thousand|million|billion)\b", part)
            return f"{numbers[0]} {scaled.group(1)}" if scaled else numbers[0]
        if numbers:
            return None
    leader = _SUPERLATIVE_SUBJECT.search(plain.replace("**", ""))
    if leader is not None:  # "Brazil has the highest coffee production"
        return leader.group("subject").strip()
    tail = re.search(
        r"\b(?:is|are)\s+(?:(?:colou?red|called|named|labell?ed|marked|(?:measured|given|expressed)\s+in)\s+)?"
        r"(an?\s+|the\s+)?([\w' -]{1,30}?)[.!]?$",
        plain.replace("**", ""),
    )
    if tail is None or len(tail.group(2).split()) > 3:
        return None
    # "The ball is red." or "The continent shown in red is Asia." name the answer; a
    # longer sentence ending "is a right angle" describes the figure instead.
    words = len(sentence.split())
    return tail.group(2).strip() if words <= 6 or (words <= 10 and not tail.group(1)) else None


def _next_label(label: str) -> str:
    return str(int(label) + 1) if label.isdigit() else chr(ord(label) + 1)


def _walk_cut_off(text: str) -> bool:
    """The last line is only the next label of a walk through the options ("A. ...\nB.
    ...\nC."): the response was cut off before it said anything about C."""
    lines = _lines(text)
    if len(lines) < 2:
        return False
    last = strip_math_delimiters(lines[-1]).strip().strip("*#").strip()
    label, previous = re.fullmatch(r"\(?([A-Z]|\d{1,2})[.):]?", last), _LABEL.match(lines[-2])
    return bool(label and previous and _next_label(previous.group(1)) == label.group(1))


# A closing line that labels its worded value as the result: "Smallest: South" (a
# number after a label, "Total: 48", is read by the conclusion).
_RESULT_LABEL = re.compile(
    r"^(?:smallest|largest|highest|lowest|most|least|maximum|minimum|max|min|total|sum|"
    r"difference|result|overall)\s*[:：]\s*([A-Za-z][\w.,' -]{0,29})$",
    re.IGNORECASE,
)


def _last_line(text: str) -> str | None:
    """A last line that is only an answer ("**C**", "12", "Yes"), or a short one after a
    lead-in ("the best match is:"); not a bullet, a step of reasoning, or the next label
    of a walk through the options ("A. ...\\nB. ...\\nC.")."""
    lines = _lines(text)
    if len(lines) < 2 or _STEP.match(lines[-1]):
        return None
    last = strip_math_delimiters(lines[-1]).strip().strip("*#").strip()
    if not last or last.endswith((":", ",")) or open_ended(last):
        return None  # a lead-in, or a list or expression cut off ("9, 10,")
    bold = re.fullmatch(r"\*\*([^*\n]{1,40})\*\*\W*", lines[-1].strip())
    if (
        bold is not None
        and len(bold.group(1).split()) <= 3
        and not re.search(r"[:=]|\b(?:answer|solution|result)s?\b", bold.group(1), re.IGNORECASE)
    ):  # not a heading ("**Final Answer**") nor an equation ("**b = 9**", read below)
        return bold.group(1).strip().rstrip(".")  # "...on Tuesday.\n\n**tuesday**"
    result = _RESULT_LABEL.match(last)
    if result is not None:  # "Smallest: South" closing a list of values
        return result.group(1).rstrip(".")
    lead_in = (
        lines[-2].rstrip("*# ").endswith(":") and len(last.split()) <= 4 and answer_like(last)
    )  # not "From the figure:\n\nThe peak of the", cut off
    return last.rstrip(".") if lead_in or _SHORT_ANSWER.match(last) else None


def _bare(candidate: str) -> bool:
    """Only an answer: a letter, a number with at most a unit word after it, or a few
    words without a number; not a label and a value ("Japan: 6.30") or a sentence
    around a number ("It has 8 sides", "x equals 3")."""
    if ":" in candidate or not (answer_like(candidate) or _SHORT_ANSWER.match(candidate)):
        return False
    if re.fullmatch(
        r"(?:the\s+)?(?:final\s+|correct\s+)?(?:answer|solution|result)s?", candidate, re.IGNORECASE
    ):
        return False  # "**Answer:**" alone: a label with nothing after it
    if re.match(r"(?:(?i:option|choice)\s*)?\(?[A-Z]\)?(?:[.:)]|\s|$)", candidate):
        return True  # "Option (A) 15", "B. 14": a choice, maybe with its text
    digit = re.search(r"\d", candidate)
    if digit is None:
        return True
    words = list(re.finditer(r"(?<![\\A-Za-z])[A-Za-z]{2,}", candidate))  # not \sqrt
    if len(words) == 2 and re.fullmatch(r"(?i:square|cubic|sq\.?|cu\.?)", words[0].group()):
        words = words[1:]  # "54 square millimeters": one unit in two words
    return len(words) <= 1 and all(word.start() > digit.start() for word in words)


def weak_answer(text: str) -> tuple[str, str, str]:
    """No explicit commitment: ``(answer, rule, note)`` from the response itself, a leading
    yes/no or letter, its last line or its conclusion; ``("", "none", why)`` when none."""
    body = text.strip()
    words = strip_math_delimiters(body).split()
    if "\n" not in body and len(words) <= 4 and len(body) <= 40:
        candidate = clean_candidate(body) or body
        # "Laptops (420 units).": the answer, then its value in brackets
        candidate = (
            re.sub(r"(?<=\w)\s*\([^()]*[A-Za-z]{2,}[^()]*\)\W*$", "", candidate) or candidate
        )
        if _bare(candidate):
            return candidate, "whole", "the whole response"
        # otherwise a short sentence ("It has 8 sides.", "Japan: 6.30"): its conclusion
    # A leading letter counts only in a finished response that does not go through the
    # options one by one ("A. 30°: too small.\nB. 45°: ...").
    options_listed = len(re.findall(r"^\W*\(?[A-Z][.:)]\s", body, re.MULTILINE)) > 1
    leading = YES_NO.match(body) or (
        _LEADING_LETTER.match(body) if looks_finished(body) and not options_listed else None
    )
    if leading is not None:
        return leading.group(1).strip(".:"), "leading", "the response opens with it"
    value = _LEADING_VALUE.match(body)
    if value is not None and looks_finished(body) and len(_NUMBERED.findall(body)) <= 1:
        return value.group(1).strip("$ "), "leading", "the response opens with its value"
    alone = re.match(
        r"^[^\w=<>≈]{0,3}?(\$?[-−]?\d[\d,]*(?:\.\d+)?\$?[^\S\n]?%?)\**[^\S\n]*\n", body
    )
    if (
        alone is not None
        and looks_finished(body)
        and (
            re.search(
                r"(?<![\d.,])" + re.escape(alone.group(1).strip("$ ")) + r"(?![\d]|\.\d)",
                body[alone.end() :],
            )
            or conclusion(body[alone.end() :]) is None  # evidence that concludes nothing else
        )
    ):  # "21\n\nThe lowest point on the line is 21 in 2009. ...": the evidence repeats it
        return alone.group(1).strip("$ "), "leading", "the response opens with its value"
    opening = _LEADING_WORDS.match(body)
    if (
        opening is not None
        and not options_listed  # "A. This option suggests ...\nB. ...": a walk
        and len(opening.group(1)) > 1
        and looks_finished(body)
        and not _OPENING_WORD.match(opening.group(1))
        and not re.search(r"\b(?:is|are|was|were|has|have)\b", opening.group(1))
    ):
        return opening.group(1), "leading", "the response opens with its answer"
    if _walk_cut_off(text):
        return "", "none", "cut off at the next option of a walk through the options"
    last_line = _last_line(text)
    if last_line:
        return last_line, "last_line", "a short answer on the last line"
    if not looks_finished(text):
        return "", "none", "stops mid-sentence before committing to an answer"
    concluded = conclusion(text)
    if concluded:
        return concluded, "conclusion", "the conclusion of the last sentence"
    return "", "none", "commits to no answer"
