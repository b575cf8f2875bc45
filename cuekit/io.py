"""Bytes in and out: the atomic writers and the one image opener.

Writers put the data under a temp name in the target's folder (mode 0666 minus the
umask, see :mod:`cuekit.outputs`) and rename it into place, so a crash never leaves a
partial file. Every one of them takes the target path first. A failed write is an
:class:`~cuekit.errors.OutputError` naming the target: the disk, not the data, is bad.

:func:`open_image` is how every stage turns encoded bytes into a PIL image: extract
(with a pixel limit against decompression bombs), shard (a cheap decode check), the
reader and eval (upright, in a colour mode). :func:`decode_sample_image` is the same for
a sample's image, with a decode failure turned into that sample's ``SampleError``.
"""

from __future__ import annotations

import io
import json
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from cuekit.errors import SampleError
from cuekit.outputs import new_temp_file, writing

# PIL's own bomb limit is a warning at 89 MP; cuekit refuses bigger images outright.
DEFAULT_MAX_IMAGE_PIXELS = 64_000_000

if TYPE_CHECKING:
    import polars as pl
    from PIL import Image

Decode = Literal["lazy", "draft", "full"]


# ---------------------------------------------------------------- writers


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` under a temp name, then rename it into place."""
    with writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = new_temp_file(path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise


def write_json_atomic(path: Path, payload: dict[str, Any]) -> None:
    """``payload`` as indented JSON with sorted keys and a final newline."""
    text = json.dumps(payload, indent=2, sort_keys=True) + "\n"
    write_bytes_atomic(path, text.encode("utf-8"))


def write_parquet_atomic(path: Path, frame: pl.DataFrame) -> None:
    """``frame`` as a parquet file (polars writes to the temp path, then it is renamed)."""
    with writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = new_temp_file(path.parent, suffix=".parquet")
        os.close(fd)
        try:
            frame.write_parquet(tmp)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise


def save_png_atomic(path: Path, image: Image.Image) -> None:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    write_bytes_atomic(path, buffer.getvalue())


# ---------------------------------------------------------------- the image opener


class ImageTooLarge(ValueError):
    """An image whose header declares more pixels than the caller allows."""

    def __init__(self, width: int, height: int, limit: int) -> None:
        super().__init__(
            f"image is {width}x{height} = {width * height:,} pixels, over the limit of {limit:,}"
        )
        self.width, self.height, self.limit = width, height, limit


def open_image(
    data: bytes,
    *,
    decode: Decode = "full",
    upright: bool = False,
    mode: str | None = None,
    max_pixels: int | None = None,
) -> Image.Image:
    """Open encoded image bytes; PIL's own exceptions propagate.

    - ``decode``: ``"lazy"`` reads the header only; ``"draft"`` decodes a JPEG at 1/8
      scale (libjpeg still reads all its entropy-coded data, so truncation and
      corruption show, at a fraction of the cost of the full inverse DCT) and anything
      else fully; ``"full"`` decodes every pixel.
    - ``upright``: apply the EXIF orientation (ImageRef sizes are after it).
    - ``mode``: convert to this PIL mode (``"RGB"``) when the image is in another.
    - ``max_pixels``: raise :class:`ImageTooLarge` before decoding a larger image, and
      treat PIL's decompression-bomb warning as an error.
    """
    from PIL import Image, ImageOps

    with warnings.catch_warnings():
        if max_pixels is not None:
            warnings.simplefilter("error", Image.DecompressionBombWarning)
        image: Image.Image = Image.open(io.BytesIO(data))
        if max_pixels is not None and image.width * image.height > max_pixels:
            raise ImageTooLarge(image.width, image.height, max_pixels)
        if decode == "draft" and image.format == "JPEG":
            image.draft("RGB", (max(1, image.width // 8), max(1, image.height // 8)))
        if upright:
            image = ImageOps.exif_transpose(image)
        if decode != "lazy":
            image.load()
    return image.convert(mode) if mode and image.mode != mode else image


def decode_sample_image(
    data: bytes,
    *,
    sample_id: str,
    field: str,
    stage: str,
    decode: Decode = "full",
    upright: bool = False,
    mode: str | None = None,
) -> Image.Image:
    """:func:`open_image` for one of a sample's images: bytes that do not decode are a
    ``SampleError`` naming the sample, the field and the stage."""
    try:
        return open_image(data, decode=decode, upright=upright, mode=mode)
    except Exception as exc:  # PIL raises many types for bad bytes
        raise SampleError(
            f"image does not decode ({type(exc).__name__}: {exc})",
            sample_id=sample_id,
            field=field,
            stage=stage,
        ) from None
