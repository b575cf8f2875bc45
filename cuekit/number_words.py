"""Numbers in words, shared by the answer judge and the cue leak check.

One list, so a cue leaks exactly the spelled numbers the judge would accept. It is a leaf
module: the leak check runs in extract, which must not import the judge to read it.
"""

from __future__ import annotations

import re

# By value: NUMBER_WORDS[7] == "seven".
NUMBER_WORDS = tuple(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty".split()
)

# Tens and scales, for numbers spelled out in full ("one thousand two hundred fifty").
NUMBER_TENS = {
    word: 10 * (index + 2)
    for index, word in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split())
}
NUMBER_SCALES = {"hundred": 100, "thousand": 10**3, "million": 10**6, "billion": 10**9}


def words_value(words: list[str]) -> int | None:
    """The whole number the tokens spell ("forty", "five" -> 45; "2", "thousand" -> 2000),
    "and" allowed between them; None when a token is not part of a number."""
    total = current = 0
    for word in words:
        if word == "and":
            continue
        if word.isdigit():
            current += int(word)
        elif word in NUMBER_WORDS:
            current += NUMBER_WORDS.index(word)
        elif word in NUMBER_TENS:
            current += NUMBER_TENS[word]
        elif word == "hundred":
            current = max(current, 1) * 100
        elif word in NUMBER_SCALES:
            total, current = total + max(current, 1) * NUMBER_SCALES[word], 0
        else:
            return None
    return total + current


def spelled_number(text: str) -> tuple[int, str] | None:
    """The whole number that ``text`` opens with in words ("one thousand two hundred
    fifty students" -> (1250, "students"); "twenty-five", "a hundred and five"), with the
    words after it; None when it opens with no number word."""
    tokens = re.findall(r"[a-z]+|\d+|[^\s-]", text.lower())  # "twenty-five": one number
    if tokens[:2] == ["a", "hundred"]:
        tokens = tokens[1:]  # "a hundred"
    used = 0
    while used < len(tokens) and (
        tokens[used] in NUMBER_WORDS
        or tokens[used] in NUMBER_TENS
        or tokens[used] in NUMBER_SCALES
        or (tokens[used].isdigit() and used == 0)
        or (tokens[used] == "and" and used and not _ends_before(tokens, used))
    ):
        used += 1
    if not any(token.isalpha() and token != "and" for token in tokens[:used]):
        return None  # digits alone are no spelled number
    value = words_value(tokens[:used])
    return None if value is None else (value, " ".join(tokens[used:]))


def _ends_before(tokens: list[str], at: int) -> bool:
    """No number word follows the "and" at ``tokens[at]``: the number ended before it."""
    following = tokens[at + 1] if at + 1 < len(tokens) else ""
    return not (following in NUMBER_WORDS or following in NUMBER_TENS)
