"""`cuekit shard`: turn an extract folder into deterministic WebDataset tar shards.

The stage runs in three steps, so that the output never depends on ``num_workers``:

1. **prepare** (parallel, ordered): each cues.parquet row becomes a :class:`PreparedSample`
   or an :class:`ErrorRow`. Images are read and checked against their recorded sha256
   (``image_check="sha256"``, the default: extract decoded exactly these bytes before
   storing them under that hash), also decoded with ``image_check="decode"``, and resized
   only when ``max_pixels`` asks for it.
2. **plan** (serial): samples, sorted by key, are packed into shards from their exact tar
   sizes under ``maxcount`` / ``maxsize``. The plan fixes which sample goes where.
3. **write** (parallel): worker ``w`` of ``W`` writes a contiguous range of shards, each to
   a hidden temporary name that is renamed when complete.

Each sample's files, adjacent in the tar: ``KEY.json`` (the ExtractedSample, whose image
paths now name tar members), ``KEY.hint.txt`` (cue text), ``KEY.img0.<ext>``... (original
bytes) and, for cue style ``marks``, ``KEY.marked.<ext>``.

**Resize** (``max_pixels``): an image with more pixels is EXIF-rotated, scaled by
``sqrt(max_pixels / (w*h))`` and re-encoded in its own format. Its ImageRef then describes
the stored bytes (size, sha256, format), the detections on it get their ``xyxy`` scaled by
the same factors, and ``box_1000`` stays as it was (it is relative to the image size).

**Resume rule**: after a shard is renamed into place, a record
``.cuekit-shard/NAME.json`` stores the shard's *content digest* (sha256 over its members'
names, sizes and sha256s, known from the plan) and the tar's sha256. A rerun keeps a shard
only when its record's digest equals the new plan's and the file on disk hashes to the
recorded sha256; anything else is rewritten. The tar bytes are a function of the content,
so a resumed run ends with the same bytes as an uninterrupted one.
"""

from __future__ import annotations

import functools
import hashlib
import io
import logging
import math
import os
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import polars as pl

from cuekit.errors import ConfigError, CuekitError, SampleError
from cuekit.io import (
    decode_sample_image,
    write_bytes_atomic,
    write_json_atomic,
    write_parquet_atomic,
)
from cuekit.outputs import exclusive_lock, writing
from cuekit.pipelines.extract import layout
from cuekit.pipelines.progress import progress
from cuekit.pipelines.shard import manifest as mf
from cuekit.pipelines.shard.settings import ShardSettings
from cuekit.pipelines.shard.tarwriter import (
    Member,
    PreparedSample,
    ShardPlan,
    archive_size,
    record_path,
    worker_pool,
    write_all,
)
from cuekit.schemas import (
    HINT_MEMBER,
    JSON_MEMBER,
    MARKED_MEMBER,
    ErrorRow,
    ExtractedSample,
    ImageRef,
    clip_xyxy,
    image_member,
    is_safe_key,
    member_name,
)
from cuekit.schemas.runs import ManifestRow, SampleStats
from cuekit.versions import library_versions

logger = logging.getLogger("cuekit.shard")

STAGE = "shard"
# Image format (as records spell it) -> file extension in the tar.
_EXTENSIONS = {
    "jpeg": "jpg",
    "jpg": "jpg",
    "mpo": "jpg",
    "png": "png",
    "webp": "webp",
    "gif": "gif",
    "bmp": "bmp",
    "tiff": "tif",
    "tif": "tif",
}
# Formats re-encoded as themselves after a resize; anything else becomes PNG.
_SAVE_AS = {"jpg": "JPEG", "png": "PNG", "webp": "WEBP", "bmp": "BMP", "tif": "TIFF"}


@dataclass
class ShardReport:
    """What a run did: counts that reconcile (inputs = written + errors) and where things are."""

    output: Path
    inputs: int
    written: int
    errors: int
    shards: int
    bytes: int
    reused_shards: int
    url_pattern: str
    seconds: float
    error_rows: list[ErrorRow] = field(default_factory=list)

    def summary(self) -> str:
        rate = self.bytes / 1e6 / max(self.seconds, 1e-9)
        reused = f", {self.reused_shards} reused" if self.reused_shards else ""
        return (
            f"shard: {self.inputs} samples -> {self.written} written in {self.shards} shards "
            f"({self.bytes / 1e6:.1f} MB, {rate:.1f} MB/s{reused}), {self.errors} errors"
            f"{' (see errors.parquet)' if self.errors else ''}; "
            f"urls: {self.output / self.url_pattern if self.url_pattern else '(none)'}"
        )


