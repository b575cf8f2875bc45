"""Cues: question -> phrases, detections -> hint text (three styles), leak checks.

Pure functions over :mod:`cuekit.schemas` records; the only heavy import
(supervision, for the ``marks`` style) happens inside the renderer when needed.
"""

from cuekit.cues.layout import (
    POSITIONS,
    RELATIONS,
    box_gap,
    coarse_position,
    direction,
    is_inside,
    is_near,
    relation,
)
from cuekit.cues.leak import find_leak, is_leaky, parse_number
from cuekit.cues.phrases import (
    PhraseExtractor,
    RulePhraseExtractor,
    get_phrase_extractor,
    phrase_extractor_names,
    register_phrase_extractor,
)
from cuekit.cues.render import HINT_PREFIX, RenderedCue, describe_label, render_cue

__all__ = [
    "HINT_PREFIX",
    "POSITIONS",
    "RELATIONS",
    "PhraseExtractor",
    "RenderedCue",
    "RulePhraseExtractor",
    "box_gap",
    "coarse_position",
    "describe_label",
    "direction",
    "find_leak",
    "get_phrase_extractor",
    "is_inside",
    "is_leaky",
    "is_near",
    "parse_number",
    "phrase_extractor_names",
    "register_phrase_extractor",
    "relation",
    "render_cue",
]
