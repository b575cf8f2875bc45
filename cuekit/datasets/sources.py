"""Where samples come from: HF datasets, parquet/arrow/jsonl files and folders of them
(hub snapshots included), image folders, the bundled sample.

A source is an iterator of raw rows (plain dicts) plus a :class:`FieldMap` that says
which row fields hold the question, images, answer, choices, id and judging fields.
The field map comes from the data's schema (:mod:`cuekit.datasets.presets`), never
from its name, with the CLI's ``--*-field`` options applied on top. Rows become
:class:`RawSample` here; images stay undecoded until :mod:`cuekit.pipelines.extract.images`
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

from cuekit.datasets.presets import FieldMap, column_kinds, detect_preset
from cuekit.datasets.registry import builtin_rows, is_builtin
from cuekit.errors import ConfigError, CuekitError, SampleError

__all__ = [
    "FieldMap",
    "RawSample",
    "RowError",
    "SourceSpec",
    "folder_image_files",
    "iter_source",
    "map_row",
    "resolve_fields",
    "with_overrides",
]

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


def map_row(
    row: dict[str, Any],
    index: int,
    fields: FieldMap,
    *,
    source: str,
    split: str,
    base_dir: Path | None = None,
) -> RawSample:
    """Map one raw row to a RawSample. Missing required fields raise SampleError."""
    row_id = str(row[fields.id]) if fields.id and row.get(fields.id) is not None else None
    original_id = row_id if row_id is not None else f"{split}-{index:06d}"
    for role, column in (("question", fields.question), ("image", fields.image)):
        if column not in row:
            raise SampleError(
                f"row has no {role} field (columns: {sorted(row)})",
                sample_id=original_id,
                field=column,
                stage="source",
            )
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


# Byte-order marks of the encodings a jsonl may come in (UTF-32's before UTF-16's, whose
# mark it starts with); without one it is UTF-8. The utf-16/32 codecs read their mark.
_BOMS = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)


def _bom(path: Path) -> tuple[str, int]:
    """(encoding, bytes to skip) of a text file: a UTF-8 mark is skipped; a UTF-16/32 one
    is left to its codec. UTF-8 without a mark."""
    with path.open("rb") as handle:
        head = handle.read(4)
    for mark, encoding in _BOMS:
        if head.startswith(mark):
            return encoding, len(mark) if encoding == "utf-8" else 0
    return "utf-8", 0


def _without_end(line: bytes) -> bytes:
    line = line[:-1] if line.endswith(b"\n") else line
    return line[:-1] if line.endswith(b"\r") else line


def _lines(path: Path) -> Iterator[tuple[int, bytes | str]]:
    """(line number, line) of a text file, ending at LF, CRLF or a lone CR alike.

    UTF-8 lines stay bytes, so one bad byte costs one line; a UTF-16/32 file (its mark
    says so) is decoded as a stream. Only these three are line ends: JSON allows U+2028
    and the other ``str.splitlines`` separators raw inside its strings."""
    encoding, skip = _bom(path)
    if encoding == "utf-8":
        with path.open("rb") as handle:
            handle.seek(skip)
            pieces = (piece for raw in handle for piece in _without_end(raw).split(b"\r"))
            yield from enumerate(pieces, start=1)
        return
    with path.open("r", encoding=encoding, newline="") as handle:  # "": split at \r too
        yield from enumerate((raw.rstrip("\r\n") for raw in handle), start=1)


def _read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """Rows of a jsonl file; a line that is not UTF-8 or not a JSON object becomes an
    error row naming the file and line, so one bad byte costs one row, not the run.
    A byte-order mark (UTF-8, UTF-16 or UTF-32) is read as such, and lines may end in
    LF, CRLF or CR."""
    try:
        for line_no, raw in _lines(path):
            if isinstance(raw, bytes):
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    yield {
                        "__error__": f"line {line_no} is not valid UTF-8: byte "
                        f"0x{raw[exc.start]:02x} at column {exc.start + 1} "
                        f"(in {path.name})"
                    }
                    continue
            else:
                line = raw
            if not line.strip():
                continue
            yield _json_row(line, f"line {line_no}", path)
    except UnicodeDecodeError as exc:  # a UTF-16/32 stream broke: nothing after it is readable
        raise ConfigError(
            f"{path}: not valid {exc.encoding} after its byte-order mark ({exc.reason})"
        ) from None


def _json_row(text: str, where: str, path: Path) -> dict[str, Any]:
    """One JSON object, or an error row naming ``where`` in ``path``."""
    try:
        row = json.loads(text)
    except json.JSONDecodeError as exc:
        # A broken line still counts as a sample: it is reported, not lost.
        return {"__error__": f"{where} is not valid JSON: {exc.msg} (in {path.name})"}
    return _object_row(row, where, path)


def _object_row(row: Any, where: str, path: Path) -> dict[str, Any]:
    if not isinstance(row, dict):
        return {"__error__": f"{where} is not a JSON object (in {path.name})"}
    bad = _undecodable(row)
    if bad is not None:
        return {
            "__error__": f"{where} is not valid UTF-8: field {bad!r} holds bytes that "
            f"do not decode (in {path.name})"
        }
    return row


def _undecodable(value: Any, name: str = "") -> str | None:
    """The first field of a JSON value holding undecodable bytes (read as lone surrogates)."""
    if isinstance(value, str):
        return name or "?" if any("\udc80" <= ch <= "\udcff" for ch in value) else None
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, item in items:
        found = _undecodable(item, f"{name}.{key}" if name else str(key))
        if found is not None:
            return found
    return None


def _read_json(path: Path) -> Iterator[dict[str, Any]]:
    """Rows of a ``.json`` list. A bad byte costs the element holding it (its bytes are
    read as lone surrogates, then reported); a file that is not a JSON list stops the
    run naming the file and position, as no row can be told from another."""
    encoding, skip = _bom(path)
    try:
        text = path.read_bytes()[skip:].decode(
            encoding, errors="surrogateescape" if encoding == "utf-8" else "strict"
        )
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not valid {encoding} after its byte-order mark ({exc.reason})"
        ) from None
    try:
        rows = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{path}: not valid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    if not isinstance(rows, list):
        raise ConfigError(f"{path}: expected a JSON list of objects")
    for index, row in enumerate(rows):
        yield _object_row(row, f"element {index}", path)


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
        yield from _read_json(path)
    else:
        raise ConfigError(
            f"{path}: unsupported file type {suffix!r}; use .parquet, .arrow or .jsonl"
        )


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
    files = sorted(
        p
        for p in folder.rglob("*")
        if p.suffix.lower() in _DATA_SUFFIXES
        and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )
    if not files:
        raise ConfigError(
            f"{folder}: no .jsonl of questions and no .parquet or .arrow files found in the folder"
        )
    chosen = [p for p in files if split in _file_splits(p, folder)]
    if chosen:
        return chosen
    found = sorted({s for p in files for s in _file_splits(p, folder)} & set(_KNOWN_SPLITS))
    if found:
        raise ConfigError(
            f"{folder}: no files for split {split!r}; the folder has splits {found} (pass --split)"
        )
    return files


def _folder_questions(folder: Path, split: str) -> Path | None:
    """The jsonl of questions of an image folder, None when it holds none.

    At the top (``metadata.jsonl``/``questions.jsonl``, the one jsonl, or the one named
    after the split: ``train.jsonl`` beside ``test.jsonl``), else in the split's own
    subfolder (HF ImageFolder: ``train/metadata.jsonl`` beside its images)."""
    for where in (folder, folder / split):
        candidates = sorted(where.glob("*.jsonl")) if where.is_dir() else []
        chosen = (
            [p for p in candidates if p.stem in ("metadata", "questions")]
            or [p for p in candidates if p.stem == split]
            or (candidates if len(candidates) == 1 else [])
        )
        if chosen:
            return chosen[0]
        if candidates:
            names = ", ".join(p.name for p in candidates)
            raise ConfigError(
                f"{where}: several .jsonl files ({names}) and none is named "
                f"after the split {split!r}; name one of them as --dataset"
            )
    return None


def source_files(spec: SourceSpec) -> list[Path]:
    """The local files whose rows the source yields ([] for hub datasets and the built-in
    generated sets). A resumed extract fingerprints them to notice an edited input."""
    path = Path(spec.dataset).expanduser()
    if is_builtin(spec.dataset):
        return []
    if path.is_dir():
        questions = _folder_questions(path, spec.split)
        return [questions] if questions is not None else _data_files(path, spec.split)
    return [path] if path.is_file() else []


def folder_image_files(spec: SourceSpec) -> list[Path]:
    """The files beside the questions of an image folder (its images), sorted; [] for
    any other source. Rows name them by path, so they are input as much as the jsonl."""
    path = Path(spec.dataset).expanduser()
    if is_builtin(spec.dataset) or not path.is_dir():
        return []
    questions = _folder_questions(path, spec.split)
    if questions is None:
        return []
    root = questions.parent
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and p != questions
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )


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
        ds = datasets.load_dataset(
            spec.dataset, spec.name, split=spec.split, streaming=spec.streaming
        )
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
        elif isinstance(
            feature, (datasets.List, datasets.Sequence, datasets.LargeList)
        ) and isinstance(getattr(feature, "feature", None), datasets.Image):
            ds = ds.cast_column(column, datasets.List(datasets.Image(decode=False)))
    return fields, iter(ds)


def _local_rows(path: Path, spec: SourceSpec) -> tuple[FieldMap, Iterator[dict[str, Any]], Path]:
    """Rows, field map and image base folder of a local file or folder."""
    if path.is_dir():
        questions = _folder_questions(path, spec.split)
        if questions is not None:  # image paths are relative to the questions' folder
            kinds, rows = _peek_kinds(_read_jsonl(questions))
            return resolve_fields(spec, kinds), rows, questions.parent
        files = _data_files(path, spec.split)
        rows = chain.from_iterable(_file_rows(f) for f in files)
        return resolve_fields(spec, _data_file_kinds(files[0])), rows, path
    if path.suffix.lower() in _DATA_SUFFIXES:
        return resolve_fields(spec, _data_file_kinds(path)), _file_rows(path), path.parent
    kinds, rows = _peek_kinds(_file_rows(path))
    return resolve_fields(spec, kinds), rows, path.parent


def iter_source(spec: SourceSpec) -> Iterator[RawSample | RowError]:
    """Yield every row of the source as a RawSample, or as a SampleError if unusable.

    Errors are yielded as RowError, not raised, so the caller can record them and
    the row counts still reconcile.
    """
    dataset = spec.dataset
    path = Path(dataset).expanduser()
    rows: Iterator[dict[str, Any]]
    if is_builtin(dataset):  # generated rows use the default field names
        rows, source, base_dir = builtin_rows(dataset, spec.split, spec.seed), dataset, None
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
    given: dict[str, Any] = {k: v for k, v in overrides.items() if v is not None}
    return replace(base, **given)
