"""Reading one phrase: the answer it holds, and whether it could be an answer at all.

Shared by ``extract`` (explicit commitments) and ``conclude`` (the closing statement of
a response without one). Pure string work on one phrase or sentence.
"""

from __future__ import annotations

import re

from cuekit.answers.normalize import strip_math_delimiters
from cuekit.number_words import NUMBER_WORDS

__all__ = [
    "ANSWER_PHRASE",
    "NEGATION",
    "NUMBER",
    "NUMBER_WORDS",
    "PARALLEL",
    "YES_NO",
    "answer_like",
    "clean_candidate",
    "is_refusal",
    "looks_finished",
    "offered_values",
]

_ANSWER_WORD = r"(?:final\s+answer|correct\s+answer|the\s+answer|answer)"
ANSWER_PHRASE = re.compile(
    r"(?:\*\*)?" + _ANSWER_WORD + r"(?:\*\*)?(?:\s*(?:\*\*)?\s*[:：](?:\*\*)?|\s+[–—-]\s"
    r"|\s+(?:is|(?:should|would|will|must)\s+(?:actually\s+|really\s+|then\s+)?be|remains|=)"
    r"(?:\s*:)?)"
    r"|(?:correct|right|best)\s+(?:option|choice)s?(?:\s+(?:is|are)\s*:?|\s*:)"
    r"|\bI(?:'ll|\s+will|'d|\s+would)?\s+(?:choose|pick|select|go\s+with)\b"
    r"|(?:^|(?<=\n))\W*(?:select|choose|pick)\b(?=\s+\(?[A-Z]\b)"
    r"|(?:^|(?<=\n))\W*(?:final(?:\s+result)?|result|(?:selected\s+)?(?:choice|option)|"
    r"selection)(?:\*\*)?\s*[:：]"
    # Spanish, French, German and Portuguese: "Respuesta: B", "La respuesta es 12",
    # "Réponse : C", "Antwort: 5"
    r"|\b(?:la\s+)?(?:respuesta|resposta)(?:\s+(?:correcta|final))?(?:\s+es|\s+é)?\s*[:：]?"
    r"(?=\s*\S)|\b(?:la\s+)?r[ée]ponse(?:\s+(?:correcte|finale))?(?:\s+est)?\s*[:：]"
    r"|\bantwort\s*[:：]"
    # Chinese answer phrases: "答案是 B", "答案：12", "故选 C", "选 B"
    r"|答え\s*(?:は)?\s*[:：]?|正解\s*(?:は)?\s*[:：]?"  # Japanese: "答え：A", "正解はB"
    r"|(?:最终)?答案\s*(?:是|为|為|应为|應為)?\s*[:：]?|(?:故|因此|所以)?选(?:择)?(?=\s*\(?[A-H]\b)",
    re.IGNORECASE,
)
_REFUSAL = re.compile(
    r"\bI(?:'m|\s+am)\s+(?:sorry|unable)|\bI\s+(?:cannot|can't|can\s+not|could\s+not|couldn't)"
    r"\s+(?:see|view|determine|answer|help|access|verify|tell|read|open|load)"
    r"|\b(?:no|without\s+an?)\s+image\s+(?:was\s+|is\s+|has\s+been\s+)?"
    r"(?:provided|attached|uploaded|given|shown|included)"
    r"|\b(?:did\s+not|didn't|does\s+not|doesn't)\s+(?:load|contain\s+enough)"
    r"|\b(?:not\s+enough|insufficient)\s+(?:information|data|detail)|\btoo\s+(?:blurry|small|unclear)\s+to"
    r"|\bnot\s+clear\s+enough\b|^\W*sorry\b|\bnot\s+able\s+to\s+(?:see|view|determine|read)"
    r"|\bimpossible\s+to\s+(?:determine|tell|say|read)|\bonly\s+guess\b"
    r"|\bwithout\s+(?:the|an?)\s+image\b"
    r"|\bcannot\s+be\s+(?:determined|found|answered)|\bas\s+an\s+AI\b"
    r"|\bI\s+(?:do\s+not|don't)\s+know\b|^\W*n/?a\W*$|\bunable\s+to\s+(?:provide|answer)"
    r"|\b(?:image|diagram|figure|chart|picture|graph)\s+(?:is\s+|was\s+)?not\s+"
    r"(?:included|visible|attached|provided)"
    # a request for clarification asks instead of answering
    r"|\b(?:could|can|would)\s+you\s+(?:please\s+)?(?:clarify|specify|confirm|provide|"
    r"tell\s+me|share|upload|re-?upload)\b|\bplease\s+(?:clarify|specify|provide|upload|share)\b"
    # Chinese: "I cannot see the image", "please provide the image/data", "cannot determine"
    r"|(?:无法|不能|没法|看不到|未能)(?:看到|查看|看清|识别|确定|判断|回答)?(?:图片|图像|图表|图)"
    r"|请(?:提供|上传)(?:图片|图像|图表|数据)|无法(?:确定|判断|回答)",
    re.IGNORECASE,
)
# Words that start a phrase which is no answer: "the answer is rounded to ...".
_NOT_AN_ANSWER = re.compile(
    r"^(?:rounded|based|that|to|not|given|in|as|because|since|obtained|found|shown|below|"
    r"above|the\s+same|correct|incorrect|wrong|unclear|unknown|a\s+bit|we|let|let's|"
    r"first|this|here|an?\s+(?:integer|number|whole))\b",
    re.IGNORECASE,
)
_HEDGE_WORDS = re.compile(
    r"^(?:(?:likely|probably|approximately|approx|about|around|roughly|actually|still|indeed|"
    r"clearly|simply|then|therefore|thus|now)\b\.?|~|≈)[,:]?\s*",
    re.IGNORECASE,
)
# Where a run-on phrase stops: a reason or a remark after the answer.
_RUN_ON = re.compile(
    r",\s+(?!(?:and|or)\s+[-−$\\(\d])(?=(?-i:[a-z]{2,})\b|(?:and\s+)?(?:The|This|It|Since|Because|Which|So)\b)|\s+(?:because|since|as\s+shown|which\s+(?:is|matches|means))\b"
    r"|;\s|\s\((?=[A-Za-z]{2,})|\s[—–]\s|\s-\s(?=(?:this|that|which|the|it|since|because)\b)"
    r"|\.\s+(?=[A-Z])|\.$|。",
    re.IGNORECASE,
)
_SUBJECT_VERB = re.compile(
    r"^(?:(?:the|a|an|this|its|it|so|thus|therefore|hence|there)\b(?:\s+\w[^=]*?)?\s+"
    r"(?:is|are|equals|=|will\s+be|would\s+be|must\s+be|should\s+be|remains?|comes\s+to)"
    r"|(?:it|that|there|this)'s)\s+(?P<rest>.+)$",
    re.IGNORECASE,
)
# "−3 is the y-intercept", "12 cm is the length of AB": the value named first, then what
# it is.
_VARIABLE_SAYS = re.compile(r"^[a-zA-Z]\s+(?:equals|is)\s+(?P<value>[-−]?\$?\d[\d,./]*%?°?)$")
_COUNT_REMAINS = re.compile(
    r"^(?P<value>\d[\d,]*)\s+(?:[a-z]+\s+){1,2}?(?:remain|remains|are\s+left|is\s+left|left)\b"
)
_VALUE_FIRST = re.compile(
    r"^(?P<value>[-−]?\$?\d[\d,]*(?:\.\d+)?(?:\s*(?:%|°|[a-z]{1,3}\b))?)\s+(?:is|was)\s+"
    r"(?:the|its|our)\s+[a-z]",
    re.IGNORECASE,
)
# "6, i.e. option B", "12 (choice C)", "8, which is option D": a value and the option it
# names, read together so that a letter whose text is another value is caught.
_VALUE_AS_OPTION = re.compile(
    r"^\$?([-−]?\d[\d,.]*(?:\s*[%°])?)\$?\s*(?:,\s*(?:i\.e\.|that\s+is|which\s+is)\s*,?|\()\s*"
    r"(?:option|choice)\s+\(?([A-H])\)?\)?\W*$",
    re.IGNORECASE,
)
NUMBER = re.compile(r"(?<![\w.])[-−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?![\w])")
# "the square is 2 or 3": two values offered for one answer ("roughly 9, or 10" too when
# ``comma``; a comma before "or" usually restates: "12 cm, or 0.12 m").
_OR_VALUES = re.compile(
    r"(?<![\w./])([-−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?)(\s*%)?(\s*,)?\s+or\s+"
    r"([-−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?)(\s*%)?(?![\w/]|\.\d)"
)


