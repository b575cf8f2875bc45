"""What kind of answer a question asks for, and the words it gives an answer.

Gold-blind checks ``judge`` makes of a reading that is no explicit commitment:

- **its kind**: a figure where the question asks which thing ("Which country ...?"
  answered "... at about $75,000") or which year, a name where it asks for a value, the
  parts where it asks for their sum ("9 and 14"), the unknown itself ("x = x"): no
  answer to the question (``of_another_kind``);
- **names**: a closing sentence about a thing the question does not name
  (``names_another``), or the one name it gives a "Which ...?" question (``one_name``);
- **the question's own words around a worded answer**: "the Pacific Ocean" for the gold
  "Pacific" asked "Which ocean is the largest?" adds only what the question says
  (``gold_with_question_words``).
"""

from __future__ import annotations

import re

from cuekit.answers.normalize import plain_text, strip_math_delimiters
from cuekit.answers.question import asked_variable, question_text
from cuekit.answers.reading import NUMBER_WORDS
from cuekit.number_words import spelled_number

__all__ = [
    "asks_name",
    "figure_for_a_name",
    "gold_with_question_words",
    "names_another",
    "of_another_kind",
    "one_name",
    "where_for_a_value",
]

# "Which country ...?", "Who ...?"; not a question for a number ("Which x-value ...?",
# "Which integer ...?"), a time or an option
_ASKS_NAME = re.compile(
    r"^\W*(?:which|who)\b(?!\s+(?:year|month|day|number|value|option|choice|integer|digit"
    r"|[a-z](?:-(?:value|coordinate))?\b|one\s+of\s+the\s+numbers))",
    re.IGNORECASE,
)
_ASKS_MONTH = re.compile(r"^\W*(?:in\s+)?(?:which|what)\s+month\b", re.IGNORECASE)
_ASKS_YEAR = re.compile(r"^\W*(?:in\s+)?(?:which|what)\s+year\b", re.IGNORECASE)
_ASKS_VALUE = re.compile(
    r"^\W*(?:how\s+(?:many|much)|what\s+(?:is|was|are|were)\s+the\s+(?:\w+\s+){0,3}?(?:value|sum|"
    r"difference|total|number|percentage|average|mean|median|product)\b)",
    re.IGNORECASE,
)
_ASKS_COMBINED = re.compile(
    r"^\W*what\s+(?:is|was)\s+the\s+(?:total|sum|difference|product|average|mean|ratio)\b",
    re.IGNORECASE,
)
_FIGURE = re.compile(r"[-−]?\$?\d[\d,]*(?:\.\d+)?\s*%?(?:\s*[A-Za-z]+){0,2}")
_YEAR = re.compile(r"(?:1[89]|20)\d{2}")


def asks_name(question: str) -> bool:
    """The question asks which thing ("Which country ...?", "Who ...?"), not which year,
    value or option."""
    return _ASKS_NAME.match(question_text(question)) is not None


def figure_for_a_name(answer: str, question: str) -> bool:
    """``answer`` is a figure ("75,000", "3.7 million", "41%") where the question asks which
    thing ("Which country has the highest ...?"): the figure is its evidence, not the answer."""
    answer = answer.strip()
    if _ASKS_MONTH.match(question_text(question)) and _FIGURE.fullmatch(answer):
        # "310" for "Which month ...?": no month's number, so the figure beside the month
        return re.fullmatch(r"(?:[1-9]|1[0-2])", answer) is None
    return bool(asks_name(question) and _FIGURE.fullmatch(answer) and not _YEAR.fullmatch(answer))


def of_another_kind(answer: str, question: str | None) -> str | None:
    """Why a weak reading is no answer to the question at all: a figure where it asks which
    thing or which year, a name where it asks for a value; None when it could answer it."""
    if not question or not answer.strip():
        return None
    answer, plain = answer.strip(), question_text(question)
    variable = asked_variable(question)
    if variable is not None and re.fullmatch(
        rf"\$?\s*{variable}\s*(?:=\s*{variable}\s*)?\$?\.?", answer
    ):  # "x = x" for "Find x.": the unknown, not its value
        return f"{answer!r} restates the unknown"
    if figure_for_a_name(answer, question) or (
        _ASKS_YEAR.match(plain) and _FIGURE.fullmatch(answer) and not _YEAR.search(answer)
    ):
        return f"{answer!r} is a figure, and the question asks which"
    if _ASKS_COMBINED.match(plain) and re.fullmatch(
        r"[-−]?\d[\d.,]*%?(?:(?:,\s+|\s+and\s+|,\s+and\s+)[-−]?\d[\d.,]*%?)+", answer
    ):  # "9 and 14" for "What is the sum ...?": the parts, not their sum
        return f"{answer!r} lists the parts, and the question asks what they make together"
    if (
        _ASKS_VALUE.match(plain)
        and not re.search(r"[\d\\√π]", answer)
        and plain_text(answer) not in (*NUMBER_WORDS, "none")
        and spelled_number(plain_text(answer)) is None  # "five triangles" is a value
        and len(answer.split()) <= 3
    ):
        return f"{answer!r} is a name, and the question asks for a value"
    return None


def _same_word(said: str, asked: str) -> bool:
    """One word, maybe inflected: "pyramids" is "pyramid", "based" is "base"."""
    short, long = sorted((said, asked), key=len)
    return long.startswith(short) and len(long) - len(short) <= 2 and len(short) >= 3


