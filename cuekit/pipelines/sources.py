"""Where samples come from: HF datasets, parquet/jsonl files, image folders, the bundled sample.

A source is an iterator of raw rows (plain dicts) plus a :class:`FieldMap` that says
which row fields hold the question, images, answer, choices and id. Presets are
just field maps. Rows become :class:`RawSample` here; images stay undecoded until
:mod:`cuekit.pipelines.images` reads them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cuekit.errors import ConfigError, CuekitError, SampleError

SAMPLE_SOURCE = "sample"
CUEWORLD_SOURCE = "cueworld"
_FILE_SUFFIXES = (".parquet", ".jsonl", ".json")


@dataclass(frozen=True)
class FieldMap:
    """Names of the row fields that hold each part of a sample (None: absent)."""

    question: str = "question"
    image: str = "image"
    answer: str | None = "answer"
    choices: str | None = "choices"
    id: str | None = "id"

    def mapped(self) -> set[str]:
        return {f for f in (self.question, self.image, self.answer, self.choices, self.id) if f}


# Presets for well-known datasets (shared README §4). Keys are matched against the
# dataset id's last path component, case-insensitively.
PRESETS: dict[str, FieldMap] = {
    "geometry3k": FieldMap(question="problem", image="images", answer="answer",
                           choices=None, id=None),
    "mathvista": FieldMap(question="question", image="decoded_image", answer="answer",
                          choices="choices", id="pid"),
    SAMPLE_SOURCE: FieldMap(),
    CUEWORLD_SOURCE: FieldMap(),
}


def preset_for(dataset: str) -> FieldMap:
    """The preset whose name is the dataset id's last component (or a file's stem)."""
    path = Path(dataset)
    for key in (path.name.lower(), path.stem.lower()):
        if key in PRESETS:
            return PRESETS[key]
    return FieldMap()


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
    fields: FieldMap | None = None  # None: the dataset's preset
    seed: int = 0  # generated datasets (sample, cueworld): which rows to draw


def _json_safe(value: Any) -> Any | None:
    """Keep metadata that survives JSON; drop binary blobs and decoded images."""
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return None
    return value


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
        answer=row.get(fields.answer) if fields.answer else None,
        choices=row.get(fields.choices) if fields.choices else None,
        images=list(images),
        metadata=metadata,
        base_dir=base_dir,
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


def _file_rows(path: Path) -> Iterator[dict[str, Any]]:
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        import polars as pl

        # Stream in slices so a large parquet is never fully in memory.
        frame = pl.scan_parquet(path)
        total = frame.select(pl.len()).collect().item()
        for offset in range(0, total, 1024):
            yield from frame.slice(offset, 1024).collect().iter_rows(named=True)
    elif suffix == ".jsonl":
        yield from _read_jsonl(path)
    elif suffix == ".json":
        data = json.loads(path.read_text(encoding="utf-8-sig"))  # -sig: a BOM is fine
        if not isinstance(data, list):
            raise CuekitError(f"{path}: expected a JSON list of objects")
        yield from data
    else:
        raise ConfigError(f"{path}: unsupported file type {suffix!r}; use .parquet or .jsonl")


def _folder_questions(folder: Path) -> Path:
    """The jsonl of questions inside an image folder."""
    candidates = sorted(folder.glob("*.jsonl"))
    preferred = [p for p in candidates if p.stem in ("metadata", "questions")]
    if preferred:
        return preferred[0]
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise ConfigError(f"{folder}: no .jsonl of questions found in the folder")
    names = ", ".join(p.name for p in candidates)
    raise ConfigError(f"{folder}: several .jsonl files ({names}); name one of them as --dataset")


def source_files(spec: SourceSpec) -> list[Path]:
    """The local files whose rows the source yields ([] for hub datasets and the bundled
    sample). A resumed extract fingerprints them to notice an edited input."""
    path = Path(spec.dataset).expanduser()
    if spec.dataset == SAMPLE_SOURCE:
        return []
    if path.is_dir():
        return [_folder_questions(path)]
    return [path] if path.is_file() else []


def _hf_rows(spec: SourceSpec, fields: FieldMap) -> Iterator[dict[str, Any]]:
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
    # Keep the original encoded bytes: cast image columns to undecoded images.
    features = getattr(ds, "features", None) or {}
    feature = features.get(fields.image)
    if isinstance(feature, datasets.Image):
        ds = ds.cast_column(fields.image, datasets.Image(decode=False))
    elif isinstance(feature, (datasets.List, datasets.Sequence, datasets.LargeList)) and isinstance(
        getattr(feature, "feature", None), datasets.Image
    ):
        ds = ds.cast_column(fields.image, datasets.List(datasets.Image(decode=False)))
    yield from ds


def iter_source(spec: SourceSpec) -> Iterator[RawSample | RowError]:
    """Yield every row of the source as a RawSample, or as a SampleError if unusable.

    Errors are yielded as RowError, not raised, so the caller can record them and
    the row counts still reconcile.
    """
    dataset = spec.dataset
    path = Path(dataset).expanduser()
    fields = spec.fields or preset_for(dataset)
    if dataset == SAMPLE_SOURCE:
        from cuekit.pipelines.sample_data import generate_sample_rows

        rows: Iterator[dict[str, Any]] = iter(generate_sample_rows(spec.seed))
        source, base_dir = SAMPLE_SOURCE, None
    elif dataset == CUEWORLD_SOURCE:
        from cuekit.cueworld.dataset import generate_cueworld_rows

        try:
            rows = generate_cueworld_rows(spec.split, spec.seed)
        except ValueError as exc:
            raise ConfigError(f"--dataset cueworld: {exc}") from None
        source, base_dir = CUEWORLD_SOURCE, None
    elif path.is_dir():
        questions = _folder_questions(path)
        rows, source, base_dir = _read_jsonl(questions), path.name, path
    elif path.is_file():
        rows, source, base_dir = _file_rows(path), path.stem, path.parent
    elif path.suffix.lower() in _FILE_SUFFIXES or dataset.startswith((".", "/", "~")):
        raise ConfigError(f"--dataset {dataset!r}: no such file or folder")
    else:
        rows, source, base_dir = _hf_rows(spec, fields), dataset, None
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