# ---------------------------------------------------------------- prepare: row -> sample


def image_extension(fmt: str, *, sample_id: str, field_name: str) -> str:
    ext = _EXTENSIONS.get(fmt.lower(), fmt.lower())
    if not ext.isalnum():
        raise SampleError(
            f"unsupported image format {fmt!r}", sample_id=sample_id, field=field_name, stage=STAGE
        )
    return ext


def resize_to_budget(
    image: Any, max_pixels: int, ext: str, jpeg_quality: int
) -> tuple[bytes, int, int, str] | None:
    """Re-encode ``image`` with at most ``max_pixels`` pixels; None when it already fits."""
    from PIL import Image, ImageOps

    upright = ImageOps.exif_transpose(image)
    width, height = upright.size
    if width * height <= max_pixels:
        return None
    scale = math.sqrt(max_pixels / (width * height))
    new_size = (max(1, math.floor(width * scale)), max(1, math.floor(height * scale)))
    small = upright.resize(new_size, Image.Resampling.LANCZOS)
    out_ext = ext if ext in _SAVE_AS else "png"
    save_format = _SAVE_AS[out_ext]
    if save_format == "JPEG" and small.mode not in ("RGB", "L", "CMYK"):
        small = small.convert("RGB")
    buffer = io.BytesIO()
    options = {"quality": jpeg_quality} if save_format in ("JPEG", "WEBP") else {}
    small.save(buffer, format=save_format, **options)
    return buffer.getvalue(), new_size[0], new_size[1], out_ext


@functools.lru_cache(maxsize=4096)
def _real_dir(folder: str) -> str:
    """``realpath`` of a folder; content-addressed images share ~256 folders, so this is
    cached (and cleared at the start of every run, see :func:`shard`)."""
    return os.path.realpath(folder)


def _inside(root: str, relpath: str, *, sample_id: str, field_name: str) -> str:
    """``root/relpath`` if it lies inside ``root`` (a realpath) once links are resolved."""
    joined = os.path.join(root, relpath)
    folder, name = os.path.split(joined)
    path = os.path.join(_real_dir(folder), name)
    if name in ("", ".", "..") or os.path.islink(path):  # rare: resolve all of it
        path = os.path.realpath(joined)
    if os.path.commonpath((root, path)) != root:
        raise SampleError(
            f"path {relpath!r} points outside the extract folder",
            sample_id=sample_id,
            field=field_name,
            stage=STAGE,
        )
    return path


def _missing_image(relpath: str, exc: OSError, sample_id: str, field_name: str) -> SampleError:
    return SampleError(
        f"missing image file {relpath!r} ({exc.strerror})",
        sample_id=sample_id,
        field=field_name,
        stage=STAGE,
    )


