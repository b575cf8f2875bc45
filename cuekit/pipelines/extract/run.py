"""`cuekit extract`: source rows -> samples -> phrases -> detections -> cue records.

The stage is a chain of generators with an explicit error policy::

    selected_rows -> prepare_stage -> batched -> CueBuilder.run -> PartWriter
    (source)         (decode, store)  (detector)  (detect, render)  (atomic parts)

A bad sample becomes an ErrorRow and the run goes on (``strict`` re-raises).
Image decoding runs in DataLoader workers, overlapped with detection in the main
process. Parts make the run resumable and let several ranks split the rows;
:func:`cuekit.pipelines.extract.parts.merge_parts` writes the final tables.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import queue
import shutil
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from cuekit import __version__
from cuekit.cues.wording import LATEST_CUE_WORDING
from cuekit.datasets.registry import pinned_cue_wording
from cuekit.datasets.sources import (
    RawSample,
    RowError,
    SourceSpec,
    folder_image_files,
    iter_source,
    source_files,
)
from cuekit.errors import ConfigError, CuekitError, OutputError
from cuekit.grounding.base import DetectorOptions, create_backend
from cuekit.io import write_json_atomic
from cuekit.outputs import FolderBusy, exclusive_lock
from cuekit.pipelines.extract.cue_stage import CueBuilder, Done, batched
from cuekit.pipelines.extract.layout import CUES_FILE, ERRORS_FILE, IMAGES_DIR, MARKS_DIR, RUN_FILE
from cuekit.pipelines.extract.parts import (
    PARTS_DIR,
    PartWriter,
    done_rows,
    merge_parts,
    parts_dir,
)
from cuekit.pipelines.extract.prepare import (
    Failed,
    Halted,
    Prepared,
    halt_on_output_error,
    prepare_stage,
)
from cuekit.pipelines.extract.settings import ExtractSettings
from cuekit.pipelines.progress import Progress
from cuekit.processes import die_with_parent
from cuekit.schemas import CUE_STYLES, CUE_WORDINGS, ExtractorSettings, StageCounts
from cuekit.versions import library_versions

_SETTINGS_FILE = "settings.json"
logger = logging.getLogger("cuekit.extract")


@dataclass(frozen=True)
class ExtractConfig:
    """Everything one extract run depends on; saved in run.json.

    Defaults are those of the command line (:class:`ExtractSettings`, where each is
    documented), so Python callers and `cuekit extract` run the same stage.
    """

    source: SourceSpec
    output: Path
    detectors: tuple[str, ...] = ExtractSettings.detectors
    detector: DetectorOptions = field(default_factory=DetectorOptions)
    cue_style: str = ExtractSettings.cue_style
    phrase_extractor: str = "rules"
    max_cue_tokens: int | None = ExtractSettings.max_cue_tokens  # None: no budget
    # None: the dataset's pinned wording (CueWorld's models learnt v1), else the latest.
    cue_wording: str | None = ExtractSettings.cue_wording
    limit: int | None = ExtractSettings.limit
    num_workers: int = ExtractSettings.num_workers
    drop_leaky: bool = ExtractSettings.drop_leaky
    strict: bool = ExtractSettings.strict
    overwrite: bool = ExtractSettings.overwrite
    rank: int = 0  # the command line's None means $RANK (see ExtractSettings.to_config)
    world_size: int = 1
    max_image_pixels: int = ExtractSettings.max_image_pixels
    part_size: int = 256  # records per part file: the resume granularity

    def __post_init__(self) -> None:
        if not self.detectors:
            raise ConfigError("at least one --detector is required")
        if len(set(self.detectors)) != len(self.detectors):
            raise ConfigError(f"--detector given twice: {list(self.detectors)}")
        if self.cue_style not in CUE_STYLES:
            raise ConfigError(
                f"--cue-style must be one of {', '.join(CUE_STYLES)}, got {self.cue_style!r}"
            )
        if self.cue_wording is None:  # resolved here, so run.json records the version
            wording = pinned_cue_wording(self.source.dataset) or LATEST_CUE_WORDING
            object.__setattr__(self, "cue_wording", wording)
        if self.cue_wording not in CUE_WORDINGS:
            raise ConfigError(
                f"--cue-wording must be one of {', '.join(CUE_WORDINGS)}, got {self.cue_wording!r}"
            )
        if self.max_cue_tokens is not None and self.max_cue_tokens < 1:
            raise ConfigError(
                f"--max-cue-tokens must be at least 1 (0 for no budget), got {self.max_cue_tokens}"
            )
        checks = {
            "--limit": (self.limit or 0, 0),
            "--num-workers": (self.num_workers, 0),
            "--batch-size": (self.detector.batch_size, 1),
            "--world-size": (self.world_size, 1),
            "--max-image-pixels": (self.max_image_pixels, 1),
            "part size": (self.part_size, 1),
        }
        for name, (value, minimum) in checks.items():
            if value < minimum:
                raise ConfigError(f"{name} must be >= {minimum}, got {value}")
        if not 0 <= self.rank < self.world_size:
            raise ConfigError(f"--rank must be in [0, {self.world_size}), got {self.rank}")

    def fingerprint(self) -> dict[str, Any]:
        """The settings that change the output; a resumed run must match them."""
        data = json.loads(json.dumps(asdict(self), default=str))
        for volatile in (
            "output",
            "num_workers",
            "strict",
            "overwrite",
            "rank",
            "world_size",
            "part_size",
        ):
            data.pop(volatile)
        for volatile in ("device", "batch_size"):
            data["detector"].pop(volatile)
        return data


@dataclass(frozen=True)
class ExtractResult:
    output: Path
    counts: StageCounts | None  # None while other ranks are still running
    processed: int  # rows this invocation handled (0 when everything was resumed)
    elapsed_s: float

    def summary(self) -> str:
        rate = self.processed / self.elapsed_s if self.elapsed_s > 0 else 0.0
        if self.counts is None:
            return (
                f"extract: this rank processed {self.processed} samples in "
                f"{self.elapsed_s:.1f}s; waiting for other ranks to finish before merging"
            )
        c = self.counts
        return (
            f"extract: {c.input} samples in -> {c.ok} cues ({c.leaky} leaky), "
            f"{c.errors} errors; {self.processed} processed now in {self.elapsed_s:.1f}s "
            f"({rate:.1f} samples/s) -> {self.output}"
        )


def selected_rows(config: ExtractConfig, skip: set[int]) -> Iterator[RawSample | RowError]:
    """The source rows this rank owns, minus those a previous run finished."""
    for item in iter_source(config.source):
        position = item.row_index
        if config.limit is not None and position >= config.limit:
            return
        if position % config.world_size == config.rank and position not in skip:
            yield item


def _identity(item: Any) -> Any:
    return item


_END = object()


def in_background(items: Iterator[Any], depth: int) -> Iterator[Any]:
    """Run the generator ``items`` in a thread, at most ``depth`` items ahead; same order.

    Decoding, hashing and storing images release the GIL (PIL, hashlib, file writes), so
    they overlap with the detector's forward pass in the main thread. An exception in
    ``items`` is re-raised here; closing this generator early stops the thread.
    """
    buffer: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(value: Any) -> bool:
        while not stop.is_set():
            try:
                buffer.put(value, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((item, None)):
                    return
        except BaseException as exc:  # handed to the consumer, which re-raises it
            put((_END, exc))
            return
        finally:
            close = getattr(items, "close", None)
            if close is not None:  # a generator closed in its own thread
                close()
        put((_END, None))

    thread = threading.Thread(target=produce, name="cuekit-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item, error = buffer.get()
            if item is _END:
                if error is not None:
                    raise error
                return
            yield item
    finally:
        stop.set()
        thread.join()


def _warm_backends(
    items: Iterator[Prepared | Failed], backends: Sequence[Any]
) -> Iterator[Prepared | Failed]:
    """Let backends with a ``warm(images)`` hook (grounding-dino: the image processor)
    preprocess each sample's images here, in the prefetch thread, ahead of detection."""
    hooks = [b.warm for b in backends if callable(getattr(b, "warm", None))]
    for item in items:
        if hooks and isinstance(item, Prepared):
            for warm in hooks:
                warm(item.images)
        yield item


