"""Detections -> the cue block the teacher reads, ``"[Hint]: ..."``.

Three styles (``cuekit.schemas.CUE_STYLES``):

* ``hint``: natural language with coarse positions and relations and no
  coordinates, e.g. ``[Hint]: The image shows point A (top left), point B (bottom
  right) and the label "4" near segment AB. Point A is left of point B.``
* ``boxes``: the same, plus each item's 0-1000 box ``at [x1, y1, x2, y2]``.
* ``marks``: a copy of one image with numbered boxes drawn on it, and text that refers
  to the numbers (``mark 1 is point A (top left)``).

Wording rules (deterministic). The words themselves have versions
(:mod:`cuekit.cues.wording`, ``wording=``): ``v2``, the default, names things with
articles and agreement ("the red circle", "a star", "the digit 1", "3 red circles");
``v1`` is the earlier bare-noun wording that the shipped CueWorld models learnt. The
examples below are ``v1``'s; the rules are the same in both.

* **Items.** Detections are grouped per (image, phrase); each group is named by its
  phrase ("AB" becomes "segment AB", "A" becomes "point A") and placed by its
  best-scoring box. A group of several says how many were found only when the question
  is about quantities ("how many", "more ... than"): elsewhere a count of detector boxes
  is not evidence, only length. Detections with no phrase (OCR text, unmatched
  annotations) are grouped per (image, label), named ``the label "4"`` when read by OCR
  or without letters (``the text "..."`` for a read line of several words), and placed
  relative to the nearest phrase item: ``the label "4" on segment AB`` (inside its box)
  or ``near segment AB``, or by position when no phrase item is near. Phrase items come
  first, then labels the question mentions, then other labels by score; at most
  ``max_items`` items in all.
* **Budget.** A cue has at most ``max_cue_tokens`` tokens (:func:`cue_tokens`): when the
  text is longer, relations go first, then items from the least relevant end.
* **Agreement.** A relation's verb follows the number of its subject's noun ("point A
  is", "red circles are"), never the number of boxes found.
* **Relations.** Consecutive phrase items of one image are related ("Point A is left
  of point B", "Point B is inside triangle ABC"), at most three per image.
* **Images.** A one-image sample says "The image shows ..."; a multi-image sample
  says "In image 2, note ..." per image (1-based), or "In the second image" when the
  number is the answer.
* **Not found.** Phrases without detections are not mentioned: a detector miss is not
  evidence of absence, and "there is no X" would mislead the teacher.
* **No cue.** With nothing left to say the text is ``""`` (and no marked image), so
  the pipeline can tell "no cue" from a cue.
* **Marks.** Only the first image that has items is marked (one box per item, its
  best one); items of other images are described as in ``hint``. Mark numbers count
  from 1 but skip any number that would give away the answer.

No style leaks the answer (``sample.answer`` / ``sample.choices``, see
:mod:`cuekit.cues.leak`). Three guards apply in turn: detections whose label leaks are
dropped; each clause falls back to a plainer form (no count, no coordinates, no
position) or is dropped when even the bare name leaks; and if the assembled text
still leaks (through the template words), the cue is empty.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from cuekit.cues.layout import box_gap, coarse_position, is_inside, is_near, relation
from cuekit.cues.leak import find_leak
from cuekit.cues.phrases import STOPWORDS
from cuekit.cues.wording import (
    LATEST_CUE_WORDING,
    check_cue_wording,
    count_phrase,
    is_plural,
    name_thing,
)
from cuekit.schemas import CUE_STYLES, Detection, Phrase, Sample

if TYPE_CHECKING:
    from PIL import Image

__all__ = [
    "DEFAULT_MAX_CUE_TOKENS",
    "HINT_PREFIX",
    "RenderedCue",
    "cue_tokens",
    "describe_label",
    "render_cue",
]

HINT_PREFIX = "[Hint]: "
_MAX_RELATIONS_PER_IMAGE = 3
# Chosen on benchmarks/cue_quality.py (BENCHMARKS.md): above every CueWorld cue (49),
# so it trims only the long tail of detector-heavy cues.
DEFAULT_MAX_CUE_TOKENS = 64
_CUE_TOKEN = re.compile(r"\w+|[^\w\s]")
# A question about quantities, where the number of things found is evidence.
_QUANTITY = re.compile(
    r"\b(?:how many|number of|count|fewer|more\b[^?.]*\bthan|as many)\b", re.IGNORECASE
)
_WORD = re.compile(r"[^\W_]+")
_PLURAL = re.compile(r"[^sui]s$")  # "circles", not "cross", "bus", "axis"


@lru_cache(maxsize=4096)
def _content_words(text: str) -> frozenset[str]:
    """Words that can tie a label to a question: "17", "markers"; not "the", "is"."""
    words = {w.casefold() for w in _WORD.findall(text)}
    return frozenset(w for w in words if w not in STOPWORDS and (len(w) > 2 or w.isdigit()))


def cue_tokens(text: str) -> int:
    """Words and punctuation marks: close to a BPE tokenizer's count for English cues,
    with no tokenizer to load."""
    return len(_CUE_TOKEN.findall(text))


@dataclass(frozen=True)
class RenderedCue:
    """The cue text (``""`` when there is no cue) and, for ``marks``, the marked image.

    ``dropped_items`` and ``dropped_relations`` count what the token budget left out."""

    text: str
    marked_image: Image.Image | None = None
    marked_image_index: int | None = None
    dropped_items: int = 0
    dropped_relations: int = 0

    @property
    def is_empty(self) -> bool:
        return not self.text


@dataclass(frozen=True)
class _Item:
    """One thing the cue names: a phrase (or label) group in one image."""

    name: str
    best: Detection
    count: int
    is_phrase: bool
    noun: str = ""  # v2: the name without its article, for counts ("3 red circles")


def describe_label(text: str) -> str:
    """How the cue names a phrase: bare point labels get their kind spelled out."""
    if re.fullmatch(r"[A-Z]", text):
        return f"point {text}"
    if re.fullmatch(r"[A-Z]{2}", text):
        return f"segment {text}"
    if re.fullmatch(r"[a-z]", text):
        return f'the label "{text}"'
    return text


def _best_first(dets: Sequence[Detection]) -> list[Detection]:
    return sorted(dets, key=lambda d: (-d.score, d.image_index, d.xyxy, d.label))


def _name(noun: str, wording: str, *, mentioned: bool = True) -> str:
    return noun if wording == "v1" else name_thing(noun, mentioned=mentioned)


def _group(
    detections: Sequence[Detection],
    phrases: Sequence[Phrase],
    max_items: int,
    question: str = "",
    wording: str = LATEST_CUE_WORDING,
) -> list[_Item]:
    """Phrase groups in phrase order, then label groups (those the question mentions
    first, each by score); ``max_items`` at most."""
    by_phrase: dict[tuple[int, int], list[Detection]] = {}
    by_label: dict[tuple[int, str], list[Detection]] = {}
    for det in detections:
        if det.phrase_index is not None:
            by_phrase.setdefault((det.image_index, det.phrase_index), []).append(det)
        else:
            by_label.setdefault((det.image_index, det.label.casefold()), []).append(det)
    asked = _content_words(question)
    items = [
        _Item(_name(noun, wording), _best_first(g)[0], len(g), True, noun)
        for (_, p), g in sorted(by_phrase.items(), key=lambda kv: (kv[0][1], kv[0][0]))
        for noun in [describe_label(phrases[p].text)]
    ]
    label_items = []
    for group in by_label.values():
        best = _best_first(group)[0]
        # Read text, and any label without letters ("35°"), is quoted as a label
        # (v2: a bare number is a digit or a number, "the digit 1").
        is_text = best.backend == "ocr" or not re.search(r"[^\W\d_]", best.label)
        kind = "text" if is_text and len(best.label.split()) > 2 else "label"
        if is_text and not (wording != "v1" and best.label.isdigit()):
            name = noun = f'the {kind} "{best.label}"'
        else:
            noun = best.label if is_text else describe_label(best.label)
            name = _name(noun, wording, mentioned=bool(_content_words(best.label) & asked))
        label_items.append(_Item(name, best, len(group), False, noun))
    label_items.sort(
        key=lambda it: (
            -len(_content_words(it.best.label) & asked),
            -it.best.score,
            it.best.image_index,
            it.name,
        )
    )
    return (items + label_items)[:max_items]


def _join(parts: Sequence[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def _capitalize(text: str) -> str:
    return text[:1].upper() + text[1:]


def _verb(item: _Item, wording: str) -> str:
    """The noun decides, not the number of boxes: "pet is", "red circles are"."""
    if wording == "v1":
        plural = _PLURAL.search(item.name.split()[-1]) is not None
    else:
        plural = is_plural(item.noun)
    return "are" if plural else "is"


class _Writer:
    """Clause wording for one sample; every clause is checked against the answer."""

    def __init__(self, sample: Sample, style: str, wording: str = LATEST_CUE_WORDING) -> None:
        self.sample = sample
        self.style = style
        self.wording = wording
        self.counts_are_evidence = _QUANTITY.search(sample.question) is not None

    def leaks(self, text: str) -> bool:
        return find_leak(text, self.sample.answer, self.sample.choices) is not None

    def first_safe(self, variants: Sequence[str]) -> str | None:
        return next((v for v in variants if not self.leaks(v)), None)

    def size(self, image_index: int) -> tuple[int, int]:
        ref = self.sample.images[image_index]
        return ref.width, ref.height

    def item_clause(self, item: _Item, anchors: Sequence[_Item]) -> str | None:
        """``point A (top left)``; falls back to plainer forms when a part leaks."""
        width, height = self.size(item.best.image_index)
        where = coarse_position(item.best.xyxy, width, height)
        place = f"({where})"
        name = item.name
        if item.count > 1 and self.counts_are_evidence:
            if self.wording == "v1":
                place = f"({item.count} found, the clearest at {where})"
            else:  # "3 red circles (the clearest at top left)"
                name = count_phrase(item.count, item.noun)
                place = f"(the clearest at {where})"
        if not item.is_phrase:
            anchor = _nearest(item, anchors)
            if anchor is not None and is_inside(item.best.xyxy, anchor.best.xyxy):
                place = f"on {anchor.name}"
            elif anchor is not None and is_near(item.best.xyxy, anchor.best.xyxy, width, height):
                place = f"near {anchor.name}"
            elif anchors:
                # The question's own phrases were found, and this label is near none of
                # them: it is not query-related evidence, only length for the teacher.
                return None
        coords = ""
        if self.style == "boxes":
            coords = " at [{}, {}, {}, {}]".format(*item.best.box_1000)
        plain_place = f"({where})" if place.startswith("(") else place
        variants = [
            f"{name}{coords} {place}",
            f"{item.name}{coords} {plain_place}",
            f"{item.name} {plain_place}",
            f"{item.name}{coords}",
            item.name,
        ]
        return self.first_safe(variants)

    def relations(self, items: Sequence[_Item]) -> list[str]:
        """Relation clauses ("point A is left of point B") between consecutive phrase
        items of one image."""
        phrase_items = [it for it in items if it.is_phrase]
        sentences = []
        for a, b in zip(phrase_items, phrase_items[1:], strict=False):
            width, height = self.size(a.best.image_index)
            rel = relation(a.best.xyxy, b.best.xyxy, width, height)
            if rel is None:
                continue
            if is_inside(b.best.xyxy, a.best.xyxy):
                a, b, rel = b, a, "inside"
            clause = f"{a.name} {_verb(a, self.wording)} {rel} {b.name}"
            if not self.leaks(clause):
                sentences.append(clause)
            if len(sentences) == _MAX_RELATIONS_PER_IMAGE:
                break
        return sentences


_ORDINALS = (
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
)


def _image_name(image_index: int, writer: _Writer) -> str:
    """ "image 2", or "the second image" when the number 2 would give the answer away."""
    name = f"image {image_index + 1}"
    if writer.leaks(name) and image_index < len(_ORDINALS):
        return f"the {_ORDINALS[image_index]} image"
    return name


def _nearest(item: _Item, anchors: Sequence[_Item]) -> _Item | None:
    """The phrase item of the same image closest to ``item`` (first one on ties)."""
    same_image = [a for a in anchors if a.best.image_index == item.best.image_index]
    if not same_image:
        return None
    return min(same_image, key=lambda a: box_gap(item.best.xyxy, a.best.xyxy))


def _mark_numbers(count: int, writer: _Writer) -> list[int]:
    """``count`` mark numbers from 1 up, skipping any that would leak the answer."""
    numbers: list[int] = []
    candidate = 1
    while len(numbers) < count:
        if not writer.leaks(f"mark {candidate}"):
            numbers.append(candidate)
        candidate += 1
    return numbers


def _draw_marks(image: Image.Image, items: Sequence[_Item], numbers: Sequence[int]) -> Image.Image:
    """A copy of ``image`` with each item's best box and its mark number drawn on it."""
    import cv2
    import numpy as np
    import supervision as sv

    canvas = image.copy().convert("RGB")  # never draw on the caller's image
    short_side = min(canvas.size)
    thickness = max(1, round(short_side / 300))
    text_scale = max(0.4, short_side / 900)
    padding = max(2, round(short_side / 150))
    tag_height = cv2.getTextSize("0", cv2.FONT_HERSHEY_SIMPLEX, text_scale, 1)[0][1] + 2 * padding
    xyxy = np.array([it.best.xyxy for it in items], dtype=np.float32)  # (N, 4)
    detections = sv.Detections(
        xyxy=xyxy,
        confidence=np.array([it.best.score for it in items], dtype=np.float32),
        class_id=np.arange(len(items)),
        data={"class_name": np.array([it.name for it in items])},
    )
    canvas = sv.BoxAnnotator(thickness=thickness).annotate(canvas, detections)
    # Number tags sit just above their box, or below it when there is no room above.
    above = xyxy[:, 1] >= tag_height
    for position, keep in ((sv.Position.TOP_LEFT, above), (sv.Position.BOTTOM_LEFT, ~above)):
        if keep.any():
            annotator = sv.LabelAnnotator(
                text_position=position, text_scale=text_scale, text_padding=padding
            )
            labels = [str(n) for n, k in zip(numbers, keep, strict=True) if k]
            # supervision types __getitem__ for every index kind; a mask gives Detections.
            canvas = annotator.annotate(
                canvas,
                detections[keep],  # type: ignore[arg-type]
                labels=labels,
            )
    return canvas