def _image_member(
    root: str,
    relpath: str,
    member_name_stem: str,
    expected: ImageRef | None,
    declared_format: str,
    settings: ShardSettings,
    cache_dir: Path,
    *,
    sample_id: str,
    field_name: str,
) -> tuple[Member, ImageRef | None]:
    """Read, check and (maybe) resize one image; returns its member and, if resized, its ref.

    ``expected`` is the image's record (sha256, size), None for a marked image.
    """
    path = _inside(root, relpath, sample_id=sample_id, field_name=field_name)
    if (
        expected is not None
        and settings.image_check == "none"
        and (settings.max_pixels is None or expected.width * expected.height <= settings.max_pixels)
    ):
        try:  # the record's sha256 stands for the bytes; they are read when written
            stat = os.stat(path)
        except OSError as exc:
            raise _missing_image(relpath, exc, sample_id, field_name) from None
        ext = image_extension(declared_format, sample_id=sample_id, field_name=field_name)
        return Member(
            f"{member_name_stem}.{ext}",
            stat.st_size,
            expected.sha256,
            path=path,
            mtime_ns=stat.st_mtime_ns,
        ), None
    try:
        with open(path, "rb") as handle:
            mtime_ns = os.fstat(handle.fileno()).st_mtime_ns
            data = handle.read()
    except OSError as exc:
        raise _missing_image(relpath, exc, sample_id, field_name) from None
    digest = hashlib.sha256(data).hexdigest()
    if expected is not None and digest != expected.sha256:
        raise SampleError(
            f"image bytes of {relpath!r} do not match the recorded sha256",
            sample_id=sample_id,
            field=field_name,
            stage=STAGE,
        )
    ext = image_extension(declared_format, sample_id=sample_id, field_name=field_name)
    if expected is not None and settings.image_check in ("sha256", "none"):
        # the bytes are the ones extract measured: its recorded size needs no header read
        width, height = expected.width, expected.height
        image = None
    else:
        image = decode_sample_image(
            data, decode="lazy", sample_id=sample_id, field=field_name, stage=STAGE
        )  # header only
        width, height = image.width, image.height
    shrink = settings.max_pixels is not None and width * height > settings.max_pixels
    if shrink or settings.image_check == "decode":
        # Without a resize, a JPEG is checked in draft mode (see cuekit.io.open_image).
        image = decode_sample_image(
            data,
            decode="full" if shrink else "draft",
            sample_id=sample_id,
            field=field_name,
            stage=STAGE,
        )
    resized = None
    if shrink:
        resized = resize_to_budget(image, int(settings.max_pixels or 0), ext, settings.jpeg_quality)
    if resized is None:
        return Member(
            f"{member_name_stem}.{ext}", len(data), digest, path=path, mtime_ns=mtime_ns
        ), None
    new_bytes, width, height, new_ext = resized
    new_sha = hashlib.sha256(new_bytes).hexdigest()
    cached = cache_dir / f"{new_sha}.{new_ext}"
    if not cached.exists():  # a failed write is the output's fault: an OutputError
        write_bytes_atomic(cached, new_bytes)
    name = f"{member_name_stem}.{new_ext}"
    fmt = "jpeg" if new_ext == "jpg" else new_ext
    ref = ImageRef(path=name, sha256=new_sha, width=width, height=height, format=fmt)
    return Member(name, len(new_bytes), new_sha, path=str(cached)), ref


def _scale_detections(
    record: ExtractedSample, old: list[ImageRef], new: list[ImageRef]
) -> list[Any]:
    """Detections in the pixels of the stored images; box_1000 is size-relative and stays."""
    scaled = []
    for det in record.cue.detections:
        if det.image_index >= len(new):
            scaled.append(det)
            continue
        before, after = old[det.image_index], new[det.image_index]
        if (before.width, before.height) == (after.width, after.height):
            scaled.append(det)
            continue
        sx, sy = after.width / before.width, after.height / before.height
        x1, y1, x2, y2 = det.xyxy
        box = clip_xyxy((x1 * sx, y1 * sy, x2 * sx, y2 * sy), after.width, after.height)
        scaled.append(det.model_copy(update={"xyxy": box}))
    return scaled


def tar_sample(
    row: dict[str, Any], extract_dir: Path, settings: ShardSettings, cache_dir: Path
) -> PreparedSample:
    """One cues.parquet row -> the members of its tar sample (raises SampleError)."""
    root = _real_dir(str(extract_dir))
    record = layout.row_to_extracted(row)
    key = record.sample.id
    if not is_safe_key(key):  # the schema enforces it; keep the tar contract explicit
        raise SampleError(
            f"id {key!r} is not a safe WebDataset key",
            sample_id=key,
            field="sample.id",
            stage=STAGE,
        )
    members: list[Member] = []
    new_refs: list[ImageRef] = []
    for i, ref in enumerate(record.sample.images):
        member, resized_ref = _image_member(
            root,
            ref.path,
            member_name(key, image_member(i)),
            ref,
            ref.format,
            settings,
            cache_dir,
            sample_id=key,
            field_name=f"sample.images.{i}.path",
        )
        members.append(member)
        new_refs.append(resized_ref or ref.model_copy(update={"path": member.name}))
    cue_update: dict[str, Any] = {
        "detections": _scale_detections(record, list(record.sample.images), new_refs)
    }
    if record.cue.marked_image is not None:
        suffix = Path(record.cue.marked_image).suffix.lstrip(".") or "png"
        mark, _ = _image_member(
            root,
            record.cue.marked_image,
            member_name(key, MARKED_MEMBER),
            None,
            suffix,
            settings,
            cache_dir,
            sample_id=key,
            field_name="cue.marked_image",
        )
        members.append(mark)
        cue_update["marked_image"] = mark.name
    final = ExtractedSample(
        sample=record.sample.model_copy(update={"images": new_refs}),
        cue=record.cue.model_copy(update=cue_update),
    )
    json_bytes = final.model_dump_json().encode("utf-8")
    hint_bytes = final.cue.cue_text.encode("utf-8")
    inline = [
        Member(
            member_name(key, JSON_MEMBER),
            len(json_bytes),
            hashlib.sha256(json_bytes).hexdigest(),
            data=json_bytes,
        ),
        Member(
            member_name(key, HINT_MEMBER),
            len(hint_bytes),
            hashlib.sha256(hint_bytes).hexdigest(),
            data=hint_bytes,
        ),
    ]
    resized = any(
        new.sha256 != old.sha256 for new, old in zip(new_refs, record.sample.images, strict=True)
    )
    stats = SampleStats(
        key=key,
        image_bytes=sum(m.size for m in members),
        json_bytes=len(json_bytes),
        hint_bytes=len(hint_bytes),
        n_images=len(new_refs),
        resized=resized,
        cue_style=final.cue.cue_style,
        leak=final.cue.leak,
        source=final.sample.source,
        split=final.sample.split,
    )
    return PreparedSample(key, tuple(inline + members), stats)