def prepared_stream(
    config: ExtractConfig, skip: set[int], backends: Sequence[Any] = ()
) -> Iterator[Prepared | Failed]:
    """Decoded samples, in a prefetch thread that runs ahead of detection.

    With ``num_workers`` > 0, DataLoader worker processes decode and the thread receives
    their output; either way the thread also runs the backends' ``warm`` hooks.
    """
    stream: Iterator[Prepared | Failed]
    if config.num_workers == 0:
        stream = prepare_stage(selected_rows(config, skip), config.output, config.max_image_pixels)
    else:
        stream = _worker_stream(config, skip)
    yield from in_background(_warm_backends(stream, backends), depth=2 * config.detector.batch_size)


def _worker_stream(config: ExtractConfig, skip: set[int]) -> Iterator[Prepared | Failed]:
    """Samples decoded by ``num_workers`` DataLoader worker processes.

    The workers start here, in the calling thread, and are killed by the kernel if this
    process dies; an output failure in a worker is re-raised here as an OutputError.
    """
    import torch.utils.data as tud

    class _Prepare(tud.IterableDataset):
        def __iter__(self) -> Iterator[Prepared | Failed | Halted]:
            info = tud.get_worker_info()
            rows = selected_rows(config, skip)
            if info is not None:  # each worker decodes every num_workers-th row
                rows = (r for i, r in enumerate(rows) if i % info.num_workers == info.id)
            return halt_on_output_error(prepare_stage(rows, config.output, config.max_image_pixels))

    loader = tud.DataLoader(
        _Prepare(),
        batch_size=None,
        num_workers=config.num_workers,
        collate_fn=_identity,
        prefetch_factor=4,
        worker_init_fn=partial(die_with_parent, os.getpid()),
    )
    return _raise_halted(iter(loader))


