"""Cue wordings: versioned templates for how the cue names things.

A model trained on cues learns their exact words, so the wording is a setting with a
version, recorded with every cue, never an unannounced change:

* ``v1``: bare nouns ("The image shows cross (top right) and the label "1" on cross.
  Circle is above square."). The shipped CueWorld models were trained on it, so
  ``--dataset cueworld`` pins it (:data:`cuekit.cueworld.dataset.CUE_WORDING`).
* ``v2`` (the default): English with articles and agreement ("The image shows the
  cross (top right), a circle near the cross and the digit 1 on the cross. The circle
  is above the square."; "3 red circles (the clearest at top left)").

How ``v2`` names a thing (:func:`name_thing`):

* A name with its own label is a proper name and takes no article: "point A",
  "triangle ABC", "angle 1", "circle O", "function f", "Web Green", "GDP".
* Other nouns take "the" when the question mentions them and "a"/"an" otherwise (a
  label the question does not name: "a star near the cross").
* A read label without letters is a digit or a number ("the digit 1", "the number
  12"); other labels stay quoted ('the label "AB"').
* Where the count of things found is evidence, it leads a plural ("3 red circles").

Plurals use a small rule set (:func:`is_plural`, :func:`pluralize`) instead of the
``inflect`` package: inflect 7.6 takes about 4 s to import (typeguard instruments it),
about 0.1 ms a call, and reads "bus", "axis" and "radius" as plurals of "bu", "axi" and
"radiu"; the nouns of cues are short and the irregular ones few (BENCHMARKS.md).
"""

from __future__ import annotations

import re

from cuekit.schemas import CUE_WORDINGS

__all__ = [
    "CUE_WORDINGS",
    "LATEST_CUE_WORDING",
    "check_cue_wording",
    "count_phrase",
    "is_plural",
    "name_thing",
    "pluralize",
]

LATEST_CUE_WORDING = "v2"

# Irregular plurals of nouns a figure, chart or photo shows.
_IRREGULAR = {
    "person": "people",
    "child": "children",
    "man": "men",
    "woman": "women",
    "foot": "feet",
    "tooth": "teeth",
    "mouse": "mice",
    "goose": "geese",
    "die": "dice",
    "vertex": "vertices",
    "index": "indices",
    "matrix": "matrices",
    "radius": "radii",
    "axis": "axes",
    "leaf": "leaves",
    "knife": "knives",
    "shelf": "shelves",
    "half": "halves",
    "wolf": "wolves",
    "calf": "calves",
    "loaf": "loaves",
    "life": "lives",
    "wife": "wives",
    "datum": "data",
    "criterion": "criteria",
    "phenomenon": "phenomena",
    "ox": "oxen",
}
_IRREGULAR_PLURALS = frozenset(_IRREGULAR.values())
# Same in both numbers; read as singular (the name of one thing).
_UNCHANGED = frozenset("series species sheep fish deer aircraft".split())
# Singular nouns that end in "s".
_SINGULAR_S = re.compile(r"(?:ss|us|is|ous|ics|gas|lens|bus|canvas)$")
_ES_ENDING = re.compile(r"(?:s|x|z|ch|sh)$")
_LABEL = re.compile(r"[A-Z]{1,4}['′]?|[a-z]\d{0,2}|[A-Za-z]\d{1,2}|\d+")
_NUMBER = re.compile(r"\d+")


def check_cue_wording(wording: str) -> str:
    """``wording`` when it is a known version, else a ValueError naming the choices."""
    if wording not in CUE_WORDINGS:
        raise ValueError(
            f"unknown cue wording {wording!r}; choose one of: {', '.join(CUE_WORDINGS)}"
        )
    return wording


def _head(name: str) -> str:
    return name.split()[-1] if name.split() else ""


def is_plural(noun_phrase: str) -> bool:
    """Whether the last word of ``noun_phrase`` is a plural noun: "red circles" yes,
    "cross", "bus", "axis", "series" no, "people" yes."""
    word = _head(noun_phrase).lower()
    if word in _IRREGULAR_PLURALS:
        return True
    if word in _UNCHANGED or word in _IRREGULAR or len(word) < 3:
        return False
    return word.endswith("s") and not _SINGULAR_S.search(word)


def pluralize(noun_phrase: str) -> str:
    """``noun_phrase`` with its last word in the plural ("tallest bar" -> "tallest bars");
    unchanged when it is plural already."""
    if is_plural(noun_phrase):
        return noun_phrase
    words = noun_phrase.split()
    word = words[-1]
    lower = word.lower()
    if lower in _IRREGULAR:
        plural = word[0] + _IRREGULAR[lower][1:]
    elif lower in _UNCHANGED:
        plural = word
    elif _ES_ENDING.search(lower):
        plural = word + "es"
    elif re.search(r"[^aeiou]y$", lower):
        plural = word[:-1] + "ies"
    else:
        plural = word + "s"
    return " ".join([*words[:-1], plural])


def _is_proper(name: str) -> bool:
    """A name that takes no article: it ends in a label or is capitalised throughout."""
    words = name.split()
    if len(words) > 1 and _LABEL.fullmatch(words[-1]):
        return True  # "point A", "angle 1", "line l1"
    return all(w[:1].isupper() for w in words)  # "Web Green", "GDP", "A"


def _indefinite(name: str) -> str:
    # "an" before a vowel sound: "uni-", "use", "one" and "eu" start with a consonant
    # one, and a lone letter is said by its name ("an x axis", "a y axis").
    if re.match(r"[a-z]\b", name, re.IGNORECASE):
        vowel = name[0].lower() in "aefhilmnorsx"
    else:
        vowel = bool(re.match(r"[aeiou]", name, re.IGNORECASE)) and not re.match(
            r"(?:uni|use|usu|one|eu)", name, re.IGNORECASE
        )
    return f"{'an' if vowel else 'a'} {name}"


def name_thing(name: str, *, mentioned: bool = True) -> str:
    """``name`` with its article: "the red circle", "a star", "point A", "the digit 1"."""
    if name.startswith(("the ", "a ", "an ")) or name.startswith('"'):
        return name
    if _NUMBER.fullmatch(name):
        return f"the {'digit' if len(name) == 1 else 'number'} {name}"
    if _is_proper(name):
        return name
    if mentioned or is_plural(name):
        return f"the {name}"
    return _indefinite(name)


def count_phrase(count: int, name: str) -> str:
    """``count`` things called ``name``: "3 red circles"; a proper name keeps its own
    words and says the count after it ("triangle ABC, 2 found")."""
    if _is_proper(name):
        return f"{name}, {count} found"
    return f"{count} {pluralize(name)}"
