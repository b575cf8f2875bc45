"""Where samples come from: HF datasets, parquet/arrow/jsonl files and folders of them
(hub snapshots included), image folders, the bundled sample.

A source is an iterator of raw rows (plain dicts) plus a :class:`FieldMap` that says
which row fields hold the question, images, answer, choices, id and judging fields.
The field map comes from the data's schema (:mod:`cuekit.pipelines.presets`), never
from its name, with the CLI's ``--*-field`` options applied on top. Rows become
:class:`RawSample` here; images stay undecoded until :mod:`cuekit.pipelines.images`
reads them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from itertools import chain
from pathlib import Path
from typing import Any

from cuekit.errors import ConfigError, CuekitError, SampleError
from cuekit.pipelines.presets import FieldMap, column_kinds, detect_preset

__all__ = ["FieldMap", "RawSample", "RowError", "SourceSpec", "iter_source", "map_row",
           "resolve_fields", "with_overrides"]

SAMPLE_SOURCE = "sample"
CUEWORLD_SOURCE = "cueworld"
_GENERATED = (SAMPLE_SOURCE, CUEWORLD_SOURCE)  # built in; their rows use the default names
_FILE_SUFFIXES = (".parquet", ".jsonl", ".json", ".arrow")
_DATA_SUFFIXES = (".parquet", ".arrow")
# Split names a folder's file names may carry; with none of them, every file is read.
_KNOWN_SPLITS = ("train", "test", "testmini", "validation", "val", "dev")
# Hub shard names: "train-00000-of-00001.parquet", "testmini-00000-of-00001-<hash>.parquet".
_SHARD_NAME = re.compile(r"^(?P<split>.+?)-\d{5}-of-\d{5}(?:-[0-9a-f]+)?$")


@dataclass
class RawSample:
    """One source row, mapped to sample fields but not validated or decoded yet."""

    row_index: int
    original_id: str
    source: str
    split: str
    question: Any
    answer: Any
    choices: Any
    images: list[Any]  # bytes | path str | PIL image | {"bytes":..., "path":...}
    metadata: dict[str, Any] = field(default_factory=dict)
    base_dir: Path | None = None  # relative image paths resolve against it
    question_type: Any = None
    answer_type: Any = None
    precision: Any = None
    unit: Any = None
    preset: str = "generic"  # the schema preset that mapped the row


@dataclass(frozen=True)
class RowError:
    """A source row that could not even be mapped (bad JSON line, missing field)."""

    row_index: int
    original_id: str
    error: SampleError


@dataclass(frozen=True)
class SourceSpec:
    """What ``--dataset`` and its companion options asked for."""

    dataset: str
    split: str = "train"
    name: str | None = None
    streaming: bool = False
    fields: FieldMap | None = None  # None: the preset detected from the data's schema
    overrides: dict[str, str] = field(default_factory=dict)  # --*-field options
    seed: int = 0  # generated datasets (sample, cueworld): which rows to draw


def _json_safe(value: Any) -> Any | None:
    """Keep metadata that survives JSON; drop binary blobs and decoded images."""
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return None
    return value


def _cell(row: dict[str, Any], name: str | None) -> Any:
    return row.get(name) if name else None


def map_row(row: dict[str, Any], index: int, fields: FieldMap, *, source: str, split: str,
            base_dir: Path | None = None) -> RawSample:
    """Map one raw row to a RawSample. Missing required fields raise SampleError."""
    row_id = str(row[fields.id]) if fields.id and row.get(fields.id) is not None else None
    original_id = row_id if row_id is not None else f"{split}-{index:06d}"
    if fields.question not in row:
        raise SampleError(f"row has no question field (columns: {sorted(row)})",
                          sample_id=original_id, field=fields.question, stage="source")
    if fields.image not in row:
        raise SampleError(f"row has no image field (columns: {sorted(row)})",
                          sample_id=original_id, field=fields.image, stage="source")
    images = row[fields.image]
    if images is None:
        images = []
    elif not isinstance(images, (list, tuple)):
        images = [images]
    # Further single-image columns (MMMU's image_2 ...): null means "no such image".
    images = [*images, *(row[n] for n in fields.extra_images if row.get(n) is not None)]
    metadata = {}
    for key, value in row.items():
        if key in fields.mapped():
            continue
        safe = _json_safe(value)
        if safe is not None:
            metadata[key] = safe
    return RawSample(
        row_index=index,
        original_id=original_id,
        source=source,
        split=split,
        question=row.get(fields.question),
        answer=_cell(row, fields.answer),
        choices=_cell(row, fields.choices),
        images=list(images),
        metadata=metadata,
        base_dir=base_dir,
        question_type=_cell(row, fields.question_type),
        answer_type=_cell(row, fields.answer_type),
        precision=_cell(row, fields.precision),
        unit=_cell(row, fields.unit),
        preset=fields.name,
    )


def _read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """Rows of a jsonl file; a line that is not UTF-8 or not a JSON object becomes an
    error row naming the file and line, so one bad byte costs one row, not the run."""
    with path.open("rb") as handle:
        for line_no, raw in enumerate(handle, start=1):
            if line_no == 1:
                raw = raw.removeprefix(b"\xef\xbb\xbf")  # a UTF-8 byte-order mark
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield {"__error__": f"line {line_no} is not valid UTF-8: byte "
                                    f"0x{raw[exc.start]:02x} at column {exc.start + 1} "
                                    f"(in {path.name})"}
                continue
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                # A broken line still counts as a sample: it is reported, not lost.
                yield {"__error__": f"line {line_no} is not valid JSON: {exc.msg} (in {path.name})"}
                continue
            if not isinstance(row, dict):
                row = {"__error__": f"line {line_no} is not a JSON object (in {path.name})"}
            yield row


def _parquet_rows(path: Path) -> Iterator[dict[str, Any]]:
    import polars as pl

    # Stream in slices so a large parquet is never fully in memory.
    frame = pl.scan_parquet(path)
    total = frame.select(pl.len()).collect().item()
    for offset in range(0, total, 1024):
        yield from frame.slice(offset, 1024).collect().iter_rows(named=True)


def _open_arrow(path: Path) -> Any:
    """A record-batch reader for an Arrow file: HF ``save_to_disk`` writes the stream format."""
    import pyarrow as pa

    try:
        return pa.ipc.open_stream(pa.memory_map(str(path)))
    except pa.ArrowInvalid:
        return pa.ipc.open_file(pa.memory_map(str(path)))


def _arrow_rows(path: Path) -> Iterator[dict[str, Any]]:
    reader = _open_arrow(path)
    if hasattr(reader, "num_record_batches"):  # the random-access file format
        batches = (reader.get_batch(i) for i in range(reader.num_record_batches))
    else:
        batches = iter(reader)
    for batch in batches:
        yield from batch.to_pylist()


def _data_file_kinds(path: Path) -> dict[str, str]:
    import polars as pl

    if path.suffix.lower() == ".parquet":
        return column_kinds(pl.scan_parquet(path).collect_schema())
    schema = _open_arrow(path).schema
    return column_kinds(pl.from_arrow(schema.empty_table()).schema)  # type: ignore[union-attr]


def _file_rows(path: Path) -> Iterator[dict[str, Any]]:
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        yield from _parquet_rows(path)
    elif suffix == ".arrow":
        yield from _arrow_rows(path)
    elif suffix == ".jsonl":
        yield from _read_jsonl(path)
    elif suffix == ".json":
        data = json.loads(path.read_text(encoding="utf-8-sig"))  # -sig: a BOM is fine
        if not isinstance(data, list):
            raise CuekitError(f"{path}: expected a JSON list of objects")
        yield from data
    else:
        raise ConfigError(f"{path}: unsupported file type {suffix!r}; use .parquet, .arrow or "
                          ".jsonl")


def _peek_kinds(rows: Iterator[dict[str, Any]]) -> tuple[dict[str, str], Iterator[dict[str, Any]]]:
    """Kinds from the first well-formed row (JSON carries no schema), and all rows still."""
    seen: list[dict[str, Any]] = []
    for row in rows:
        seen.append(row)
        if "__error__" not in row:
            return column_kinds(row), chain(seen, rows)
    return {}, iter(seen)


def _file_splits(path: Path, root: Path) -> set[str]:
    """The split names a data file's name or folders carry (``train-00000-of-00001``)."""
    match = _SHARD_NAME.match(path.stem)
    names = {match.group("split") if match else path.stem}
    names.update(path.relative_to(root).parts[:-1])
    return names