def offered_values(text: str, *, comma: bool = False) -> list[re.Match[str]]:
    """Each "X or Y" in ``text`` of two different numbers: a hedge. One value in two forms
    ("0.5 or 50%") is not one. Groups 1 and 4 are the two values."""
    found = []
    for match in _OR_VALUES.finditer(text):
        if match.group(3) and not comma:
            continue
        first, second = (float(match.group(n).replace("−", "-").replace(",", "")) for n in (1, 4))
        scale = 100 if bool(match.group(2)) != bool(match.group(5)) else 1
        if not any(abs(first - other) < 1e-9 for other in (second, second * scale, second / scale)):
            found.append(match)
    return found


# "Yes, ...", "No. ...", and a Chinese verdict that opens the reply: "是的，...", "不是。"
YES_NO = re.compile(
    r"^\W*(yes|no|true|false|是的|不是|是|否)(?<=\w)(?:\b|(?=[，。！]))(?:\*\*)?\s*"
    r"(?:[,.!:;—–(，。！]|\s-\s|$)",
    re.IGNORECASE,
)
# Between two values, a second subject after "and": "... points to 3 and the minute hand
# to 12", "... is at 7.5 and the bottom at 5.0". Each value is stated of its own thing,
# and the sentence concludes with neither.
PARALLEL = re.compile(
    r"[^\w,;]*(?:,\s*)?\s*(?:and|while|whereas)\s+(?:the|its|their|this|that)\s+\w+(?:\s+\w+){0,3}?"
    r"\s+(?:is|are|was|were|at|on|in|to|has|have|had|of|with|reads?|reach(?:es)?|shows?|sums?\s+to)\s+\W*$",
    re.IGNORECASE,
)
NEGATION = re.compile(r"\b(?:not|never|no\s+longer)\b|n't\b", re.IGNORECASE)
# A phrase's text that is no answer: a lead-in ("compute the sides first") or a phrase
# cut off mid-way ("The value of").
_TRAILING_FUNCTION_WORD = re.compile(
    r"\s(?:of|the|a|an|to|is|are|and|or|by|for|with|at|in|on|from|as|be|that)$"
)
_OPEN_ENDED = re.compile(r"(?:[+\-*/=^×÷]|\\times|\\cdot|\\div|\\frac|\\sqrt)\s*$")
_LETTER_LIST = re.compile(r"\(?[A-Z]\)?(?:\s*(?:,|&|and|,\s*and)\s*\(?[A-Z]\)?)+")
_TERMINAL = ".!?)]}$*|。！？✓✔"


