"""Turn raw source rows into validated samples with decoded, stored images."""

from __future__ import annotations

import ast
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from cuekit.datasets.presets import map_choice_placeholders, map_image_placeholders
from cuekit.datasets.sources import RawSample, RowError
from cuekit.errors import OutputError, SampleError
from cuekit.pipelines.extract.images import load_image, store_image
from cuekit.schemas import ErrorRow, Sample, safe_key, validate


@dataclass
class Prepared:
    """A sample whose images are decoded and stored, ready for detection."""

    row_index: int
    sample: Sample
    images: list[Image.Image]


@dataclass
class Failed:
    """A row that ends in the errors table, with its position in the source."""

    row_index: int
    error: ErrorRow


@dataclass
class Halted:
    """The output failed in a worker process; the main process re-raises ``error``.

    (DataLoader re-raises a worker's exception as its type built from a traceback text,
    which an OutputError cannot be; this carries it as data instead.)
    """

    error: OutputError


def halt_on_output_error(
    items: Iterator[Prepared | Failed],
) -> Iterator[Prepared | Failed | Halted]:
    """Worker side: pass items on; an OutputError becomes a final Halted item."""
    try:
        yield from items
    except OutputError as exc:
        yield Halted(exc)


def error_row(
    exc: BaseException, *, sample_id: str, original_id: str | None, stage: str | None = None
) -> ErrorRow:
    if isinstance(exc, SampleError):
        return ErrorRow(
            sample_id=sample_id,
            original_id=original_id,
            stage=stage or exc.stage,
            error_type=type(exc).__name__,
            field=exc.field,
            message=exc.reason,
        )
    return ErrorRow(
        sample_id=sample_id,
        original_id=original_id,
        stage=stage or "unknown",
        error_type=type(exc).__name__,
        field=None,
        message=str(exc) or repr(exc),
    )


def _text(value: Any, field_name: str, sample_id: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)
    raise SampleError(
        f"expected text, got {type(value).__name__}",
        sample_id=sample_id,
        field=field_name,
        stage="validate",
    )


def _choices(value: Any, sample_id: str) -> list[str] | None:
    """A list of option texts; MMMU stores its options as a Python-literal string."""
    if isinstance(value, str):
        try:
            value = ast.literal_eval(value) if value.strip() else None
        except (ValueError, SyntaxError):
            raise SampleError(
                f"expected a list of options, got the string {value[:60]!r}",
                sample_id=sample_id,
                field="choices",
                stage="validate",
            ) from None
    if value is None:
        return None
    if not isinstance(value, (list, tuple)):
        raise SampleError(
            f"expected a list, got {type(value).__name__}",
            sample_id=sample_id,
            field="choices",
            stage="validate",
        )
    # An option may be an image reference (MMMU: "<image 2>"): keep it as words, never as
    # a second placeholder for the chat template to count.
    return [
        map_choice_placeholders(_text(c, f"choices[{i}]", sample_id) or "")
        for i, c in enumerate(value)
    ] or None


def _answer(value: Any, choices: list[str] | None, sample_id: str) -> tuple[str | None, int | None]:
    """The gold answer as text, and the option index when the source gave one.

    Sources spell answers differently: ChartQA wraps its one answer in a list
    (``label: ["14"]``), ScienceQA gives the position of the right option (``answer: 0``)
    while the judge compares against option text or its letter. An integer that is not
    itself one of the options but indexes them is that option.
    """
    if isinstance(value, (list, tuple)):
        if len(value) > 1:
            raise SampleError(
                f"expected one answer, got a list of {len(value)} ({list(value)[:3]!r})",
                sample_id=sample_id,
                field="answer",
                stage="validate",
            )
        value = value[0] if value else None
    text = _text(value, "answer", sample_id)
    if (
        isinstance(value, int)
        and not isinstance(value, bool)
        and choices
        and text not in choices
        and 0 <= value < len(choices)
    ):
        return choices[value], value
    return text, None


