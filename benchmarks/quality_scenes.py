"""Scenes with known truth for the cue-quality benchmark.

* **Rendered scenes**: the bundled sample's geometry, charts and shapes, and CueWorld
  rows, each re-rendered with one of several fonts and then scaled, laid on a tinted
  or textured background, noised and JPEG-compressed, so that OCR is really tested.
  Every text object keeps its exact string and its box (scaled with the image).
* **Real photos and scans** shipped in PyPI packages (scikit-image, matplotlib), with
  hand labels in ``real_images.json``: is there text, and what it says.

The augmentations are drawn from a ``random.Random`` seeded per scene, so a run is
reproducible. Fonts are swapped by patching the generators' ``_font`` helpers for the
duration of one render only; the library's own renders are untouched.
"""

from __future__ import annotations

import contextlib
import io
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from PIL import Image, ImageFilter, ImageFont

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONTS: tuple[str | None, ...] = (
    None,  # Pillow's bundled font, what the generators use
    "DejaVuSans.ttf",
    "DejaVuSerif.ttf",
    "DejaVuSansMono.ttf",
    "DejaVuSans-Bold.ttf",
    "DejaVuSansCondensed-Oblique.ttf",
)
REAL_IMAGES = Path(__file__).with_name("real_images.json")


@dataclass
class Scene:
    """One image, its question, and the truth about what is drawn in it."""

    id: str
    source: str  # "sample-geometry", "sample-chart", "sample-shapes", "cueworld", "photo"
    image: Image.Image
    question: str
    answer: str
    choices: list[str] | None
    objects: list[dict[str, Any]]  # {"label", "kind", "xyxy"}; kind "text" for text
    has_text: bool = True
    augment: dict[str, Any] = field(default_factory=dict)

    @property
    def texts(self) -> list[dict[str, Any]]:
        return [o for o in self.objects if o.get("kind") in _TEXT_KINDS]


def _text_kinds() -> frozenset[str]:
    from cuekit.datasets.sample.rows import TEXT_KINDS

    return frozenset(TEXT_KINDS) | {"text"}  # CueWorld's digits are kind "text"


_TEXT_KINDS = _text_kinds()


@lru_cache(maxsize=64)
def _truetype(name: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT_DIR / name), size)


@contextlib.contextmanager
def _font(name: str | None) -> Iterator[None]:
    """Render with font ``name`` (None: the generators' own) inside the block."""
    from cuekit.cueworld import scenes as cueworld_scenes
    from cuekit.datasets.sample import canvas as sample_canvas

    if name is None or not (FONT_DIR / name).exists():
        yield
        return
    saved = sample_canvas._font, cueworld_scenes._font
    sample_canvas._font = cueworld_scenes._font = lambda size: _truetype(name, size)
    try:
        yield
    finally:
        sample_canvas._font, cueworld_scenes._font = saved


def _texture(rng: random.Random, size: tuple[int, int]) -> Image.Image:
    """A real photo texture (scikit-image) or a flat tint when it is not installed."""
    try:
        from skimage import data

        name = rng.choice(("grass", "brick", "gravel", "moon"))
        texture = Image.fromarray(getattr(data, name)()).convert("RGB")
    except ImportError:
        texture = Image.new("RGB", (8, 8), (rng.randint(150, 255),) * 3)
    return texture.resize(size)