def is_refusal(text: str) -> bool:
    """Does the text decline to answer ("I cannot see the image", "cannot be determined")?"""
    return _REFUSAL.search(text) is not None


# A last line that ends on a value after "=" or ":" ("Total: 6", "P = 3/6 = 1/2") is a
# finished statement; one that ends on an operand of a sum ("= 36 + 64") may be cut off.
_ENDS_ON_VALUE = re.compile(
    r"[=:：≈<>≤≥]\s*[+]?\\?\$?\s*[-−]?\d[\d,]*(?:\.\d+)?(?:/\d+)?"
    r"(?:\s*(?:[A-Za-z]{1,6}|°|%)(?:[²³]|\^\{?[23]\}?)?)?\s*\$?$"
    r"|(?:→|⇒|=>)\s*\(?(?:[A-Z]|\d+(?:\.\d+)?)\)?$"
)


# A closing pick: an option's label with its value after the last sentence or alone on
# the last line ("... = 20 units. (C) 20", "\n\n(A) 34"), as MathVista's choices list them.
_PICKED = re.compile(
    r"(?:^|[.!]\s+)\**\([A-H]\)\s*[-−]?\$?\d[\d,]*(?:\.\d+)?"
    r"(?:\s*(?:[A-Za-z]{1,6}|°|%)(?:[²³]|\^\{?[23]\}?)?)?\s*$"
)
_LABEL_LINE = re.compile(r"^\W*\(?[A-H][.):]")


def _picked(lines: list[str]) -> bool:
    """The last line ends on an option picked with its value, and is not the next step of
    a walk through the options ("(A) 10: too small.\n(B) 14", cut off)."""
    if _PICKED.search(lines[-1]) is None:
        return False
    return len(lines) < 2 or _LABEL_LINE.match(lines[-2]) is None