def _raise_halted(items: Iterator[Prepared | Failed | Halted]) -> Iterator[Prepared | Failed]:
    for item in items:
        if isinstance(item, Halted):
            raise item.error
        yield item


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def input_fingerprint(spec: SourceSpec) -> list[dict[str, Any]]:
    """Name, size and sha256 of each local input file: rows are resumed by position, so
    a resume over an edited file would keep stale rows and miss new ones.

    An image folder's images are input too (a replaced image would keep its old cue):
    they count as one entry, the digest of every file's relative name and sha256, so
    the fingerprint stays small for large folders. Content, not mtime: a copy or a
    ``touch`` resumes."""
    found = [
        {"file": path.name, "size": path.stat().st_size, "sha256": _file_sha256(path)}
        for path in source_files(spec)
    ]
    images = folder_image_files(spec)
    if images:
        root = Path(spec.dataset).expanduser()
        digest = hashlib.sha256()
        for path in images:
            digest.update(f"{path.relative_to(root).as_posix()}\0{_file_sha256(path)}\n".encode())
        found.append(
            {
                "file": "(the folder's other files)",
                "count": len(images),
                "sha256": digest.hexdigest(),
            }
        )
    return found


def _prepare_output(config: ExtractConfig) -> None:
    out = config.output
    if config.overwrite:
        if config.world_size == 1:
            for name in (PARTS_DIR, IMAGES_DIR, MARKS_DIR):
                shutil.rmtree(out / name, ignore_errors=True)
        else:  # other ranks may be writing: clear only this rank's parts
            shutil.rmtree(parts_dir(out, config.rank, config.world_size), ignore_errors=True)
        if config.rank == 0:
            for name in (CUES_FILE, ERRORS_FILE, RUN_FILE):
                (out / name).unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    settings_path = out / PARTS_DIR / _SETTINGS_FILE
    fingerprint = {**config.fingerprint(), "input": input_fingerprint(config.source)}
    batch_size = config.detector.batch_size
    if settings_path.exists():
        previous = json.loads(settings_path.read_text(encoding="utf-8"))
        previous.setdefault("input", fingerprint["input"])  # older runs recorded no input
        _warn_if_rebatched(previous.pop(_BATCH_KEY, batch_size), batch_size)
        if previous != fingerprint:
            changed = sorted(k for k in fingerprint if previous.get(k) != fingerprint.get(k))
            if changed == ["input"]:
                raise ConfigError(
                    f"the input of {out} changed since the run started ({config.source.dataset}"
                    " differs in size or content), so its finished rows are stale; pass "
                    "--overwrite to redo the run, or choose another --output"
                )
            raise ConfigError(
                f"{out} holds an extract run with different settings ({', '.join(changed)}); "
                "pass --overwrite to start fresh, or choose another --output"
            )
    else:
        write_json_atomic(settings_path, {**fingerprint, _BATCH_KEY: batch_size})


# The detector batch size of the run's start: free to change on resume (a smaller one
# after running out of memory), but it groups the rows still to do differently.
_BATCH_KEY = "detector_batch_size"


def _warn_if_rebatched(started: int, now: int) -> None:
    if started != now:
        logger.warning(
            "resuming with --batch-size %d, the run started with %d: the remaining rows are "
            "batched differently, so Grounding DINO's scores and boxes may differ from an "
            "uninterrupted run by float rounding (about 1e-6 in scores, 1e-4 px in boxes); pass "
            "--batch-size %d for identical results",
            now,
            started,
            started,
        )


def _extractor_settings(config: ExtractConfig, backends: list[Any]) -> ExtractorSettings:
    extra = {b.name: b.settings() for b in backends}
    models = {name: str(s["model"]) for name, s in extra.items() if s.get("model")}
    opts = config.detector
    return ExtractorSettings(
        backends=list(config.detectors),
        models=models,
        box_threshold=opts.box_threshold,
        text_threshold=opts.text_threshold,
        nms_iou=opts.nms_iou,
        phrase_extractor=config.phrase_extractor,
        extra=json.loads(json.dumps(extra, default=str)),
    )


