"""`cuekit extract` and `cuekit merge`: ground each question in its image and render cues."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import click

from cuekit.cues.render import DEFAULT_MAX_CUE_TOKENS
from cuekit.devices import local_rank, resolve_device
from cuekit.grounding.base import DetectorOptions, backend_names
from cuekit.schemas import CUE_STYLES, CUE_WORDINGS

_OCR_KEEP = ("mentioned", "labels", "numbers", "lines", "all")


def _env_int(name: str) -> int | None:
    value = os.environ.get(name)
    return int(value) if value and value.isdigit() else None


@click.command("extract")
@click.option("--dataset", required=True,
              help="HF dataset id, a .parquet/.arrow/.jsonl file, a folder of parquet/arrow "
                   "files (a hub snapshot), an image folder with a .jsonl of questions, "
                   "'sample' (bundled synthetic set) or 'cueworld' (CueWorld, splits "
                   "train/val/test). Columns are recognised by schema (geometry3k, MathVista, "
                   "MMMU, common names).")
@click.option("--output", "-o", required=True, type=click.Path(path_type=Path),
              help="Output folder (cues.parquet, errors.parquet, run.json, images/).")
@click.option("--split", default="train", show_default=True, help="Dataset split to read.")
@click.option("--name", default=None, help="HF dataset configuration name.")
@click.option("--streaming", is_flag=True, help="Stream the HF dataset instead of downloading it.")
@click.option("--question-field", default=None, help="Row field holding the question.")
@click.option("--image-field", default=None, help="Row field holding the image(s).")
@click.option("--answer-field", default=None, help="Row field holding the answer.")
@click.option("--choices-field", default=None, help="Row field holding multiple-choice options.")
@click.option("--id-field", default=None, help="Row field holding the sample id (default: row "
                                               "number).")
@click.option("--detector", "detectors", multiple=True, type=click.Choice(backend_names()),
              help="Detector backend; repeat to combine. [default: grounding-dino]")
@click.option("--detector-model", default=None, envvar="CUEKIT_DETECTOR_MODEL",
              help="Grounding DINO id or local folder [default: IDEA-Research/grounding-dino-tiny;"
                   " 'tiny-random' builds a tiny offline model].")
@click.option("--box-threshold", default=0.30, show_default=True, type=float,
              help="Minimum box score for a detection.")
@click.option("--text-threshold", default=0.25, show_default=True, type=float,
              help="Minimum score of a phrase's own tokens for a box to count as that phrase.")
@click.option("--nms-iou", default=0.5, show_default=True, type=float,
              help="IoU above which same-phrase boxes are suppressed.")
@click.option("--ocr-keep", default="mentioned,labels,numbers,lines", show_default=True,
              help=f"OCR text to keep, comma-separated from: {', '.join(_OCR_KEEP)}.")
@click.option("--annotations-field", default="objects", show_default=True,
              help="Metadata field holding ground-truth boxes (annotations backend).")
@click.option("--cue-style", type=click.Choice(CUE_STYLES), default="hint", show_default=True,
              help="hint: words only; boxes: adds 0-1000 coordinates; marks: numbered boxes "
                   "drawn on a copy of the image.")
@click.option("--max-cue-tokens", default=DEFAULT_MAX_CUE_TOKENS, show_default=True, type=int,
              help="Cue budget in words and punctuation marks; relations, then the least "
                   "relevant items, are dropped to fit. 0: no budget.")
@click.option("--cue-wording", type=click.Choice(CUE_WORDINGS), default=None,
              help="Version of the cue's words: v2 has articles and agreement ('the red "
                   "circle'), v1 bare nouns. [default: v2; cueworld: v1, which its shipped "
                   "models learnt]")
@click.option("--drop-leaky", is_flag=True,
              help="Send samples whose cue contains the answer to errors.parquet.")
@click.option("--limit", type=int, default=None, help="Process only the first N rows.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Generated datasets (sample, cueworld): which rows to draw.")
@click.option("--batch-size", default=4, show_default=True, type=int,
              help="Images per detector forward pass.")
@click.option("--num-workers", default=0, show_default=True, type=int,
              help="DataLoader workers decoding images while the detector runs.")
@click.option("--device", default="cpu", show_default=True,
              help="Torch device for the detector (cpu, cuda, cuda:1...).")
@click.option("--max-image-pixels", default=64_000_000, show_default=True, type=int,
              help="Refuse larger images (decompression-bomb guard).")
@click.option("--rank", type=int, default=None,
              help="This process's rank [default: $RANK or 0].")
@click.option("--world-size", type=int, default=None,
              help="Number of processes splitting the rows [default: $WORLD_SIZE or 1].")
@click.option("--strict", is_flag=True, help="Stop at the first bad sample.")
@click.option("--max-error-rate", default=0.1, show_default=True,
              type=click.FloatRange(0.0, 1.0),
              help="Exit non-zero (listing the top error reasons) when a larger share of "
                   "rows ends in errors.parquet. A run with no successful sample always "
                   "exits non-zero.")
@click.option("--tolerate-errors", is_flag=True,
              help="Only warn when --max-error-rate is exceeded (still fails if nothing "
                   "succeeded).")
@click.option("--overwrite", is_flag=True, help="Discard earlier results instead of resuming.")
def extract_command(dataset: str, output: Path, split: str, name: str | None, streaming: bool,
                    question_field: str | None, image_field: str | None,
                    answer_field: str | None, choices_field: str | None, id_field: str | None,
                    detectors: tuple[str, ...], detector_model: str | None,
                    box_threshold: float, text_threshold: float, nms_iou: float,
                    ocr_keep: str, annotations_field: str, cue_style: str, max_cue_tokens: int,
                    cue_wording: str | None, drop_leaky: bool,
                    limit: int | None, seed: int, batch_size: int, num_workers: int, device: str,
                    max_image_pixels: int, rank: int | None, world_size: int | None,
                    strict: bool, max_error_rate: float, tolerate_errors: bool,
                    overwrite: bool) -> None:
    """Parse each question into phrases, ground them, and render cue text for the teacher."""
    from cuekit.pipelines.extract import ExtractConfig, run_extract
    from cuekit.pipelines.sources import SourceSpec

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    # Applied on top of the preset recognised from the data's schema.
    overrides = {k: v for k, v in {"question": question_field, "image": image_field,
                                   "answer": answer_field, "choices": choices_field,
                                   "id": id_field}.items() if v is not None}
    keep = tuple(k.strip() for k in ocr_keep.split(",") if k.strip())
    bad = [k for k in keep if k not in _OCR_KEEP]
    if bad:
        raise click.BadParameter(f"unknown value(s) {bad}; choose from {', '.join(_OCR_KEEP)}",
                                 param_hint="--ocr-keep")
    options = DetectorOptions(model=detector_model, box_threshold=box_threshold,
                              text_threshold=text_threshold, nms_iou=nms_iou,
                              device=resolve_device(device, local_rank=local_rank()),
                              batch_size=batch_size, ocr_keep=keep,
                              annotations_field=annotations_field)
    config = ExtractConfig(
        source=SourceSpec(dataset=dataset, split=split, name=name, streaming=streaming,
                          overrides=overrides, seed=seed),
        output=output, detectors=detectors or ("grounding-dino",), detector=options,
        cue_style=cue_style, max_cue_tokens=max_cue_tokens or None, cue_wording=cue_wording,
        limit=limit,
        num_workers=num_workers, drop_leaky=drop_leaky,
        strict=strict, overwrite=overwrite,
        rank=rank if rank is not None else (_env_int("RANK") or 0),
        world_size=world_size if world_size is not None else (_env_int("WORLD_SIZE") or 1),
        max_image_pixels=max_image_pixels)
    result = run_extract(config)
    click.echo(result.summary())
    if result.counts is None:  # other ranks still running: the merging rank checks
        return
    from cuekit.pipelines.extract_health import failure_report

    problem = failure_report(output, result.counts, max_error_rate=max_error_rate)
    if problem is None:
        return
    if tolerate_errors and result.counts["ok"] > 0:
        click.echo(f"warning: {problem}", err=True)
        return
    raise click.ClickException(problem)

@click.command("merge")
@click.argument("output", type=click.Path(path_type=Path, exists=True, file_okay=False))
def merge_command(output: Path) -> None:
    """Merge the per-rank parts of an extract run into its final tables."""
    from cuekit.pipelines.parts import merge_parts, rank_markers

    if not rank_markers(output):
        raise click.ClickException(f"{output}: no finished extract parts to merge")
    counts = merge_parts(output, {"stage": "extract", "merged_by": "cuekit merge"})
    click.echo(f"merge: {counts['input']} samples -> {counts['ok']} cues, "
               f"{counts['errors']} errors -> {output}")