def _data_files(folder: Path, split: str) -> list[Path]:
    """The folder's parquet/arrow files for ``split`` (all of them if none is split-named)."""
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in _DATA_SUFFIXES
                   and p.is_file() and not any(part.startswith(".")
                                               for part in p.relative_to(folder).parts))
    if not files:
        raise ConfigError(f"{folder}: no .jsonl of questions and no .parquet or .arrow files "
                          "found in the folder")
    chosen = [p for p in files if split in _file_splits(p, folder)]
    if chosen:
        return chosen
    found = sorted({s for p in files for s in _file_splits(p, folder)} & set(_KNOWN_SPLITS))
    if found:
        raise ConfigError(f"{folder}: no files for split {split!r}; the folder has splits "
                          f"{found} (pass --split)")
    return files


def _folder_questions(folder: Path) -> Path | None:
    """The jsonl of questions inside an image folder, None when it holds none."""
    candidates = sorted(folder.glob("*.jsonl"))
    preferred = [p for p in candidates if p.stem in ("metadata", "questions")]
    if preferred:
        return preferred[0]
    if len(candidates) <= 1:
        return candidates[0] if candidates else None
    names = ", ".join(p.name for p in candidates)
    raise ConfigError(f"{folder}: several .jsonl files ({names}); name one of them as --dataset")