def _prepare_or_error(
    row: dict[str, Any], extract_dir: Path, settings: ShardSettings, cache_dir: Path
) -> PreparedSample | ErrorRow:
    """Error handler of the prepare step: a failed sample becomes an ErrorRow."""
    try:
        return tar_sample(row, extract_dir, settings, cache_dir)
    except SampleError as exc:
        return ErrorRow(
            sample_id=exc.sample_id or str(row.get("id")),
            stage=STAGE,
            error_type=type(exc).__name__,
            field=exc.field,
            message=exc.reason,
        )


def tar_samples(
    rows: Iterable[dict[str, Any]],
    extract_dir: Path,
    settings: ShardSettings,
    cache_dir: Path,
    pool: ProcessPoolExecutor | None,
) -> Iterator[PreparedSample | ErrorRow]:
    """Rows -> prepared samples or error rows, in input order (in parallel with ``pool``)."""
    job = partial(
        _prepare_or_error, extract_dir=extract_dir, settings=settings, cache_dir=cache_dir
    )
    if pool is None:
        yield from map(job, rows)
    else:
        yield from pool.map(job, rows, chunksize=16)


def dedupe(items: Iterable[PreparedSample | ErrorRow]) -> Iterator[PreparedSample | ErrorRow]:
    """A key seen twice would make two tar samples with one name: keep the first."""
    seen: set[str] = set()
    for item in items:
        if isinstance(item, PreparedSample):
            if item.key in seen:
                yield ErrorRow(
                    sample_id=item.key,
                    stage=STAGE,
                    error_type="SampleError",
                    field="sample.id",
                    message="duplicate sample id",
                )
                continue
            seen.add(item.key)
        yield item


# ---------------------------------------------------------------- plan


def plan_shards(samples: list[PreparedSample], settings: ShardSettings) -> list[ShardPlan]:
    """Pack key-sorted samples into shards; a new shard starts at maxcount or maxsize.

    A sample larger than ``maxsize`` on its own still gets a shard (alone, with a warning).
    """
    plans: list[ShardPlan] = []
    current: list[PreparedSample] = []
    current_bytes = 0

    def close() -> None:
        index = len(plans)
        digest = hashlib.sha256()
        for sample in current:
            for m in sample.members:
                digest.update(f"{m.name}\0{m.size}\0{m.sha256}\n".encode())
        plans.append(
            ShardPlan(
                index,
                mf.shard_name(settings.pattern, index),
                tuple(current),
                archive_size(current_bytes),
                digest.hexdigest(),
            )
        )

    for sample in sorted(samples, key=lambda s: s.key):
        size = sample.tar_bytes
        if current and (
            len(current) >= settings.maxcount
            or archive_size(current_bytes + size) > settings.maxsize
        ):
            close()
            current, current_bytes = [], 0
        if archive_size(size) > settings.maxsize:
            logger.warning(
                "sample %s alone takes %d bytes > maxsize %d: it gets its own shard",
                sample.key,
                archive_size(size),
                settings.maxsize,
            )
        current.append(sample)
        current_bytes += size
    if current:  # never open an empty shard
        close()
    return plans


