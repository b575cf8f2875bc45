"""Presets by schema: recognise a dataset by its columns and their types, never by its name.

A hub snapshot file is called ``train-00000-of-00001.parquet`` whatever it holds, so
the only reliable evidence is the schema. :func:`column_kinds` reduces a polars, pyarrow
or HF ``datasets`` schema (or a first JSON row) to coarse kinds, and :func:`detect_preset`
matches them against the known layouts (docs/method.md §3):

- **geometry3k** (``hiyouga/geometry3k``): ``problem`` (starts with ``<image>``),
  ``images`` (a list of ``{bytes, path}``), ``answer``; copies may add ``id`` and
  ``choices``.
- **mathvista** (``AI4Math/MathVista``): ``pid``, ``question``, ``decoded_image`` (the
  image; ``image`` is only a path string), ``choices``, ``precision``, ``unit``,
  ``question_type``, ``answer_type``.
- **mmmu** (MMMU layout): ``image_1`` … ``image_7``, ``options`` (a Python-literal list
  in a string), ``question_type``, ``<image 1>`` placeholders in the question.
- **generic**: the first present of common names for each part, preferring a column
  that holds image data over one that holds a path string.

:func:`map_image_placeholders` removes a dataset's own image placeholders from the
question: cuekit's chat template places the images itself, so a leftover ``<image>``
would be a second placeholder for one image (verl drops such rows).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Coarse column kinds; only what detection needs to tell apart. NULL: a JSON row's null
# (or an all-null column), which says nothing about the values later rows hold.
IMAGE, IMAGES, TEXT, TEXT_LIST, NUMBER, NULL, OTHER = (
    "image",
    "images",
    "text",
    "text_list",
    "number",
    "null",
    "other",
)


@dataclass(frozen=True)
class FieldMap:
    """Names of the row fields that hold each part of a sample (None: absent).

    ``extra_images`` are further single-image columns (MMMU's ``image_2`` …), appended
    after ``image`` when not null. ``name`` is the preset that produced the map.
    """

    question: str = "question"
    image: str = "image"
    answer: str | None = "answer"
    choices: str | None = "choices"
    id: str | None = "id"
    question_type: str | None = None
    answer_type: str | None = None
    precision: str | None = None
    unit: str | None = None
    extra_images: tuple[str, ...] = ()
    name: str = "generic"

    def mapped(self) -> set[str]:
        names = (
            self.question,
            self.image,
            self.answer,
            self.choices,
            self.id,
            self.question_type,
            self.answer_type,
            self.precision,
            self.unit,
            *self.extra_images,
        )
        return {f for f in names if f}


def _polars_kind(dtype: Any) -> str:
    import polars as pl

    if isinstance(dtype, pl.Struct):
        return IMAGE if "bytes" in {f.name for f in dtype.fields} else OTHER
    if isinstance(dtype, (pl.List, pl.Array)):
        inner = _polars_kind(dtype.inner)
        return {IMAGE: IMAGES, TEXT: TEXT_LIST}.get(inner, OTHER)
    if dtype == pl.Binary:
        return IMAGE
    if dtype == pl.String:
        return TEXT
    if dtype == pl.Null:
        return NULL
    return NUMBER if dtype.is_numeric() else OTHER


def _hf_kind(feature: Any) -> str:
    import datasets

    if isinstance(feature, datasets.Image):
        return IMAGE
    if isinstance(feature, (datasets.List, datasets.Sequence, datasets.LargeList)):
        inner = _hf_kind(feature.feature)
        return {IMAGE: IMAGES, TEXT: TEXT_LIST}.get(inner, OTHER)
    if isinstance(feature, datasets.Value):
        if feature.dtype in ("string", "large_string"):
            return TEXT
        if feature.dtype in ("binary", "large_binary"):
            return IMAGE
        if feature.dtype == "null":
            return NULL
        return NUMBER if feature.dtype != "bool" else OTHER
    if isinstance(feature, dict):
        return IMAGE if "bytes" in feature else OTHER
    return OTHER


def _value_kind(value: Any) -> str:
    """Kind of a row value (jsonl rows carry no schema; a string may be an image path;
    a streamed HF row may hold decoded PIL images)."""
    from PIL import Image

    if value is None:
        return NULL
    if isinstance(value, bool):
        return OTHER
    if isinstance(value, str):
        return TEXT
    if isinstance(value, (int, float)):
        return NUMBER
    if isinstance(value, (bytes, bytearray, Image.Image)) or (
        isinstance(value, dict) and "bytes" in value
    ):
        return IMAGE
    if isinstance(value, list) and value:
        inner = {_value_kind(v) for v in value}
        if inner == {TEXT}:
            return TEXT_LIST
        if inner == {IMAGE}:
            return IMAGES
    return OTHER


def column_kinds(schema: Any) -> dict[str, str]:
    """Column name -> kind for a polars schema, HF ``Features`` or one raw row (a dict)."""
    import polars as pl

    if isinstance(schema, pl.Schema):
        return {name: _polars_kind(dtype) for name, dtype in schema.items()}
    try:
        import datasets

        if isinstance(schema, datasets.Features):
            return {name: _hf_kind(feature) for name, feature in schema.items()}
    except ImportError:  # pragma: no cover - datasets is a dependency
        pass
    if isinstance(schema, Mapping):
        return {str(name): _value_kind(value) for name, value in schema.items()}
    raise TypeError(f"expected a polars Schema, HF Features or a row dict, got {type(schema)}")


def _first(
    kinds: Mapping[str, str], names: tuple[str, ...], allowed: tuple[str, ...]
) -> str | None:
    """The first column of ``names`` with an allowed kind; exact names first, then the
    same names in another case (``Question``, ``ID``)."""
    exact = next((n for n in names if kinds.get(n) in allowed), None)
    if exact is not None:
        return exact
    by_lower = {column.lower(): column for column in kinds}
    return next(
        (by_lower[n] for n in names if n in by_lower and kinds[by_lower[n]] in allowed), None
    )


def _present(kinds: Mapping[str, str], name: str) -> str | None:
    """``name`` when the source has that column (an optional field), else None."""
    return name if name in kinds else None


_MMMU_IMAGES = tuple(f"image_{i}" for i in range(1, 8))


def _geometry3k(kinds: Mapping[str, str]) -> FieldMap | None:
    if kinds.get("problem") != TEXT or kinds.get("images") != IMAGES or "answer" not in kinds:
        return None
    return FieldMap(
        question="problem",
        image="images",
        answer="answer",
        choices="choices" if kinds.get("choices") in (TEXT_LIST, NULL) else None,
        id=_present(kinds, "id"),
        name="geometry3k",
    )


def _mathvista(kinds: Mapping[str, str]) -> FieldMap | None:
    needed = ("pid", "question", "decoded_image", "question_type", "answer_type")
    if any(name not in kinds for name in needed) or kinds["decoded_image"] not in (IMAGE, NULL):
        return None
    return FieldMap(
        question="question",
        image="decoded_image",
        answer="answer",
        choices="choices",
        id="pid",
        question_type="question_type",
        answer_type="answer_type",
        precision=_present(kinds, "precision"),
        unit=_present(kinds, "unit"),
        name="mathvista",
    )


def _mmmu(kinds: Mapping[str, str]) -> FieldMap | None:
    if kinds.get("image_1") != IMAGE or "question" not in kinds or "options" not in kinds:
        return None
    extra = tuple(n for n in _MMMU_IMAGES[1:] if kinds.get(n) == IMAGE)
    return FieldMap(
        question="question",
        image="image_1",
        answer="answer",
        choices="options",
        id=_present(kinds, "id"),
        question_type=_present(kinds, "question_type"),
        extra_images=extra,
        name="mmmu",
    )


def _generic(kinds: Mapping[str, str]) -> FieldMap:
    # Image data beats a path string: MathVista-like copies carry both.
    image = (
        _first(kinds, ("images", "image", "decoded_image", "img"), (IMAGES, IMAGE))
        or _first(kinds, ("image", "images", "image_path", "img", "file_name"), (TEXT, TEXT_LIST))
        or "image"
    )

    def optional(names: tuple[str, ...], *allowed: str) -> str | None:
        # A null in the first row may hold a value in later ones: map it all the same.
        return _first(kinds, names, (*allowed, NULL))

    return FieldMap(
        question=_first(kinds, ("question", "problem", "query", "prompt"), (TEXT,)) or "question",
        image=image,
        answer=optional(
            ("answer", "ground_truth", "solution", "label", "correct_choice_idx"),
            TEXT,
            NUMBER,
            TEXT_LIST,
        ),
        choices=optional(("choices", "options"), TEXT_LIST, TEXT),
        id=optional(
            ("id", "pid", "question_id", "qid", "sample_id", "sample_index", "index"), TEXT, NUMBER
        ),
        question_type=optional(("question_type",), TEXT),
        answer_type=optional(("answer_type",), TEXT),
        precision=optional(("precision",), NUMBER),
        unit=optional(("unit",), TEXT),
    )


def detect_preset(kinds: Mapping[str, str]) -> FieldMap:
    """The field map for a schema: the first specific preset that matches, else generic."""
    for matcher in (_mathvista, _geometry3k, _mmmu):
        found = matcher(kinds)
        if found is not None:
            return found
    return _generic(kinds)


# <image>, <image1>, <image 1>, <image_1>, <img>, <|image|>, case-insensitive.
_PLACEHOLDER = re.compile(r"<\|?\s*(?:image|img)(?:[\s_-]*(\d+))?\s*\|?>", re.IGNORECASE)
# A chat template's own vision tokens copied into the text (data exported from a Qwen
# pipeline): the processor would count them as image slots, so they go, wherever they are.
_VISION_TOKENS = re.compile(r"<\|(?:vision_start|vision_end|vision_pad|image_pad|video_pad)\|>")


def map_image_placeholders(question: str) -> str:
    """The question without the dataset's image placeholders.

    A placeholder after some text is a reference and becomes words (``"in <image 2>"``:
    ``"in image 2"``; ``"in <image>"``: ``"in the image"``); one that starts a line only
    marks where the image went and is removed. The chat template places the images, one
    placeholder per image.
    """

    def line_without(line: str) -> str:
        def replace(match: re.Match[str]) -> str:
            # At the start of a line it only says where the image went; inside text it is
            # a reference ("compare <image 1> and <image 2>", "in <image>, find x").
            if not line[: match.start()].strip():
                return ""
            return _reference(match)

        return re.sub(r"[ \t]{2,}", " ", _PLACEHOLDER.sub(replace, line)).strip()

    lines = [line_without(line) for line in _VISION_TOKENS.sub("", question).splitlines()]
    return "\n".join(lines).strip()


def _reference(match: re.Match[str]) -> str:
    return f"image {int(match.group(1))}" if match.group(1) else "the image"


def map_choice_placeholders(choice: str) -> str:
    """A multiple-choice option with its image placeholders as words: an option is often
    only a reference (MMMU: ``"<image 2>"`` becomes ``"image 2"``), never a place."""
    choice = _VISION_TOKENS.sub("", choice)
    return re.sub(r"[ \t]{2,}", " ", _PLACEHOLDER.sub(_reference, choice)).strip()