def source_files(spec: SourceSpec) -> list[Path]:
    """The local files whose rows the source yields ([] for hub datasets and the built-in
    generated sets). A resumed extract fingerprints them to notice an edited input."""
    path = Path(spec.dataset).expanduser()
    if spec.dataset in _GENERATED:
        return []
    if path.is_dir():
        questions = _folder_questions(path)
        return [questions] if questions is not None else _data_files(path, spec.split)
    return [path] if path.is_file() else []


def _source_name(path: Path) -> str:
    """A readable source name: the hub id inside the HF cache
    (``datasets--hiyouga--geometry3k/snapshots/<sha>/...`` gives ``hiyouga/geometry3k``),
    else the folder's name; a hub shard file is named after its dataset's folder."""
    resolved = path.resolve()
    cached = [part for part in resolved.parts if part.startswith("datasets--")]
    if cached:
        return cached[-1].removeprefix("datasets--").replace("--", "/")
    if path.is_dir():
        return resolved.name
    if _SHARD_NAME.match(path.stem):
        parent = resolved.parent
        return (parent.parent if parent.name == "data" else parent).name
    return path.stem


def resolve_fields(spec: SourceSpec, kinds: dict[str, str]) -> FieldMap:
    """The spec's explicit field map, else the preset the schema matches, plus overrides."""
    return with_overrides(spec.fields or detect_preset(kinds), **spec.overrides)