def looks_finished(text: str) -> bool:
    """Ends like a finished answer (punctuation, closing markup, a value after "=" or
    ":", an option picked with its value), not mid-sentence."""
    stripped = text.rstrip()
    if not stripped:
        return False
    lines = [line.strip() for line in stripped.splitlines() if line.strip()]
    last = stripped.splitlines()[-1]
    if _picked(lines):
        return True
    unescaped = stripped.replace("\\$", "")
    opener = max(
        unescaped.rfind("$$") if unescaped.count("$$") % 2 else -1,
        unescaped.rfind("\\[") if unescaped.count("\\[") > unescaped.count("\\]") else -1,
    )
    if opener >= 0 and "\n\n" not in unescaped[opener:]:
        return False  # "$$\nx = \frac{9 \cdot 8}{6}": cut inside its display math
    if stripped[-1] in _TERMINAL:
        return True
    dollars = last.replace("\\$", "").replace("$$", "")
    # "From $45 to $60: +$15": dollars before amounts are currency, not math
    open_math = dollars.count("$") % 2 and not re.fullmatch(r"(?:[^$]*\$\d)*[^$]*", dollars)
    return not open_math and _ENDS_ON_VALUE.search(last) is not None  # "$$5x = 18": cut


def open_ended(text: str) -> bool:
    """Ends on an operator: cut off inside an expression ("\\frac{3}{4} \\times")."""
    return _OPEN_ENDED.search(text) is not None


def clean_candidate(text: str) -> str:
    """Cut a phrase's answer out of the rest of its line: markdown, math delimiters, run-on
    reasons ("6 balls remain, since ..."), a subject ("The value of x is 11")."""
    text = text.strip()
    if text.startswith("**"):
        text = text[2:]
    if text.count("**") % 2:  # "**Answer: No**, the line ...": the bold closes here
        head, tail = text.split("**", 1)
        value = re.match(r"\s*\([^()]{1,20}\)", tail)  # "B** (16)": the choice's text
        text = head + (value.group() if value else "")
    text = text.replace("**", "")  # "Japan: **6.30**": bold pairs are only markup
    text = re.sub(r"(?<=\$)\\\$", "", text)  # "$\$21$": a currency sign inside the math
    named = _VALUE_AS_OPTION.match(text)
    if named is not None:  # "6, i.e. option B": the letter is the pick, the value its text
        return f"({named.group(2)}) {named.group(1).strip()}"
    math = re.match(r"^(\$\$?|\\\(|\\\[)(.+?)(\$\$?|\\\)|\\\])", text)
    if math is not None and not re.match(r"\s*[=<>+*/^-]", text[math.end() :]):
        return math.group(2).strip()  # "$\frac{5}{2}$ is the ratio"; not "$x$ = 5"
    text = _HEDGE_WORDS.sub("", strip_math_delimiters(text).strip())
    cut = _RUN_ON.search(text)
    tail = ""  # what the run-on cut takes: a reason after the value may hold numbers
    if cut is not None and cut.start() > 0:
        text, tail = text[: cut.start()], text[cut.start() :]
    subject = _SUBJECT_VERB.match(text.strip())
    if subject is not None and len(text.split()) >= 2:
        text = subject.group("rest")
    said = (
        _VARIABLE_SAYS.match(text.strip()) if re.search(r"[a-z]", tail) else None
    ) or _COUNT_REMAINS.match(text.strip())
    if said is not None:  # "x equals 18, because ...", "5 objects remain after removing ..."
        text = said.group("value")
    value_first = _VALUE_FIRST.match(text.strip())
    if value_first is not None and (
        not re.search(r"\d", tail) or re.match(r"\W*(?:because|since)\b", tail, re.IGNORECASE)
    ):
        text = value_first.group("value")
    return text.strip().strip("*").strip().rstrip(".;:,。").strip()


def answer_like(candidate: str) -> bool:
    """Could a grader read this as an answer? A number, math, a choice letter or a few
    words (a colour, a name), but not a lead-in or a sentence cut off mid-way."""
    if not candidate or len(candidate) > 80 or _NOT_AN_ANSWER.match(candidate):
        return False
    if _TRAILING_FUNCTION_WORD.search(candidate):
        return False
    if open_ended(candidate):
        return False  # "\frac{3}{4} \times": cut off inside the expression
    return (
        bool(re.search(r"[\d\\^=√π%$]", candidate))
        or len(candidate.split()) <= 3
        or _LETTER_LIST.fullmatch(candidate) is not None
    )
