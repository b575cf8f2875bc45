"""Part files: how extract resumes after a crash and how ranks combine their work.

Each rank appends results in small parquet parts under ``OUTPUT/parts/rank-R-of-W/``,
each written atomically (temp name, then rename). A rerun reads the ``_row`` column
of every part to skip finished source rows. :func:`merge_parts` combines all parts
into the final tables, so the result does not depend on the world size or on how
often the run was interrupted.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl

from cuekit.io import write_json_atomic, write_parquet_atomic
from cuekit.pipelines.extract.layout import (
    CUES_FILE,
    CUES_SCHEMA,
    ERRORS_FILE,
    ERRORS_SCHEMA,
    RUN_FILE,
    extracted_to_row,
)
from cuekit.schemas import ErrorRow, ExtractedSample, StageCounts

PARTS_DIR = "parts"
ROW = "_row"
# Per row: what the run left out (rejected OCR reads, cue budget drops), a JSON object.
# Kept in the part with its row, so a resumed run sums each finished row exactly once.
COUNTS = "_counts"
_CUES_PART = "cues-{:06d}.parquet"
_ERRORS_PART = "errors-{:06d}.parquet"


def parts_dir(output: Path, rank: int, world_size: int) -> Path:
    return output / PARTS_DIR / f"rank-{rank:05d}-of-{world_size:05d}"


class PartWriter:
    """Buffers finished records and flushes them as numbered part files."""

    def __init__(self, directory: Path, part_size: int) -> None:
        self.directory = directory
        self.part_size = part_size
        directory.mkdir(parents=True, exist_ok=True)
        existing = [int(p.stem.split("-")[1]) for p in directory.glob("*-*.parquet")]
        self._next = max(existing, default=-1) + 1
        self._cues: list[dict[str, Any]] = []
        self._errors: list[dict[str, Any]] = []

    def add_record(
        self, row_index: int, record: ExtractedSample, counts: dict[str, int] | None = None
    ) -> None:
        self._cues.append(
            {
                **extracted_to_row(record),
                ROW: row_index,
                COUNTS: json.dumps(counts or {}, sort_keys=True),
            }
        )

    def add_error(self, row_index: int, error: ErrorRow) -> None:
        self._errors.append({**error.model_dump(), ROW: row_index})

    def flush_if_full(self) -> None:
        """Flush once ``part_size`` rows wait; the caller calls it between detector
        batches, so a part never holds half a batch (see ``run_extract``)."""
        if len(self._cues) + len(self._errors) >= self.part_size:
            self.flush()

    def flush(self) -> None:
        if not self._cues and not self._errors:
            return
        number = self._next
        self._next += 1
        # Errors first: a crash between the two writes only re-runs the cue rows.
        if self._errors:
            frame = pl.DataFrame(self._errors, schema={**ERRORS_SCHEMA, ROW: pl.Int64()})
            write_parquet_atomic(self.directory / _ERRORS_PART.format(number), frame)
        if self._cues:
            frame = pl.DataFrame(
                self._cues, schema={**CUES_SCHEMA, ROW: pl.Int64(), COUNTS: pl.String()}
            )
            write_parquet_atomic(self.directory / _CUES_PART.format(number), frame)
        self._cues, self._errors = [], []


def _read_parts(output: Path, prefix: str, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    files = sorted((output / PARTS_DIR).glob(f"rank-*/{prefix}-*.parquet"))
    full_schema = {**schema, ROW: pl.Int64()}
    if prefix == "cues":
        full_schema[COUNTS] = pl.String()
    if not files:
        return pl.DataFrame(schema=full_schema)
    return pl.concat([pl.read_parquet(f) for f in files], how="vertical")


def done_rows(output: Path) -> set[int]:
    """Source rows that some earlier (or other-rank) run already finished."""
    rows: set[int] = set()
    for prefix, schema in (("cues", CUES_SCHEMA), ("errors", ERRORS_SCHEMA)):
        rows.update(_read_parts(output, prefix, schema)[ROW].to_list())
    return rows


def merge_parts(output: Path, run_info: dict[str, Any]) -> StageCounts:
    """Combine every part into cues.parquet, errors.parquet and run.json; return the counts.

    Duplicate sample ids are resolved here, not per rank, so the answer is the same
    whatever the world size: the earliest source row keeps the id, later ones go to
    the errors table.
    """
    cues = _read_parts(output, "cues", CUES_SCHEMA).unique(ROW, keep="first", maintain_order=True)
    errors = _read_parts(output, "errors", ERRORS_SCHEMA)
    errors = errors.filter(~pl.col(ROW).is_in(cues[ROW].implode())).unique(
        ROW, keep="first", maintain_order=True
    )
    cues = cues.sort(ROW)
    first_row = cues.group_by("id").agg(pl.col(ROW).min().alias("first"))
    cues = cues.join(first_row, on="id")
    duplicates = cues.filter(pl.col(ROW) != pl.col("first"))
    dup_errors = duplicates.select(
        pl.col("id").alias("sample_id"),
        pl.col("sample").str.json_path_match("$.original_id").alias("original_id"),
        pl.lit("dedupe").alias("stage"),
        pl.lit("DuplicateId").alias("error_type"),
        pl.lit("id").alias("field"),
        pl.format(
            "duplicate id: source row {} has the same id as row {}", pl.col(ROW), pl.col("first")
        ).alias("message"),
        pl.col(ROW),
    )
    errors = pl.concat([errors, dup_errors.cast(errors.schema)], how="vertical").sort(ROW)
    cues = cues.filter(pl.col(ROW) == pl.col("first")).drop("first")
    # Parts written before counts existed have no COUNTS column (`cuekit merge` on them).
    dropped = run_counts(cues[COUNTS].to_list() if COUNTS in cues.columns else [])
    write_parquet_atomic(output / CUES_FILE, cues.sort("id").drop(ROW, COUNTS, strict=False))
    write_parquet_atomic(output / ERRORS_FILE, errors.drop(ROW))
    counts = StageCounts(
        input=cues.height + errors.height,
        ok=cues.height,
        errors=errors.height,
        leaky=int(cues["leak"].sum()),
    )
    by_stage = errors.group_by("stage").len().sort("stage")
    info = {
        **run_info,
        "counts": counts.as_dict(),
        "dropped": dropped,
        "errors_by_stage": dict(
            zip(by_stage["stage"].to_list(), by_stage["len"].to_list(), strict=True)
        ),
    }
    write_json_atomic(output / RUN_FILE, info)
    return counts


def run_counts(rows: Sequence[str | None]) -> dict[str, dict[str, int]]:
    """Sum the rows' ``_counts`` into run.json's ``dropped``: ``rejected_reads`` by
    ``"<backend>/<reason>"`` and ``cue_budget`` (cues trimmed, items and relation
    sentences dropped), over the rows that got a cue."""
    total: dict[str, int] = {}
    for row in rows:
        for key, value in json.loads(row or "{}").items():
            total[key] = total.get(key, 0) + int(value)
    budget = {
        name: total.pop(f"budget/{name}", 0)
        for name in ("trimmed_cues", "dropped_items", "dropped_relations")
    }
    return {"rejected_reads": dict(sorted(total.items())), "cue_budget": budget}


def rank_markers(output: Path) -> Sequence[Path]:
    return sorted((output / PARTS_DIR).glob("rank-*/DONE.json"))