@dataclass(frozen=True)
class _Composed:
    """A cue text with its marked items, their numbers and image, and how many relation
    sentences it holds."""

    text: str
    marked_items: list[_Item]
    numbers: list[int]
    marked_index: int | None
    relations: int


def _compose(
    items: Sequence[_Item], writer: _Writer, style: str, with_relations: bool
) -> _Composed:
    """The cue text for ``items``; with the marked items, their numbers and image."""
    image_indices = sorted({it.best.image_index for it in items})
    marked_index = image_indices[0] if style == "marks" and image_indices else None
    multi_image = len(writer.sample.images) > 1

    sentences: list[str] = []
    marked_items: list[_Item] = []
    numbers: list[int] = []
    relations = 0
    for image_index in image_indices:
        in_image = [it for it in items if it.best.image_index == image_index]
        anchors = [it for it in in_image if it.is_phrase]
        written = [(it, writer.item_clause(it, anchors)) for it in in_image]
        clauses = [(it, c) for it, c in written if c is not None]  # guard 2
        if not clauses:
            continue
        if image_index == marked_index:
            marked_items = [it for it, _ in clauses]
            numbers = _mark_numbers(len(marked_items), writer)
            where = _image_name(image_index, writer) if multi_image else "the image"
            marks = [f"mark {n} is {c}" for n, (_, c) in zip(numbers, clauses, strict=True)]
            sentences.append(f"Numbered marks are drawn on {where}: {_join(marks)}.")
        elif multi_image:
            sentences.append(
                f"In {_image_name(image_index, writer)}, note {_join([c for _, c in clauses])}."
            )
        else:
            sentences.append(f"The image shows {_join([c for _, c in clauses])}.")
        if not with_relations:
            continue
        for rel in writer.relations([it for it, _ in clauses]):
            relations += 1
            sentences.append(
                f"In {_image_name(image_index, writer)}, {rel}."
                if multi_image
                else f"{_capitalize(rel)}."
            )

    text = HINT_PREFIX + " ".join(sentences) if sentences else ""
    if text and writer.leaks(text):  # guard 3: the template words themselves
        text = ""
    return _Composed(text, marked_items, numbers, marked_index, relations)