def _precision(value: Any, sample_id: str) -> int | None:
    """Decimal places; MathVista stores them as floats (1.0, 2.0) or null."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or value < 0
        or int(value) != value
    ):
        raise SampleError(
            f"expected a whole number of decimal places, got {value!r}",
            sample_id=sample_id,
            field="precision",
            stage="validate",
        )
    return int(value)


def _judging_fields(raw: RawSample, sample_id: str) -> dict[str, Any]:
    """question_type, answer_type, precision and unit, as the source gives them."""
    fields = {
        name: _text(getattr(raw, name), name, sample_id)
        for name in ("question_type", "answer_type", "unit")
    }
    fields = {k: v for k, v in fields.items() if v is not None and v.strip()}
    return {**fields, "precision": _precision(raw.precision, sample_id)}


def prepare_sample(raw: RawSample, root: Path, max_pixels: int) -> Prepared:
    """Validate a raw row, decode and store its images, and build the Sample.

    The dataset's own image placeholders are taken out of the question
    (:func:`~cuekit.datasets.presets.map_image_placeholders`): the prompt builder puts
    exactly one per image.
    """
    sample_id = safe_key(raw.original_id)
    question = _text(raw.question, "question", sample_id)
    if question is not None:
        question = map_image_placeholders(question)
    if question is None or not question.strip():
        raise SampleError(
            "question is empty", sample_id=sample_id, field="question", stage="validate"
        )
    if not raw.images:
        raise SampleError(
            "sample has no image", sample_id=sample_id, field="images", stage="validate"
        )
    choices = _choices(raw.choices, sample_id)
    answer, answer_index = _answer(raw.answer, choices, sample_id)
    judging = _judging_fields(raw, sample_id)
    loaded = [
        load_image(p, index=i, sample_id=sample_id, base_dir=raw.base_dir, max_pixels=max_pixels)
        for i, p in enumerate(raw.images)
    ]
    metadata = dict(raw.metadata)
    if answer_index is not None:
        metadata.setdefault("answer_index", answer_index)  # the source's own gold, kept
    if raw.preset != "generic":
        metadata.setdefault("cuekit_preset", raw.preset)  # the schema the row matched
    notes = {str(i): img.normalised for i, img in enumerate(loaded) if img.normalised}
    if notes:
        metadata["image_normalised"] = notes
    sample = validate(
        Sample,
        {
            "id": sample_id,
            "original_id": raw.original_id,
            "source": raw.source,
            "split": raw.split,
            "question": question,
            "answer": answer,
            "choices": choices,
            **judging,
            "images": [img.ref for img in loaded],
            "metadata": metadata,
        },
        sample_id=sample_id,
    )
    for img in loaded:
        store_image(root, img)
    return Prepared(row_index=raw.row_index, sample=sample, images=[i.image for i in loaded])


def prepare_stage(
    rows: Iterable[RawSample | RowError], root: Path, max_pixels: int
) -> Iterator[Prepared | Failed]:
    """Decode and validate each row; bad rows become Failed items, never exceptions.

    Only a failure to write the output (OutputError) propagates: it is not the row's fault.
    """
    for item in rows:
        if isinstance(item, RowError):
            yield Failed(
                item.row_index,
                error_row(
                    item.error, sample_id=safe_key(item.original_id), original_id=item.original_id
                ),
            )
            continue
        try:
            yield prepare_sample(item, root, max_pixels)
        except SampleError as exc:
            yield Failed(
                item.row_index,
                error_row(exc, sample_id=safe_key(item.original_id), original_id=item.original_id),
            )
        except (OSError, ValueError, MemoryError) as exc:
            yield Failed(
                item.row_index,
                error_row(
                    exc,
                    sample_id=safe_key(item.original_id),
                    original_id=item.original_id,
                    stage="decode",
                ),
            )
