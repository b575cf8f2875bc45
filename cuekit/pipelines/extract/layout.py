"""The on-disk layout of an extract run, shared by ``extract`` (writer) and ``shard`` (reader).

::

    EXTRACT_DIR/
      cues.parquet     one row per sample: ``id``, ``sample`` (Sample JSON), ``cue``
                       (CueRecord JSON) plus flat columns for quick analysis
      errors.parquet   one row per failed sample (ErrorRow fields)
      run.json         settings, versions, counts, timings
      images/ab/<sha256>.<ext>   original image bytes, content-addressed
      marks/<id>.png   marked copies of images (cue style ``marks``)

Paths inside records are relative to EXTRACT_DIR, so the folder can move.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from cuekit.errors import CuekitError
from cuekit.io import write_json_atomic, write_parquet_atomic
from cuekit.schemas import CueRecord, ErrorRow, ExtractedSample, Sample, validate

CUES_FILE = "cues.parquet"
ERRORS_FILE = "errors.parquet"
RUN_FILE = "run.json"
IMAGES_DIR = "images"
MARKS_DIR = "marks"

CUES_SCHEMA: dict[str, pl.DataType] = {
    "id": pl.String(),
    "source": pl.String(),
    "split": pl.String(),
    "question": pl.String(),
    "answer": pl.String(),
    "cue_text": pl.String(),
    "cue_style": pl.String(),
    "cue_wording": pl.String(),
    "leak": pl.Boolean(),
    "n_images": pl.Int32(),
    "n_phrases": pl.Int32(),
    "n_detections": pl.Int32(),
    "sample": pl.String(),
    "cue": pl.String(),
}

ERRORS_SCHEMA: dict[str, pl.DataType] = {
    "sample_id": pl.String(),
    "original_id": pl.String(),
    "stage": pl.String(),
    "error_type": pl.String(),
    "field": pl.String(),
    "message": pl.String(),
}


def image_relpath(sha256: str, fmt: str) -> str:
    """Content-addressed location of an image inside EXTRACT_DIR."""
    return f"{IMAGES_DIR}/{sha256[:2]}/{sha256}.{fmt}"


def extracted_to_row(record: ExtractedSample) -> dict[str, Any]:
    sample, cue = record.sample, record.cue
    return {
        **sample.lead_columns(),
        "cue_text": cue.cue_text,
        "cue_style": cue.cue_style,
        "cue_wording": cue.cue_wording,
        "leak": cue.leak,
        "n_images": len(sample.images),
        "n_phrases": len(cue.phrases),
        "n_detections": len(cue.detections),
        "sample": sample.model_dump_json(),
        "cue": cue.model_dump_json(),
    }


def row_to_extracted(row: dict[str, Any]) -> ExtractedSample:
    sample_id = row.get("id")
    sample = validate(Sample, json.loads(row["sample"]), sample_id=sample_id)
    cue = validate(CueRecord, json.loads(row["cue"]), sample_id=sample_id)
    return validate(ExtractedSample, {"sample": sample, "cue": cue}, sample_id=sample_id)


def cues_frame(records: Iterable[ExtractedSample]) -> pl.DataFrame:
    rows = [extracted_to_row(r) for r in records]
    return pl.DataFrame(rows, schema=CUES_SCHEMA).sort("id")


def errors_frame(errors: Iterable[ErrorRow]) -> pl.DataFrame:
    rows = [e.model_dump() for e in errors]
    return pl.DataFrame(rows, schema=ERRORS_SCHEMA).sort("sample_id", "stage")


def read_extracted(extract_dir: str | Path) -> Iterator[ExtractedSample]:
    """Yield the records of ``EXTRACT_DIR/cues.parquet`` in id order."""
    path = Path(extract_dir) / CUES_FILE
    if not path.is_file():
        raise CuekitError(
            f"{path} not found: point --input at the output folder of `cuekit extract`"
        )
    for row in pl.read_parquet(path).iter_rows(named=True):
        yield row_to_extracted(row)


def write_extract_dir(
    root: str | Path, records: Sequence[ExtractedSample], errors: Sequence[ErrorRow] = ()
) -> Path:
    """Lay out an extract folder from finished records; returns ``root``.

    For records built outside `cuekit extract` (tests, benchmarks, cues imported from
    elsewhere): their images must already sit at their ``ImageRef.path`` under ``root``
    (see :func:`cuekit.pipelines.extract.images.store_image_bytes`). run.json holds only
    the counts, under the keys `cuekit extract` writes them.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    write_parquet_atomic(root / CUES_FILE, cues_frame(records))
    write_parquet_atomic(root / ERRORS_FILE, errors_frame(errors))
    counts = {
        "input": len(records) + len(errors),
        "ok": len(records),
        "errors": len(errors),
        "leaky": sum(record.cue.leak for record in records),
    }
    write_json_atomic(root / RUN_FILE, {"counts": counts})
    return root