def _try_merge(config: ExtractConfig, run_info: dict[str, Any]) -> StageCounts | None:
    """Merge when every rank of this world has finished; exactly one rank does it."""
    root = config.output / PARTS_DIR
    markers = [
        parts_dir(config.output, r, config.world_size) / "DONE.json"
        for r in range(config.world_size)
    ]
    if not all(m.exists() for m in markers):
        return None
    try:  # a lock the kernel drops if this process dies: no stale marker blocks a rerun
        with exclusive_lock(root, "merge.lock", "extract (merge)"):
            run_info["ranks"] = [json.loads(m.read_text(encoding="utf-8")) for m in markers]
            counts = merge_parts(config.output, run_info)
            (root / "merge.lock").unlink()  # tidy; a rank racing us merges the same again
            return counts
    except FolderBusy:
        return None  # another rank is merging


def run_extract(config: ExtractConfig) -> ExtractResult:
    """Run (or resume) the extract stage for this rank and merge when all ranks are done.

    One process per (output, rank) at a time: a second one is refused, not interleaved.
    """
    out = config.output
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--output {out} exists and is not a folder")
    lock = f".cuekit-extract-rank-{config.rank:05d}-of-{config.world_size:05d}.lock"
    with exclusive_lock(out, lock, "extract"):
        return _run_locked(config)


def _run_locked(config: ExtractConfig) -> ExtractResult:
    start = time.perf_counter()
    _prepare_output(config)
    rank_dir = parts_dir(config.output, config.rank, config.world_size)
    (rank_dir / "DONE.json").unlink(missing_ok=True)
    skip = done_rows(config.output)
    backends = [create_backend(name, config.detector) for name in config.detectors]
    builder = CueBuilder(
        backends=backends,
        settings=_extractor_settings(config, backends),
        cue_style=config.cue_style,
        phrase_extractor=config.phrase_extractor,
        output=config.output,
        drop_leaky=config.drop_leaky,
        strict=config.strict,
        max_cue_tokens=config.max_cue_tokens,
        # set in ExtractConfig.__post_init__; `or` only narrows the type
        cue_wording=config.cue_wording or LATEST_CUE_WORDING,
    )
    writer = PartWriter(rank_dir, config.part_size)
    # Detector batches are fixed by row position (not by what a resumed run has left), so
    # a resumed run batches, and therefore computes, exactly like an uninterrupted one.
    size = config.detector.batch_size
    bucket = partial(_bucket, world_size=config.world_size, batch_size=size)
    processed = 0
    with Progress(config.limit, desc="extract", unit="sample") as bar:
        try:
            for batch, failures in batched(
                prepared_stream(config, skip, backends), size, bucket=bucket
            ):
                if failures and config.strict:
                    first = failures[0].error
                    raise CuekitError(
                        f"--strict: stopped at sample {first.sample_id!r}, "
                        f"field {first.field!r} ({first.stage}): {first.message}"
                    )
                results = list(failures) + (list(builder.run(batch)) if batch else [])
                for item in results:
                    if isinstance(item, Done):
                        writer.add_record(item.row_index, item.record, item.counts)
                    else:
                        writer.add_error(item.row_index, item.error)
                writer.flush_if_full()  # parts hold whole batches
                processed += len(results)
                bar.update(len(results))
        except BaseException:
            _flush_after_failure(writer)
            raise
        writer.flush()
    elapsed = time.perf_counter() - start
    write_json_atomic(
        rank_dir / "DONE.json",
        {
            "rank": config.rank,
            "world_size": config.world_size,
            "processed": processed,
            "elapsed_s": round(elapsed, 3),
        },
    )
    run_info = {
        "cuekit": __version__,
        "stage": "extract",
        "versions": library_versions(),
        "settings": json.loads(json.dumps(asdict(config), default=str)),
        "extractor": builder.settings.model_dump(),
    }
    counts = _try_merge(config, run_info)
    return ExtractResult(config.output, counts, processed, time.perf_counter() - start)


def _bucket(row_index: int, *, world_size: int, batch_size: int) -> int:
    """The detector batch of a source row: this rank's rows in runs of ``batch_size``."""
    return row_index // world_size // batch_size


def _flush_after_failure(writer: PartWriter) -> None:
    """Keep finished work when the run stops; a full disk must not hide the first error."""
    try:
        writer.flush()
    except OutputError as exc:
        logger.warning("could not save the last finished rows either: %s", exc)
