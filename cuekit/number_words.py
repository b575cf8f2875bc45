"""Numbers in words, shared by the answer judge and the cue leak check.

One list, so a cue leaks exactly the spelled numbers the judge would accept. It is a leaf
module: the leak check runs in extract, which must not import the judge to read it.
"""

from __future__ import annotations

# By value: NUMBER_WORDS[7] == "seven".
NUMBER_WORDS = tuple(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty".split()
)
