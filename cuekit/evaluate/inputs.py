"""Read cue records from an extract folder or from shards, in a fixed order.

``eval``, ``audit`` and ``export`` all take either the output folder of ``cuekit
extract`` (``cues.parquet`` + ``images/``) or shards (a ``cuekit shard`` folder,
a brace pattern or URLs). Both become :class:`CueItem`: the record, the hint the
teacher reads, and each image's original bytes (decoded to PIL on demand).
Shards are read in order with no shuffling, so every run sees the same samples.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from PIL import Image

from cuekit.errors import ConfigError, SampleError
from cuekit.io import open_image
from cuekit.pipelines.extract import layout
from cuekit.pipelines.read.reader import decode_sample, raw_samples, resolve_shards
from cuekit.pipelines.shard import manifest as mf
from cuekit.schemas import ExtractedSample, member_suffix


@dataclass(frozen=True)
class CueItem:
    """One sample with its cue; ``image_bytes[i]`` is image i as stored (not re-encoded)."""

    record: ExtractedSample
    hint: str
    image_bytes: list[bytes]
    marked_bytes: bytes | None = None  # the marked copy of one image (cue style marks)

    @property
    def id(self) -> str:
        return self.record.sample.id

    def images(self, mode: str = "RGB") -> list[Image.Image]:
        """The images decoded upright (EXIF applied, as ImageRef sizes assume)."""
        return [open_image(data, upright=True, mode=mode) for data in self.image_bytes]

    def marked(self, mode: str = "RGB") -> Image.Image | None:
        """The marked image the teacher sees instead of image ``marked_index``, if any."""
        return (
            None
            if self.marked_bytes is None
            else open_image(self.marked_bytes, upright=True, mode=mode)
        )

    @property
    def marked_index(self) -> int:
        return self.record.cue.marked_image_index or 0


def input_kind(path: str | Path | Sequence[str]) -> str:
    """``"extract"`` for a folder with ``cues.parquet``, else ``"shards"``."""
    path = str(path) if isinstance(path, Path) else path
    if isinstance(path, str) and (Path(path) / layout.CUES_FILE).is_file():
        return "extract"
    if (
        isinstance(path, str)
        and not mf.is_remote(path)
        and Path(path).is_dir()
        and mf.read_shards_table(path) is None
    ):
        raise ConfigError(
            f"{path} holds neither {layout.CUES_FILE} (a `cuekit extract` "
            f"output) nor {mf.SHARDS_FILE} (a `cuekit shard` output)"
        )
    return "shards"


def _from_extract(folder: Path) -> Iterator[CueItem]:
    for record in layout.read_extracted(folder):
        data = []
        for i, ref in enumerate(record.sample.images):
            path = folder / ref.path
            if not path.is_file():
                raise SampleError(
                    f"image {ref.path} is missing from {folder}",
                    sample_id=record.sample.id,
                    field=f"sample.images.{i}",
                    stage="read",
                )
            data.append(path.read_bytes())
        marked = None
        if record.cue.marked_image is not None:
            path = folder / record.cue.marked_image
            if not path.is_file():
                raise SampleError(
                    f"marked image {record.cue.marked_image} is missing from {folder}",
                    sample_id=record.sample.id,
                    field="cue.marked_image",
                    stage="read",
                )
            marked = path.read_bytes()
        yield CueItem(
            record=record, hint=record.cue.cue_text, image_bytes=data, marked_bytes=marked
        )


def _from_shards(urls: str | Sequence[str]) -> Iterator[CueItem]:
    shard_urls = [url for url, _ in resolve_shards(urls)]
    for raw in raw_samples(shard_urls):
        decoded = decode_sample(raw, image_mode=None)  # validates the record and images
        key, record = decoded.key, decoded.record
        data = [
            raw[member_suffix(ref.path)]
            for ref in record.sample.images
            if ref.path.startswith(f"{key}.")
        ]
        marked = record.cue.marked_image
        yield CueItem(
            record=record,
            hint=decoded.hint,
            image_bytes=data,
            marked_bytes=raw[member_suffix(marked)] if marked else None,
        )


def iter_cue_items(
    path: str | Path | Sequence[str], *, limit: int | None = None
) -> Iterator[CueItem]:
    """Every sample of an extract folder (id order) or of shards (shard order)."""
    path = str(path) if isinstance(path, Path) else path
    if limit is not None and limit < 1:
        raise ConfigError(f"limit must be >= 1, got {limit}")
    # input_kind says "extract" only for a single folder, so path is a str there.
    if isinstance(path, str) and input_kind(path) == "extract":
        items = _from_extract(Path(path))
    else:
        items = _from_shards(path)
    return islice(items, limit)