def _fit(
    items: Sequence[_Item], writer: _Writer, style: str, max_cue_tokens: int | None
) -> tuple[_Composed, int, int]:
    """The fullest composition within the budget, with the numbers of items and of
    relation sentences the budget left out. Items come most relevant first, so
    relations are dropped first, then items from the end."""
    full_relations = None
    for count in range(len(items), 0, -1):
        for with_relations in (True, False):
            composed = _compose(items[:count], writer, style, with_relations)
            if full_relations is None:
                full_relations = composed.relations
            if max_cue_tokens is None or cue_tokens(composed.text) <= max_cue_tokens:
                return composed, len(items) - count, full_relations - composed.relations
    return _Composed("", [], [], None, 0), len(items), full_relations or 0


def render_cue(
    sample: Sample,
    phrases: Sequence[Phrase],
    detections: Sequence[Detection],
    style: str = "hint",
    images: Sequence[Image.Image] | None = None,
    *,
    max_items: int = 12,
    max_cue_tokens: int | None = DEFAULT_MAX_CUE_TOKENS,
    wording: str = LATEST_CUE_WORDING,
) -> RenderedCue:
    """Render the cue for ``sample``; see the module docstring for the wording rules.

    ``max_cue_tokens=None`` lifts the budget; ``wording`` is a version of
    :data:`cuekit.schemas.CUE_WORDINGS`.
    """
    check_cue_wording(wording)
    if style not in CUE_STYLES:
        raise ValueError(f"unknown cue style {style!r}; choose one of: {', '.join(CUE_STYLES)}")
    if max_items < 1:
        raise ValueError(f"max_items must be at least 1, got {max_items}")
    if max_cue_tokens is not None and max_cue_tokens < 1:
        raise ValueError(f"max_cue_tokens must be at least 1 or None, got {max_cue_tokens}")
    for i, det in enumerate(detections):
        if det.image_index >= len(sample.images):
            raise ValueError(
                f"detections[{i}].image_index is {det.image_index}, but sample "
                f"{sample.id!r} has {len(sample.images)} image(s)"
            )
        if det.phrase_index is not None and det.phrase_index >= len(phrases):
            raise ValueError(
                f"detections[{i}].phrase_index is {det.phrase_index}, but there "
                f"are only {len(phrases)} phrases"
            )

    writer = _Writer(sample, style, wording)
    # Guard 1: a detection whose label is the answer (OCR read "5") is never described.
    # Nor are its unmatched siblings (same image and backend): listing every label but
    # one would tell the answer by omission ("the digit the hint leaves out").
    silenced = {
        (d.image_index, d.backend)
        for d in detections
        if d.phrase_index is None and writer.leaks(d.label)
    }
    kept = [
        d
        for d in detections
        if not writer.leaks(d.label)
        and not (d.phrase_index is None and (d.image_index, d.backend) in silenced)
    ]
    items = _group(kept, phrases, max_items, sample.question, wording)
    composed, dropped_items, dropped_relations = _fit(items, writer, style, max_cue_tokens)
    text, marked_items, marked_index = composed.text, composed.marked_items, composed.marked_index
    if not text or not marked_items or marked_index is None:  # marked items: an image too
        return RenderedCue(
            text=text, dropped_items=dropped_items, dropped_relations=dropped_relations
        )
    if images is None or len(images) <= marked_index:
        raise ValueError(f"cue style 'marks' needs the images of sample {sample.id!r}")
    image = images[marked_index]
    expected = writer.size(marked_index)
    if image.size != expected:
        raise ValueError(
            f"image {marked_index} of sample {sample.id!r} is {image.size[0]}x"
            f"{image.size[1]}, but its ImageRef says {expected[0]}x{expected[1]}"
        )
    return RenderedCue(
        text,
        _draw_marks(image, marked_items, composed.numbers),
        marked_index,
        dropped_items,
        dropped_relations,
    )