def _clean_output(out_dir: Path, plans: list[ShardPlan], pattern: str) -> None:
    """Remove our stale temp files; refuse to mix with shards this plan does not make."""
    for tmp in out_dir.glob(".*.tmp-*"):
        tmp.unlink()
    planned = {p.name for p in plans}
    regex = mf.pattern_regex(pattern)
    for path in sorted(out_dir.iterdir()):
        if regex.match(path.name) and path.name not in planned:
            if record_path(out_dir, path.name).is_file():  # ours, from an earlier plan
                path.unlink()
                record_path(out_dir, path.name).unlink()
            else:
                raise ConfigError(
                    f"{out_dir} holds {path.name}, which this run would not write: "
                    "use an empty --output folder"
                )


# ---------------------------------------------------------------- driver


def shard(
    extract_dir: str | Path, output_dir: str | Path, settings: ShardSettings | None = None
) -> ShardReport:
    """Shard the extract folder ``extract_dir`` into ``output_dir``; see the module docstring."""
    settings = settings or ShardSettings()
    start = time.perf_counter()
    extract_dir, out_dir = Path(extract_dir), Path(output_dir)
    cues_path = extract_dir / layout.CUES_FILE
    if not cues_path.is_file():
        raise CuekitError(
            f"{cues_path} not found: point --input at the output folder of `cuekit extract`"
        )
    if out_dir.resolve() == extract_dir.resolve():
        raise ConfigError("--output must differ from --input")
    rows = pl.read_parquet(cues_path).sort("id").to_dicts()
    _real_dir.cache_clear()  # folders may have changed since an earlier run in this process
    with writing(out_dir):
        out_dir.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(out_dir, f"{mf.STATE_DIR}/run.lock", "shard"):
        return _shard_locked(rows, extract_dir, out_dir, settings, start)


def _shard_locked(
    rows: list[dict[str, Any]],
    extract_dir: Path,
    out_dir: Path,
    settings: ShardSettings,
    start: float,
) -> ShardReport:
    cache_dir = out_dir / mf.STATE_DIR / "resized"
    with writing(cache_dir):
        cache_dir.mkdir(parents=True, exist_ok=True)

    with worker_pool(settings.num_workers) as (pool, progress_queue):
        prepared: list[PreparedSample] = []
        errors: list[ErrorRow] = []
        stream = dedupe(tar_samples(rows, extract_dir, settings, cache_dir, pool))
        for item in progress(stream, total=len(rows), desc="shard: check", unit="sample"):
            if isinstance(item, PreparedSample):
                prepared.append(item)
            else:
                errors.append(item)
        # the plan needs every sample's size and fate: it waits for the whole check step
        plans = plan_shards(prepared, settings)
        _clean_output(out_dir, plans, settings.pattern)
        results = write_all(
            plans, out_dir, pool, progress_queue, settings.num_workers, len(prepared)
        )

    manifest_rows = []
    for plan in plans:
        offset = 0
        for sample in plan.samples:
            manifest_rows.append(
                ManifestRow(
                    sample.stats,
                    shard=plan.name,
                    shard_index=plan.index,
                    offset=offset,
                    bytes=sample.tar_bytes,
                )
            )
            offset += sample.tar_bytes
    for frame, name in (
        (mf.manifest_frame(manifest_rows), mf.MANIFEST_FILE),
        (mf.shards_frame(results), mf.SHARDS_FILE),
        (layout.errors_frame(errors), mf.ERRORS_FILE),
    ):
        write_parquet_atomic(out_dir / name, frame)

    total_bytes = sum(r.size for r in results)
    url_pattern = mf.brace_pattern(settings.pattern, len(plans))
    report = ShardReport(
        out_dir,
        len(rows),
        len(prepared),
        len(errors),
        len(plans),
        total_bytes,
        sum(1 for r in results if r.reused),
        url_pattern,
        time.perf_counter() - start,
        errors,
    )
    if report.inputs != report.written + report.errors:  # internal invariant, not user input
        raise CuekitError(
            f"counts do not reconcile: {report.inputs} inputs != "
            f"{report.written} written + {report.errors} errors"
        )
    stats = {
        "input": str(extract_dir),
        "url_pattern": url_pattern,
        "totals": {
            "inputs": report.inputs,
            "written": report.written,
            "errors": report.errors,
            "shards": report.shards,
            "bytes": total_bytes,
            "reused_shards": report.reused_shards,
        },
        "settings": {**settings.content_settings(), "num_workers": settings.num_workers},
        "versions": library_versions(),
        "seconds": round(report.seconds, 3),
    }
    write_json_atomic(out_dir / mf.STATS_FILE, stats)
    return report
