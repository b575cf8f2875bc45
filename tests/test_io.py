"""The atomic writers and the one image opener (cuekit.io)."""

from __future__ import annotations

import io as stdlib_io
import json

import polars as pl
import pytest
from PIL import Image

from cuekit.errors import OutputError, SampleError
from cuekit.io import (
    ImageTooLarge,
    decode_sample_image,
    open_image,
    save_png_atomic,
    write_bytes_atomic,
    write_json_atomic,
    write_parquet_atomic,
)


def _jpeg(size=(64, 48), exif_orientation: int | None = None) -> bytes:
    image = Image.new("RGB", size, (200, 30, 30))
    buffer = stdlib_io.BytesIO()
    exif = Image.Exif()
    if exif_orientation is not None:
        exif[0x0112] = exif_orientation
    image.save(buffer, format="JPEG", exif=exif)
    return buffer.getvalue()


def test_writers_take_the_path_first_and_leave_no_temp_files(tmp_path):
    write_json_atomic(tmp_path / "a" / "x.json", {"b": 1, "a": [1, 2]})
    assert (tmp_path / "a" / "x.json").read_text() == json.dumps(
        {"a": [1, 2], "b": 1}, indent=2, sort_keys=True
    ) + "\n"
    write_parquet_atomic(tmp_path / "t.parquet", pl.DataFrame({"k": [1, 2]}))
    assert pl.read_parquet(tmp_path / "t.parquet")["k"].to_list() == [1, 2]
    write_bytes_atomic(tmp_path / "b.bin", b"abc")
    save_png_atomic(tmp_path / "i.png", Image.new("RGB", (3, 2)))
    assert Image.open(tmp_path / "i.png").size == (3, 2)
    assert sorted(p.name for p in tmp_path.rglob("*") if p.name.startswith(".")) == []


def test_a_failed_write_is_an_output_error_naming_the_target(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(OutputError, match="cannot write the output"):
        write_bytes_atomic(blocker / "x.bin", b"abc")


def test_open_image_modes():
    data = _jpeg((64, 48), exif_orientation=6)  # rotated 90 degrees: upright is 48x64
    assert open_image(data).size == (64, 48)
    assert open_image(data, upright=True).size == (48, 64)
    assert open_image(data, decode="lazy").size == (64, 48)
    assert open_image(data, decode="draft").size == (8, 6)  # a JPEG at 1/8 scale
    assert open_image(data, mode="L").mode == "L"
    with pytest.raises(ImageTooLarge, match="64x48 = 3,072 pixels, over the limit of 1,000"):
        open_image(data, max_pixels=1000)


def test_bad_sample_image_bytes_name_the_sample():
    with pytest.raises(SampleError, match="image does not decode") as info:
        decode_sample_image(_jpeg()[:40], sample_id="s1", field="sample.images.0", stage="read")
    assert (info.value.sample_id, info.value.field) == ("s1", "sample.images.0")
