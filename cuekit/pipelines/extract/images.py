"""Read, check and store a sample's images.

Plain 8-bit RGB or greyscale JPEG/PNG/WebP images are kept byte for byte. Anything
a VLM processor would mishandle is normalised once, here, to an upright RGB PNG:
EXIF rotation, CMYK, 16-bit and palette/alpha modes. The reason is kept in the
sample's metadata (``image_normalised``), so nothing is changed silently.
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from cuekit.errors import SampleError
from cuekit.io import DEFAULT_MAX_IMAGE_PIXELS, ImageTooLarge, open_image, write_bytes_atomic
from cuekit.pipelines.extract.layout import image_relpath
from cuekit.schemas import ImageRef

_KEEP_FORMATS = {"JPEG": "jpeg", "PNG": "png", "WEBP": "webp"}
_KEEP_MODES = {"RGB", "L"}
_EXIF_ORIENTATION = 0x0112


@dataclass(frozen=True)
class LoadedImage:
    ref: ImageRef
    image: Image.Image  # RGB, upright, as stored
    data: bytes
    normalised: str | None  # why the bytes were re-encoded, if they were


def _payload_bytes(payload: Any, base_dir: Path | None, field: str, sample_id: str) -> bytes:
    """Turn one image payload (bytes, path, HF struct or PIL image) into encoded bytes."""
    if isinstance(payload, dict):
        if payload.get("bytes"):
            return bytes(payload["bytes"])
        if payload.get("path"):
            return _payload_bytes(payload["path"], base_dir, field, sample_id)
        raise SampleError(
            "image struct has neither bytes nor path",
            sample_id=sample_id,
            field=field,
            stage="decode",
        )
    if isinstance(payload, (bytes, bytearray, memoryview)):
        return bytes(payload)
    if isinstance(payload, Image.Image):
        buffer = io.BytesIO()
        payload.save(buffer, format="PNG")
        return buffer.getvalue()
    if isinstance(payload, (str, os.PathLike)):
        path = Path(payload).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise SampleError(
                f"image file not found: {path}", sample_id=sample_id, field=field, stage="decode"
            ) from None
        except OSError as exc:
            raise SampleError(
                f"cannot read image file {path}: {exc.strerror}",
                sample_id=sample_id,
                field=field,
                stage="decode",
            ) from None
    raise SampleError(
        f"unsupported image value of type {type(payload).__name__}",
        sample_id=sample_id,
        field=field,
        stage="decode",
    )


def _to_rgb(image: Image.Image) -> Image.Image:
    """Convert any PIL mode to 8-bit RGB without clipping 16-bit data or dropping alpha badly."""
    if image.mode.startswith("I") or image.mode == "F":
        # 16/32-bit or float greyscale: rescale to 8 bits instead of clipping at 255.
        values = np.asarray(image, dtype=np.float64)
        full_scale = 65535.0 if values.size and values.max() > 255 else 255.0
        scaled = np.clip(values / full_scale * 255.0 + 0.5, 0, 255).astype(np.uint8)
        image = Image.fromarray(scaled, mode="L")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def load_image(
    payload: Any,
    *,
    index: int,
    sample_id: str,
    base_dir: Path | None = None,
    max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS,
) -> LoadedImage:
    """Decode and check one image; bad input raises SampleError naming ``images[index]``."""
    field = f"images[{index}]"
    data = _payload_bytes(payload, base_dir, field, sample_id)
    if not data:
        raise SampleError(
            "image is empty (0 bytes)", sample_id=sample_id, field=field, stage="decode"
        )
    try:
        opened = open_image(data, max_pixels=max_pixels)
    except ImageTooLarge as exc:
        raise SampleError(
            f"{exc} (possible decompression bomb; raise --max-image-pixels)",
            sample_id=sample_id,
            field=field,
            stage="decode",
        ) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise SampleError(
            f"decompression bomb refused: {exc}", sample_id=sample_id, field=field, stage="decode"
        ) from None
    except UnidentifiedImageError:
        raise SampleError(
            "not a recognised image format", sample_id=sample_id, field=field, stage="decode"
        ) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise SampleError(
            f"corrupt or truncated image: {exc}", sample_id=sample_id, field=field, stage="decode"
        ) from None
    fmt = (opened.format or "").upper()
    orientation = opened.getexif().get(_EXIF_ORIENTATION, 1)
    reasons = []
    if orientation not in (0, 1):
        reasons.append(f"EXIF orientation {orientation}")
    if opened.mode not in _KEEP_MODES:
        reasons.append(f"mode {opened.mode}")
    if fmt not in _KEEP_FORMATS:
        reasons.append(f"format {fmt or 'unknown'}")
    if not reasons:
        image = opened.convert("RGB")
        ref_format = _KEEP_FORMATS[fmt]
    else:
        image = _to_rgb(ImageOps.exif_transpose(opened))
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        data, ref_format = buffer.getvalue(), "png"
    digest = hashlib.sha256(data).hexdigest()
    ref = ImageRef(
        path=image_relpath(digest, ref_format),
        sha256=digest,
        width=image.width,
        height=image.height,
        format=ref_format,
    )
    return LoadedImage(ref=ref, image=image, data=data, normalised=", ".join(reasons) or None)


def store_image(root: Path, loaded: LoadedImage) -> None:
    """Write the bytes to their content-addressed path, once."""
    target = root / loaded.ref.path
    if not target.exists():
        write_bytes_atomic(target, loaded.data)


def store_image_bytes(
    root: Path,
    data: bytes,
    *,
    sample_id: str,
    index: int = 0,
    max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS,
) -> ImageRef:
    """Check encoded image bytes as extract does, store them under ``root``; their ref.

    The way to put an image into an extract folder built from records (see
    :func:`cuekit.pipelines.extract.layout.write_extract_dir`).
    """
    loaded = load_image(data, index=index, sample_id=sample_id, max_pixels=max_pixels)
    store_image(root, loaded)
    return loaded.ref
