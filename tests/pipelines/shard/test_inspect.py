"""`cuekit inspect`: load, print and render one sample."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cuekit.errors import ConfigError, CuekitError
from cuekit.pipelines.shard.inspect import format_sample, load_sample, render_detections


def test_load_by_key_from_shard_or_folder(sharded) -> None:
    out, records = sharded
    first = load_sample(str(out / "shard-000000.tar"))
    assert first.key == "s000"
    by_folder = load_sample(str(out), key="s004")
    assert by_folder.key == "s004" and by_folder.url.endswith("shard-000001.tar")
    assert by_folder.record == load_sample(str(out / "shard-000001.tar"), "s004").record
    assert load_sample(str(out)).key == "s000"
    with pytest.raises(CuekitError, match="key 'nope' is not in .*manifest.parquet"):
        load_sample(str(out), key="nope")
    with pytest.raises(CuekitError, match="key 'nope' not found in .*shard-000000.tar"):
        load_sample(str(out / "shard-000000.tar"), key="nope")
    with pytest.raises(CuekitError, match="no such shard"):
        load_sample(str(out / "missing.tar"))


def test_format_lists_every_part(sharded) -> None:
    out, records = sharded
    fields = load_sample(str(out), key="s001")
    record = records[1]
    text = format_sample(fields)
    assert f"question:  {record.sample.question}" in text
    assert f"answer:    {record.sample.answer}" in text
    assert "image 1:   s001.img1.jpg jpeg 40x30" in text
    assert "phrases:   ['angle', 'triangle']" in text
    assert f"detections ({len(record.cue.detections)}):" in text
    det = record.cue.detections[0]
    assert f"box_1000 {list(det.box_1000)} via gdino" in text
    assert f"hint:      {record.cue.cue_text}" in text


def test_render_draws_boxes(sharded, tmp_path: Path) -> None:
    out, records = sharded
    fields = load_sample(str(out), key="s001")
    target = render_detections(fields, tmp_path / "viz" / "s001.png", image_index=1)
    drawn = np.asarray(Image.open(target).convert("RGB")).astype(int)
    original = np.asarray(fields.images[1]).astype(int)
    assert drawn.shape == original.shape
    x1, y1, x2, y2 = (round(v) for v in records[1].cue.detections[1].xyxy)
    changed = np.abs(drawn - original).sum(axis=2) > 0
    assert changed[y1 : y2 + 1, x1].any() and changed[y2, x1 : x2 + 1].any()  # box edges
    with pytest.raises(ConfigError, match=r"image index 2 out of range: the sample has 2"):
        render_detections(fields, tmp_path / "x.png", image_index=2)