def gold_with_question_words(answer: str, gold: str, question: str) -> str | None:
    """A worded answer that is the gold with only words of the question around it ("the
    Pacific Ocean" for "Pacific" asked "Which ocean ...?", "a square-based pyramid" for
    "square" asked "What shape is the base of the pyramid?"): the rule, else None. Not
    for numbers, yes/no, or an answer that joins or negates ("Pacific and Atlantic")."""
    words, wanted = plain_text(answer).split(), plain_text(gold).split()
    if (
        not wanted
        or re.search(r"\d", answer + gold)
        or plain_text(gold) in {"yes", "no", "true", "false"}
        or {"and", "or", "not", "nor", "but", "no"} & set(words)
    ):
        return None
    asked = plain_text(question_text(question)).split() + ["the", "a", "an"]
    for start in range(len(words) - len(wanted) + 1):
        if words[start : start + len(wanted)] == wanted:
            rest = words[:start] + words[start + len(wanted) :]
            if all(w in asked or any(_same_word(w, a) for a in asked) for w in rest):
                return "the gold, with only words of the question around it"
    return None


_STARTERS = frozenset(
    "so thus therefore hence however but also then finally overall now here there this that "
    "these those it its in on at for after before by with from yes no the a an i we you "
    "wait".split()
)


def names_another(sentence: str, question: str) -> bool:
    """``sentence`` is about a thing the question does not name: its subject is a quoted
    label or a name ("The 'Agree' bar is 44%.", "France produced 9 tonnes.") that the
    question does not give. Not "Checking again, it is 14.": a discourse opener."""
    subject = re.match(
        r"^\W*(?:the\s+)?(?:['‘\"“]([^'’\"”]{1,40})['’\"”]|((?-i:[A-Z])[a-z]+(?:\s+(?-i:[A-Z])[a-z]+)*)(?=\s+(?-i:[a-z])))",
        strip_math_delimiters(sentence).replace("**", ""),
        re.IGNORECASE,
    )
    if subject is None:
        return False
    name = (subject.group(1) or subject.group(2)).strip()
    if subject.group(2) and (name.lower() in _STARTERS or re.search(r"(?:ing|ly)$", name)):
        return False
    quoted = [q.lower() for q in re.findall(r"['‘\"“]([^'’\"”]{1,40})['’\"”]", question)]
    if subject.group(1):  # a label: another one than the question quotes
        return name.lower() not in quoted if quoted else name.lower() not in question.lower()
    return not re.search(r"\b" + re.escape(name) + r"\b", question, re.IGNORECASE)


_DOUBT = re.compile(
    r"\b(?:can't|cannot|not\s+sure|unclear|may|might|maybe|perhaps|hard\s+to|or)\b|\?",
    re.IGNORECASE,
)
_SUPERLATIVE = (
    r"\b(?:highest|lowest|largest|smallest|tallest|shortest|most|least|greatest|biggest|"
    r"longest|fewest|maximum|minimum)\b"
)
_NAME = re.compile(r"(?-i:[A-Z])[a-z][\w'-]*(?:\s+(?-i:[A-Z])[a-z][\w'-]*)*")


def one_name(sentence: str, question: str) -> str | None:
    """For "Which country ...?" / "Who ...?": the one name ``sentence`` gives that the
    question does not ("The highest value is 42, for Canada.", "Maria, with 95 points."),
    else None: none or several names, a sentence that voices doubt or asks."""
    if not asks_name(question) or _DOUBT.search(sentence):
        return None
    asked = question.lower()
    said = {w.lower() for w in re.findall(_SUPERLATIVE, sentence, re.IGNORECASE)}
    if said - {w.lower() for w in re.findall(_SUPERLATIVE, question, re.IGNORECASE)}:
        return None  # "..., the smallest portion" does not answer "the largest"
    plain = strip_math_delimiters(sentence).replace("**", "").strip()
    names = {
        m.group().strip()
        for m in _NAME.finditer(plain)
        if m.group().split()[0].lower() not in _STARTERS
        and m.group().lower() not in asked
        # a capital that only opens the sentence ("Only the ...", "All of ...") is no name
        and not (m.start() == 0 and re.match(r"\s+[a-z]", plain[m.end() :]))
    }
    return names.pop() if len(names) == 1 else None


def where_for_a_value(answer: str, sentence: str, question: str) -> str | None:
    """Why ``answer`` only says where the asked value is ("The peak is at x = 6.", "The
    line peaks in 2016." for "What is the value of the peak?"): an x-coordinate or a year
    where the question asks for a value and names neither; else None."""
    plain = question_text(question)
    if (
        not _ASKS_VALUE.match(plain)
        or re.match(r"\W*how\s+(?:many|much)\b", plain, re.I)  # a count is no position
        or re.search(r"\bx\b|\b(?:year|when|where)\b", plain, re.I)
    ):
        return None
    value = re.escape(answer.strip())
    said = strip_math_delimiters(sentence)
    stated = re.findall(rf"(?<![\w.])(x\s*=\s*)?{value}(?![\w]|\.?\d)", said)
    if stated and all(stated) and not re.search(r"\by\s*=", said):  # only ever "x = 6"
        return f"{answer.strip()!r} is where the value is (x), not the value"
    if _YEAR.fullmatch(answer.strip()) and re.search(rf"\b(?:in|during)\s+{value}\b", said):
        return f"{answer.strip()!r} is when the value is (a year), not the value"
    return None
