"""The settings of `cuekit extract`, each documented once (see :mod:`cuekit.settings`).

The command line is flat (``--box-threshold``, ``--split``...); :meth:`ExtractSettings.to_config`
builds the stage's nested :class:`~cuekit.pipelines.extract.run.ExtractConfig` from it.
Detector defaults are :class:`~cuekit.grounding.base.DetectorOptions`' own; the other
defaults are the stage's too (``ExtractConfig`` reads them from :class:`ExtractSettings`).
`cuekit merge`, which finishes a multi-rank extract, has its settings here as well.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click

from cuekit.cues.render import DEFAULT_MAX_CUE_TOKENS
from cuekit.devices import check_device, env_int, local_rank, resolve_device
from cuekit.errors import ConfigError
from cuekit.grounding.base import DetectorOptions, backend_names
from cuekit.io import DEFAULT_MAX_IMAGE_PIXELS
from cuekit.schemas import CUE_STYLES, CUE_WORDINGS
from cuekit.settings import setting

if TYPE_CHECKING:
    from cuekit.pipelines.extract.run import ExtractConfig

OCR_KEEP = ("mentioned", "labels", "numbers", "lines", "all")
_EXISTING_FOLDER = click.Path(path_type=Path, exists=True, file_okay=False)


@dataclass(frozen=True)
class ExtractSettings:
    """What `cuekit extract` accepts, flag for flag."""

    dataset: str = setting(
        description="HF dataset id, a .parquet/.arrow/.jsonl file, a folder of parquet/arrow "
        "files (a hub snapshot), an image folder with a .jsonl of questions, 'sample' "
        "(bundled synthetic set) or 'cueworld' (CueWorld, splits train/val/test). Columns are "
        "recognised by schema (geometry3k, MathVista, MMMU, common names)."
    )
    output: Path = setting(
        description="Output folder (cues.parquet, errors.parquet, run.json, images/).", short="-o"
    )
    split: str = setting("train", "Dataset split to read.")
    name: str | None = setting(None, "HF dataset configuration name.")
    streaming: bool = setting(False, "Stream the HF dataset instead of downloading it.")
    question_field: str | None = setting(None, "Row field holding the question.")
    image_field: str | None = setting(None, "Row field holding the image(s).")
    answer_field: str | None = setting(None, "Row field holding the answer.")
    choices_field: str | None = setting(None, "Row field holding multiple-choice options.")
    id_field: str | None = setting(None, "Row field holding the sample id (default: row number).")
    detectors: tuple[str, ...] = setting(
        ("grounding-dino",),
        "Detector backend; repeat to combine.",
        flag="detector",
        multiple=True,
        choices=backend_names,
    )
    detector_model: str | None = setting(
        DetectorOptions.model,
        "Grounding DINO id or local folder [default: "
        "IDEA-Research/grounding-dino-tiny; 'tiny-random' builds a tiny offline model].",
        envvar="CUEKIT_DETECTOR_MODEL",
    )
    box_threshold: float = setting(
        DetectorOptions.box_threshold, "Minimum box score for a detection."
    )
    text_threshold: float = setting(
        DetectorOptions.text_threshold,
        "Minimum score of a phrase's own tokens for a box to count as that phrase.",
    )
    nms_iou: float = setting(
        DetectorOptions.nms_iou, "IoU above which same-phrase boxes are suppressed."
    )
    ocr_keep: str = setting(
        ",".join(DetectorOptions.ocr_keep),
        f"OCR text to keep, comma-separated from: {', '.join(OCR_KEEP)}.",
    )
    annotations_field: str = setting(
        DetectorOptions.annotations_field,
        "Metadata field holding ground-truth boxes (annotations backend).",
    )
    cue_style: str = setting(
        "hint",
        "hint: words only; boxes: adds 0-1000 coordinates; "
        "marks: numbered boxes drawn on a copy of the image.",
        choices=CUE_STYLES,
    )
    max_cue_tokens: int = setting(
        DEFAULT_MAX_CUE_TOKENS,
        "Cue budget in words and "
        "punctuation marks; relations, then the least relevant "
        "items, are dropped to fit. 0: no budget.",
    )
    cue_wording: str | None = setting(
        None,
        "Version of the cue's words: v2 has articles and "
        "agreement ('the red circle'), v1 bare nouns. [default: "
        "v2; cueworld: v1, which its shipped models learnt]",
        choices=CUE_WORDINGS,
    )
    drop_leaky: bool = setting(
        False, "Send samples whose cue contains the answer to errors.parquet."
    )
    limit: int | None = setting(None, "Process only the first N rows.")
    seed: int = setting(0, "Generated datasets (sample, cueworld): which rows to draw.")
    batch_size: int = setting(DetectorOptions.batch_size, "Images per detector forward pass.")
    num_workers: int = setting(0, "DataLoader workers decoding images while the detector runs.")
    device: str = setting(
        DetectorOptions.device, "Torch device for the detector (cpu, cuda, cuda:1...)."
    )
    max_image_pixels: int = setting(
        DEFAULT_MAX_IMAGE_PIXELS, "Refuse larger images (decompression-bomb guard)."
    )
    rank: int | None = setting(None, "This process's rank [default: $RANK or 0].")
    world_size: int | None = setting(
        None, "Number of processes splitting the rows [default: $WORLD_SIZE or 1]."
    )
    strict: bool = setting(False, "Stop at the first bad sample.")
    max_error_rate: float = setting(
        0.1,
        "Exit non-zero (listing the top error reasons) when a larger share of rows ends "
        "in errors.parquet. A run with no successful sample always exits non-zero.",
        click_type=click.FloatRange(0.0, 1.0),
    )
    tolerate_errors: bool = setting(
        False, "Only warn when --max-error-rate is exceeded (still fails if nothing succeeded)."
    )
    overwrite: bool = setting(False, "Discard earlier results instead of resuming.")

    def __post_init__(self) -> None:
        bad = [k for k in self.keep() if k not in OCR_KEEP]
        if bad:
            raise ConfigError(
                f"--ocr-keep: unknown value(s) {bad}; choose from {', '.join(OCR_KEEP)}"
            )
        if not 0.0 <= self.max_error_rate <= 1.0:
            raise ConfigError(f"--max-error-rate must be in [0, 1], got {self.max_error_rate}")
        check_device(self.device)

    def keep(self) -> tuple[str, ...]:
        """``--ocr-keep`` as a tuple of names."""
        return tuple(k.strip() for k in self.ocr_keep.split(",") if k.strip())

    def to_config(self) -> ExtractConfig:
        """The stage's config; ``--rank``/``--world-size`` default to torchrun's variables."""
        from cuekit.datasets.sources import SourceSpec
        from cuekit.pipelines.extract.run import ExtractConfig

        # Applied on top of the preset recognised from the data's schema.
        overrides = {
            k: v
            for k, v in {
                "question": self.question_field,
                "image": self.image_field,
                "answer": self.answer_field,
                "choices": self.choices_field,
                "id": self.id_field,
            }.items()
            if v is not None
        }
        options = DetectorOptions(
            model=self.detector_model,
            box_threshold=self.box_threshold,
            text_threshold=self.text_threshold,
            nms_iou=self.nms_iou,
            device=resolve_device(self.device, local_rank=local_rank()),
            batch_size=self.batch_size,
            ocr_keep=self.keep(),
            annotations_field=self.annotations_field,
        )
        return ExtractConfig(
            source=SourceSpec(
                dataset=self.dataset,
                split=self.split,
                name=self.name,
                streaming=self.streaming,
                overrides=overrides,
                seed=self.seed,
            ),
            output=self.output,
            detectors=self.detectors or ExtractSettings.detectors,
            detector=options,
            cue_style=self.cue_style,
            max_cue_tokens=self.max_cue_tokens or None,
            cue_wording=self.cue_wording,
            limit=self.limit,
            num_workers=self.num_workers,
            drop_leaky=self.drop_leaky,
            strict=self.strict,
            overwrite=self.overwrite,
            rank=self.rank if self.rank is not None else (env_int("RANK") or 0),
            world_size=self.world_size
            if self.world_size is not None
            else (env_int("WORLD_SIZE") or 1),
            max_image_pixels=self.max_image_pixels,
        )


@dataclass(frozen=True)
class MergeSettings:
    """What `cuekit merge` accepts."""

    output: Path = setting(
        description="Output folder of a multi-rank extract run.",
        argument=True,
        click_type=_EXISTING_FOLDER,
    )