def _hf_rows(spec: SourceSpec) -> tuple[FieldMap, Iterator[dict[str, Any]]]:
    import datasets

    try:
        ds = datasets.load_dataset(spec.dataset, spec.name, split=spec.split,
                                   streaming=spec.streaming)
    except FileNotFoundError as exc:
        raise ConfigError(f"dataset {spec.dataset!r} not found: {exc}") from None
    except (OSError, ConnectionError) as exc:
        raise CuekitError(
            f"could not load dataset {spec.dataset!r} ({exc}). Fixes: pass a local parquet/jsonl "
            "file or folder, set HF_DATASETS_OFFLINE=1 to use the local cache, or set HF_ENDPOINT "
            "to a reachable mirror"
        ) from None
    features = getattr(ds, "features", None)
    if features:
        kinds, rows = column_kinds(features), None
    else:  # a streaming dataset may not know its features before the first row
        kinds, rows = _peek_kinds(iter(ds))
        return resolve_fields(spec, kinds), rows
    fields = resolve_fields(spec, kinds)
    # Keep the original encoded bytes: cast image columns to undecoded images.
    for column in (fields.image, *fields.extra_images):
        feature = features.get(column)
        if isinstance(feature, datasets.Image):
            ds = ds.cast_column(column, datasets.Image(decode=False))
        elif isinstance(feature, (datasets.List, datasets.Sequence, datasets.LargeList)) and \
                isinstance(getattr(feature, "feature", None), datasets.Image):
            ds = ds.cast_column(column, datasets.List(datasets.Image(decode=False)))
    return fields, iter(ds)


def _local_rows(path: Path, spec: SourceSpec
                ) -> tuple[FieldMap, Iterator[dict[str, Any]], Path]:
    """Rows, field map and image base folder of a local file or folder."""
    if path.is_dir():
        questions = _folder_questions(path)
        if questions is not None:
            kinds, rows = _peek_kinds(_read_jsonl(questions))
            return resolve_fields(spec, kinds), rows, path
        files = _data_files(path, spec.split)
        rows = chain.from_iterable(_file_rows(f) for f in files)
        return resolve_fields(spec, _data_file_kinds(files[0])), rows, path
    if path.suffix.lower() in _DATA_SUFFIXES:
        return resolve_fields(spec, _data_file_kinds(path)), _file_rows(path), path.parent
    kinds, rows = _peek_kinds(_file_rows(path))
    return resolve_fields(spec, kinds), rows, path.parent


def _generated_rows(spec: SourceSpec) -> Iterator[dict[str, Any]]:
    """Rows of a built-in dataset (the bundled sample, CueWorld)."""
    if spec.dataset == SAMPLE_SOURCE:
        from cuekit.pipelines.sample_data import generate_sample_rows

        return iter(generate_sample_rows(spec.seed))
    from cuekit.cueworld.dataset import generate_cueworld_rows

    try:
        return iter(generate_cueworld_rows(spec.split, spec.seed))
    except ValueError as exc:
        raise ConfigError(f"--dataset cueworld: {exc}") from None


def iter_source(spec: SourceSpec) -> Iterator[RawSample | RowError]:
    """Yield every row of the source as a RawSample, or as a SampleError if unusable.

    Errors are yielded as RowError, not raised, so the caller can record them and
    the row counts still reconcile.
    """
    dataset = spec.dataset
    path = Path(dataset).expanduser()
    rows: Iterator[dict[str, Any]]
    if dataset in _GENERATED:
        rows, source, base_dir = _generated_rows(spec), dataset, None
        fields = spec.fields or with_overrides(FieldMap(), **spec.overrides)
    elif path.exists():
        fields, rows, base_dir = _local_rows(path, spec)
        source = _source_name(path)
    elif path.suffix.lower() in _FILE_SUFFIXES or dataset.startswith((".", "/", "~")):
        raise ConfigError(f"--dataset {dataset!r}: no such file or folder")
    else:
        (fields, rows), source, base_dir = _hf_rows(spec), dataset, None
    for index, row in enumerate(rows):
        fallback_id = f"{spec.split}-{index:06d}"
        if "__error__" in row:
            error = SampleError(row["__error__"], sample_id=fallback_id, stage="source")
            yield RowError(index, fallback_id, error)
            continue
        try:
            yield map_row(row, index, fields, source=source, split=spec.split, base_dir=base_dir)
        except SampleError as exc:
            yield RowError(index, exc.sample_id or fallback_id, exc)


def with_overrides(base: FieldMap, **overrides: str | None) -> FieldMap:
    """A field map with the CLI's non-empty ``--*-field`` options applied."""
    return replace(base, **{k: v for k, v in overrides.items() if v is not None})

