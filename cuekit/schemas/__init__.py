"""cuekit's data contracts: typed records, run outputs, safe keys and tar member names, box
conventions, JSON Schema."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from cuekit.errors import SampleError
from cuekit.schemas.boxes import clip_xyxy, xyxy_from_1000, xyxy_to_1000
from cuekit.schemas.keys import (
    HINT_MEMBER,
    JSON_MEMBER,
    KEY_FIELD,
    MARKED_MEMBER,
    URL_FIELD,
    image_member,
    member_name,
    member_suffix,
    safe_key,
)
from cuekit.schemas.records import (
    CUE_STYLES,
    CUE_WORDINGS,
    SCHEMA_VERSION,
    CueRecord,
    CueStyle,
    CueWording,
    Detection,
    ErrorRow,
    ExtractedSample,
    ExtractorSettings,
    ImageRef,
    Phrase,
    Sample,
    is_safe_key,
)
from cuekit.schemas.runs import (
    EvalMetrics,
    ManifestRow,
    SampleStats,
    ShardResult,
    StageCounts,
    StepMetrics,
)

__all__ = [
    "CUE_STYLES",
    "CUE_WORDINGS",
    "HINT_MEMBER",
    "JSON_MEMBER",
    "KEY_FIELD",
    "MARKED_MEMBER",
    "URL_FIELD",
    "SCHEMA_VERSION",
    "CueRecord",
    "CueStyle",
    "CueWording",
    "Detection",
    "ErrorRow",
    "EvalMetrics",
    "ExtractedSample",
    "ExtractorSettings",
    "ImageRef",
    "ManifestRow",
    "Phrase",
    "Sample",
    "SampleStats",
    "ShardResult",
    "StageCounts",
    "StepMetrics",
    "clip_xyxy",
    "image_member",
    "is_safe_key",
    "json_schema",
    "member_name",
    "member_suffix",
    "safe_key",
    "validate",
    "xyxy_from_1000",
    "xyxy_to_1000",
]

RecordT = TypeVar("RecordT", bound=BaseModel)


def validate(cls: type[RecordT], data: Any, *, sample_id: str | None = None) -> RecordT:
    """Build ``cls`` from ``data``; a failure becomes a SampleError naming the first bad field."""
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or None
        extra = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise SampleError(
            f"invalid {cls.__name__}: {first['msg']}{extra}",
            sample_id=sample_id,
            field=field,
            stage="validate",
        ) from None


def json_schema() -> dict[str, Any]:
    """The JSON Schema of every record, keyed by record name."""
    records = (Sample, Phrase, Detection, CueRecord, ExtractedSample, ErrorRow)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "cuekit records",
        "version": SCHEMA_VERSION,
        "records": {cls.__name__: cls.model_json_schema() for cls in records},
    }


def json_schema_text() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True)
