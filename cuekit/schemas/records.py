"""Typed, versioned records that flow between cuekit's stages.

Every record is a frozen pydantic model that forbids unknown fields, so a bad
record fails at construction with a message naming the field. The JSON Schema
printed by ``cuekit schema`` is generated from these classes, never written by hand.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SCHEMA_VERSION = "1.1"

# A WebDataset key may contain neither dots (the reader splits names at the first
# dot) nor path separators; whitespace and shell metacharacters are refused too.
SAFE_KEY_PATTERN = r"^[A-Za-z0-9_-]{1,200}$"
_SAFE_KEY_RE = re.compile(SAFE_KEY_PATTERN)

CueStyle = Literal["hint", "boxes", "marks"]
CUE_STYLES: tuple[str, ...] = ("hint", "boxes", "marks")
# Versions of the cue's words (cuekit.cues.wording); a model learns the words it saw.
CueWording = Literal["v1", "v2"]
CUE_WORDINGS: tuple[str, ...] = ("v1", "v2")


class Record(BaseModel):
    """Common settings: immutable, strict about unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class ImageRef(Record):
    """One image of a sample, stored content-addressed next to the records."""

    path: str = Field(description="Path of the image file, relative to the record's folder.")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="sha256 of the original bytes.")
    width: int = Field(gt=0, description="Width in pixels after EXIF orientation.")
    height: int = Field(gt=0, description="Height in pixels after EXIF orientation.")
    format: str = Field(description="Image format of the stored bytes, lowercase (png, jpeg...).")


class Sample(Record):
    """A validated VQA sample: one question about one or more images."""

    schema_version: str = SCHEMA_VERSION
    id: str = Field(pattern=SAFE_KEY_PATTERN, description="Safe id, usable as a WebDataset key.")
    original_id: str = Field(description="The id as the source gave it.")
    source: str = Field(min_length=1, description="Dataset the sample came from.")
    split: str = Field(min_length=1)
    question: str = Field(min_length=1)
    answer: str | None = None
    choices: list[str] | None = None
    # How the answer is judged, when the source says (MathVista's fields, for one).
    question_type: str | None = Field(
        default=None, description="e.g. multi_choice or free_form, as the source names it."
    )
    answer_type: str | None = Field(
        default=None, description="e.g. integer, float, text or list, as the source names it."
    )
    precision: int | None = Field(
        default=None, ge=0, description="Decimal places a float answer is compared at."
    )
    unit: str | None = Field(default=None, description="Unit of the answer, e.g. cm.")
    images: list[ImageRef] = Field(min_length=1)
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("question")
    @classmethod
    def _question_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("question is blank")
        return value

    def lead_columns(self) -> dict[str, str | None]:
        """The columns a table of samples starts with: id, source, split, question, answer."""
        return {
            "id": self.id,
            "source": self.source,
            "split": self.split,
            "question": self.question,
            "answer": self.answer,
        }


class Phrase(Record):
    """A query phrase and the span ``question[start:end]`` it was read from.

    The text is the span as a detector should read it: plain words as written, math
    notation spelled out (``$\\odot P$`` is read "circle P").
    """

    text: str = Field(min_length=1)
    start: int = Field(ge=0)
    end: int = Field(gt=0)

    @model_validator(mode="after")
    def _span_ordered(self) -> Phrase:
        if self.end <= self.start:
            raise ValueError(f"span end {self.end} must be greater than start {self.start}")
        return self


class Detection(Record):
    """A box found in one image, in two conventions.

    ``xyxy`` is absolute pixels on the original image; ``box_1000`` is the
    Qwen3-VL convention, integers in [0, 1000] relative to width and height.
    """

    label: str = Field(min_length=1, description="What the box shows (phrase or read text).")
    phrase_index: int | None = Field(
        default=None, ge=0, description="Index into the record's phrases, if grounded from one."
    )
    image_index: int = Field(default=0, ge=0)
    xyxy: tuple[float, float, float, float]
    box_1000: tuple[int, int, int, int]
    score: float = Field(ge=0.0, le=1.0)
    backend: str = Field(min_length=1)

    @field_validator("box_1000")
    @classmethod
    def _box_1000_in_range(cls, box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        if any(v < 0 or v > 1000 for v in box):
            raise ValueError(f"expected integers in [0, 1000], got {list(box)}")
        if box[2] < box[0] or box[3] < box[1]:
            raise ValueError(f"expected x1<=x2 and y1<=y2, got {list(box)}")
        return box

    @field_validator("xyxy")
    @classmethod
    def _xyxy_ordered(cls, box: tuple[float, float, float, float]) -> tuple[float, ...]:
        if box[2] < box[0] or box[3] < box[1]:
            raise ValueError(f"expected x1<=x2 and y1<=y2, got {list(box)}")
        return box


class ExtractorSettings(Record):
    """Provenance of a cue: which backends and settings produced it."""

    backends: list[str] = Field(min_length=1)
    models: dict[str, str] = Field(default_factory=dict, description="backend -> model id")
    box_threshold: float | None = None
    text_threshold: float | None = None
    nms_iou: float | None = None
    phrase_extractor: str = "rules"
    extra: dict[str, Any] = Field(default_factory=dict)


class CueRecord(Record):
    """The cue for one sample: what was grounded and the text the teacher reads."""

    schema_version: str = SCHEMA_VERSION
    sample_id: str = Field(pattern=SAFE_KEY_PATTERN)
    phrases: list[Phrase]
    detections: list[Detection]
    cue_text: str
    cue_style: CueStyle
    cue_wording: CueWording | None = Field(
        default=None,
        description="Version of the cue's wording (cuekit.cues.wording); None "
        "in records written before wordings had versions (v1).",
    )
    leak: bool = Field(description="True when the cue text contains the answer.")
    marked_image: str | None = Field(
        default=None, description="Path of the marked copy of the image (style 'marks')."
    )
    marked_image_index: int | None = Field(
        default=None,
        ge=0,
        description="Which of the sample's images the marked copy replaces for the teacher "
        "(None: image 0).",
    )
    settings: ExtractorSettings

    @model_validator(mode="after")
    def _phrase_indices_exist(self) -> CueRecord:
        for i, det in enumerate(self.detections):
            if det.phrase_index is not None and det.phrase_index >= len(self.phrases):
                raise ValueError(
                    f"detections[{i}].phrase_index is {det.phrase_index}, "
                    f"but there are only {len(self.phrases)} phrases"
                )
        return self


class ExtractedSample(Record):
    """One row of ``cues.parquet``: the sample together with its cue."""

    sample: Sample
    cue: CueRecord

    @model_validator(mode="after")
    def _ids_match(self) -> ExtractedSample:
        if self.cue.sample_id != self.sample.id:
            raise ValueError(
                f"cue.sample_id {self.cue.sample_id!r} differs from sample.id {self.sample.id!r}"
            )
        return self


class ErrorRow(Record):
    """One row of ``errors.parquet``: a sample that did not make it, and why."""

    sample_id: str
    original_id: str | None = None
    stage: str
    error_type: str
    field: str | None = None
    message: str


def is_safe_key(key: str) -> bool:
    return bool(_SAFE_KEY_RE.match(key))
