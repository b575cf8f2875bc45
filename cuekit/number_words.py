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

_TENS = {
    word: 10 * (index + 2)
    for index, word in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split())
}
_SCALES = {"thousand": 10**3, "million": 10**6, "billion": 10**9}


def spelled_number(text: str) -> tuple[int, str] | None:
    """The whole number that ``text`` opens with in words ("one thousand two hundred
    fifty students" -> (1250, "students"); "twenty-five", "a hundred and five"), with the
    words after it; None when it opens with no number word."""
    tokens = re.findall(r"[a-z]+|\d+|[^\s-]", text.lower())  # "twenty-five": one number
    total = current = used = 0
    worded = False
    for token in tokens:
        if token == "and" and used and not worded_end(tokens, used):
            used += 1
            continue
        if token.isdigit() and not worded:
            current += int(token)
        elif token in NUMBER_WORDS:
            current += NUMBER_WORDS.index(token)
        elif token in _TENS:
            current += _TENS[token]
        elif token == "hundred":
            current = max(current, 1) * 100
        elif token in _SCALES:
            total, current = total + max(current, 1) * _SCALES[token], 0
        elif token == "a" and not used and tokens[1:2] == ["hundred"]:
            current = 0  # "a hundred"
        else:
            break
        worded = worded or not token.isdigit()
        used += 1
    if not used or not worded:
        return None
    rest = " ".join(tokens[used:])
    return total + current, rest


def worded_end(tokens: list[str], at: int) -> bool:
    """No number word follows the "and" at ``tokens[at]``: the number ended before it."""
    following = tokens[at + 1] if at + 1 < len(tokens) else ""
    return not (following in NUMBER_WORDS or following in _TENS or following.isdigit())
