"""The bad-image corpus: every case is either normalised with a recorded reason or refused."""

import hashlib
import io

import numpy as np
import pytest
from PIL import Image

from cuekit.errors import SampleError
from cuekit.pipelines.extract.images import load_image, store_image


def _encode(image: Image.Image, fmt: str, **kw) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kw)
    return buffer.getvalue()


def _rgb(width=40, height=30) -> Image.Image:
    arr = np.zeros((height, width, 3), dtype=np.uint8)
    arr[:, : width // 2] = (200, 30, 30)
    return Image.fromarray(arr)


def test_plain_png_and_jpeg_are_kept_byte_for_byte(tmp_path):
    for fmt, ext in (("PNG", "png"), ("JPEG", "jpeg")):
        data = _encode(_rgb(), fmt)
        loaded = load_image(data, index=0, sample_id="s")
        assert loaded.data == data
        assert loaded.normalised is None
        assert loaded.ref.sha256 == hashlib.sha256(data).hexdigest()
        assert (loaded.ref.width, loaded.ref.height, loaded.ref.format) == (40, 30, ext)
        assert loaded.ref.path == f"images/{loaded.ref.sha256[:2]}/{loaded.ref.sha256}.{ext}"
        store_image(tmp_path, loaded)
        assert (tmp_path / loaded.ref.path).read_bytes() == data


def test_exif_rotation_is_applied_and_recorded():
    image = _rgb(40, 30)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    loaded = load_image(_encode(image, "JPEG", exif=exif), index=0, sample_id="s")
    assert (loaded.ref.width, loaded.ref.height) == (30, 40)
    assert loaded.image.size == (30, 40)
    assert loaded.ref.format == "png"
    assert loaded.normalised == "EXIF orientation 6"


def test_cmyk_becomes_rgb():
    cmyk = _rgb().convert("CMYK")
    loaded = load_image(_encode(cmyk, "JPEG"), index=0, sample_id="s")
    assert loaded.image.mode == "RGB"
    assert loaded.normalised == "mode CMYK"
    assert Image.open(io.BytesIO(loaded.data)).mode == "RGB"


def test_16_bit_greyscale_is_rescaled_not_clipped():
    arr = np.full((10, 12), 40000, dtype=np.uint16)
    arr[:, :6] = 1000
    loaded = load_image(_encode(Image.fromarray(arr), "PNG"), index=0, sample_id="s")
    assert loaded.image.mode == "RGB"
    pixels = np.asarray(loaded.image)
    assert pixels[0, 0, 0] == round(1000 / 65535 * 255)
    assert pixels[0, 11, 0] == round(40000 / 65535 * 255)
    assert "mode I;16" in loaded.normalised


def test_rgba_is_composited_on_white():
    rgba = Image.new("RGBA", (8, 8), (255, 0, 0, 0))  # fully transparent red
    loaded = load_image(_encode(rgba, "PNG"), index=0, sample_id="s")
    assert loaded.image.getpixel((0, 0)) == (255, 255, 255)
    assert loaded.normalised == "mode RGBA"


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        (b"", "image is empty"),
        (b"this is not an image at all", "not a recognised image format"),
        (_encode(_rgb(), "PNG")[:60], "corrupt or truncated"),
        (_encode(_rgb(200, 200), "JPEG")[:300], "corrupt or truncated"),
        ("does/not/exist.png", "image file not found"),
        ({"bytes": None, "path": None}, "neither bytes nor path"),
        (12345, "unsupported image value of type int"),
    ],
)
def test_bad_images_are_refused_with_the_field(payload, fragment):
    with pytest.raises(SampleError) as info:
        load_image(payload, index=2, sample_id="bad-1")
    assert info.value.field == "images[2]"
    assert info.value.sample_id == "bad-1"
    assert info.value.stage == "decode"
    assert fragment in str(info.value)


def test_decompression_bomb_is_refused_before_decoding():
    big = Image.new("L", (5000, 5000))
    data = _encode(big, "PNG", optimize=True)
    with pytest.raises(SampleError, match="over the limit of 1,000,000 .*max-image-pixels"):
        load_image(data, index=0, sample_id="bomb", max_pixels=1_000_000)


def test_payload_kinds_agree(tmp_path):
    data = _encode(_rgb(), "PNG")
    (tmp_path / "x.png").write_bytes(data)
    refs = {
        load_image(data, index=0, sample_id="s").ref,
        load_image({"bytes": data, "path": None}, index=0, sample_id="s").ref,
        load_image({"bytes": None, "path": "x.png"}, index=0, sample_id="s", base_dir=tmp_path).ref,
        load_image("x.png", index=0, sample_id="s", base_dir=tmp_path).ref,
    }
    assert len(refs) == 1
