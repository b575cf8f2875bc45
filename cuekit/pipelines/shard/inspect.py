"""`cuekit inspect`: print one sample of a shard and draw its detections.

The drawing uses supervision's BoxAnnotator and LabelAnnotator on ``sv.Detections`` built
from the record (not ``Detections.from_transformers``, which cannot take phrase labels).
"""

from __future__ import annotations

from pathlib import Path

from cuekit.errors import ConfigError, CuekitError
from cuekit.pipelines.read.reader import DecodedSample, decode_sample, raw_samples
from cuekit.pipelines.shard import manifest as mf
from cuekit.schemas import KEY_FIELD


def _shard_for_key(folder: str, key: str) -> str:
    table = mf.read_manifest_table(folder)
    if table is None:
        raise ConfigError(f"{folder} has no {mf.MANIFEST_FILE}: pass a shard file instead")
    rows = table.filter(table["key"] == key)
    if rows.height == 0:
        raise CuekitError(f"key {key!r} is not in {folder}/{mf.MANIFEST_FILE}")
    return f"{folder.rstrip('/')}/{rows['shard'][0]}"


def load_sample(location: str, key: str | None = None) -> DecodedSample:
    """The decoded sample ``key`` (default: the first) of a shard path/URL or shard folder."""
    if not mf.is_remote(location) and Path(location).is_dir():
        if key is None:
            table = mf.read_shards_table(location)
            if table is None or table.height == 0:
                raise ConfigError(f"{location} holds no listed shards")
            location = str(Path(location) / table.sort("shard_index")["shard"][0])
        else:
            location = _shard_for_key(location, key)
    try:
        for raw in raw_samples([location]):
            if key is None or raw[KEY_FIELD] == key:
                return decode_sample(raw, image_mode="RGB")
    except FileNotFoundError:
        raise CuekitError(f"{location}: no such shard") from None
    raise CuekitError(f"key {key!r} not found in {location}" if key else f"{location} is empty")


def format_sample(decoded: DecodedSample) -> str:
    """A readable block: question, answer, phrases, detections, hint, images."""
    record = decoded.record
    sample, cue = record.sample, record.cue
    lines = [
        f"key:       {decoded.key}  ({decoded.url})",
        f"source:    {sample.source}/{sample.split}  original id {sample.original_id!r}",
        f"question:  {sample.question}",
        f"answer:    {sample.answer}",
    ]
    if sample.choices:
        lines.append(f"choices:   {sample.choices}")
    for i, (ref, image) in enumerate(zip(sample.images, decoded.images, strict=True)):
        lines.append(f"image {i}:   {ref.path} {ref.format} {image.width}x{image.height}")
    lines.append(f"phrases:   {[p.text for p in cue.phrases]}")
    lines.append(f"detections ({len(cue.detections)}):")
    for det in cue.detections:
        box = ", ".join(f"{v:.1f}" for v in det.xyxy)
        lines.append(
            f"  [{det.image_index}] {det.label!r} score {det.score:.2f} xyxy ({box}) "
            f"box_1000 {list(det.box_1000)} via {det.backend}"
        )
    lines.append(f"cue style: {cue.cue_style}  leak: {cue.leak}")
    lines.append(f"hint:      {decoded.hint}")
    return "\n".join(lines)


def render_detections(decoded: DecodedSample, out_path: str | Path, image_index: int = 0) -> Path:
    """Draw the detections of image ``image_index`` with supervision and save to ``out_path``."""
    import numpy as np
    import supervision as sv
    from PIL import Image

    images = decoded.images
    if not 0 <= image_index < len(images):
        raise ConfigError(
            f"image index {image_index} out of range: the sample has {len(images)} image(s)"
        )
    cue = decoded.record.cue
    dets = [d for d in cue.detections if d.image_index == image_index]
    scene = np.asarray(images[image_index].convert("RGB")).copy()  # (H, W, 3) uint8
    if dets:
        detections = sv.Detections(
            xyxy=np.array([d.xyxy for d in dets], dtype=np.float32),  # (N, 4)
            confidence=np.array([d.score for d in dets], dtype=np.float32),
            # one colour per phrase; detections without a phrase (OCR) share the last one
            class_id=np.array(
                [d.phrase_index if d.phrase_index is not None else len(cue.phrases) for d in dets],
                dtype=np.int64,
            ),
            data={"class_name": np.array([d.label for d in dets])},
        )
        labels = [f"{d.label} {d.score:.2f}" for d in dets]
        scene = sv.BoxAnnotator(thickness=2).annotate(scene, detections)
        scene = sv.LabelAnnotator(text_scale=0.4, text_padding=4).annotate(
            scene, detections, labels=labels
        )
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(scene).save(out)
    return out