def augment(
    image: Image.Image, objects: list[dict[str, Any]], rng: random.Random, scales: tuple[float, ...]
) -> tuple[Image.Image, list[dict[str, Any]], dict[str, Any]]:
    """Scale, background, noise and JPEG; boxes follow the scale."""
    scale = rng.choice(scales)
    background = rng.choice(("white", "tint", "texture"))
    noise = rng.choice((0, 4, 10))
    quality = rng.choice((95, 60, 35))
    width, height = round(image.width * scale), round(image.height * scale)
    out = image.convert("RGB").resize((width, height), Image.Resampling.BICUBIC)
    if background == "tint":
        tint = Image.new("RGB", out.size, tuple(rng.randint(170, 235) for _ in range(3)))
        out = Image.blend(out, tint, 0.3)
    elif background == "texture":
        out = Image.blend(out, _texture(rng, out.size), 0.25)
    if noise:
        import numpy as np

        pixels = np.asarray(out, dtype=np.float32)
        pixels += np.random.default_rng(rng.randint(0, 2**31)).normal(0, noise, pixels.shape)
        out = Image.fromarray(pixels.clip(0, 255).astype("uint8"))
        out = out.filter(ImageFilter.GaussianBlur(0.4))
    buffer = io.BytesIO()
    out.save(buffer, format="JPEG", quality=quality)
    out = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    scaled = [{**o, "xyxy": [v * scale for v in o["xyxy"]]} for o in objects]
    return out, scaled, {"scale": scale, "background": background, "noise": noise, "jpeg": quality}


def rendered_scenes(per_source: int = 12, seed: int = 0) -> list[Scene]:
    """``per_source`` scenes of each sample category and of CueWorld, augmented."""
    from cuekit.cueworld.dataset import cueworld_row
    from cuekit.datasets.sample.rows import CATEGORIES, _build_row

    scenes = []
    for category in CATEGORIES:
        for index in range(per_source):
            rng = random.Random(f"quality:{seed}:{category}:{index}")
            font = rng.choice(FONTS)
            with _font(font):
                row = _build_row(seed + 1000, category, index)
            image = Image.open(io.BytesIO(row["image"]))
            image, objects, info = augment(image, row["objects"], rng, (0.8, 1.0, 1.3))
            scenes.append(
                Scene(
                    f"{category}-{index}",
                    f"sample-{category}",
                    image,
                    row["question"],
                    row["answer"],
                    row["choices"],
                    objects,
                    has_text=any(o["kind"] in _TEXT_KINDS for o in objects),
                    augment={**info, "font": font or "default"},
                )
            )
    for index in range(per_source):
        rng = random.Random(f"quality:{seed}:cueworld:{index}")
        font = rng.choice(FONTS)
        with _font(font):
            row = cueworld_row("test", 5000 + index, seed)
        image = Image.open(io.BytesIO(row["image"]))
        # CueWorld draws at 96 px; OCR needs the digits a few times larger.
        image, objects, info = augment(image, row["objects"], rng, (3.0, 4.0))
        scenes.append(
            Scene(
                f"cueworld-{index}",
                "cueworld",
                image,
                row["question"],
                row["answer"],
                row["choices"],
                objects,
                augment={**info, "font": font or "default"},
            )
        )
    return scenes


def _package_file(package: str, path: str) -> Path:
    import importlib

    module = importlib.import_module(package)
    return Path(module.__file__).parent / path


def real_scenes(variants: int = 1) -> list[Scene]:
    """The labelled photos and scans; ``variants`` > 1 adds rescaled JPEG copies."""
    labels = json.loads(REAL_IMAGES.read_text())
    scenes = []
    for entry in labels:
        try:
            path = _package_file(entry["package"], entry["path"])
        except ImportError:
            continue
        if not path.exists():
            continue
        base = Image.open(path).convert("RGB")
        objects = [
            {"label": t, "kind": "text", "xyxy": [0, 0, base.width, base.height]}
            for t in entry["texts"]
        ]
        for v in range(variants):
            image, info = base, {"variant": "original"}
            if v:
                rng = random.Random(f"photo:{entry['name']}:{v}")
                scale = rng.choice((0.6, 0.8, 1.25))
                image = base.resize((round(base.width * scale), round(base.height * scale)))
                buffer = io.BytesIO()
                image.save(buffer, format="JPEG", quality=rng.choice((50, 80)))
                image = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
                info = {"variant": f"scale {scale}"}
            scenes.append(
                Scene(
                    f"{entry['name']}-{v}",
                    "photo",
                    image,
                    entry["question"],
                    "",
                    None,
                    objects,
                    has_text=entry["has_text"],
                    augment=info,
                )
            )
    return scenes
