"""Phrases -> detections -> rendered cue, for batches of prepared samples."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cuekit.cues import find_leak, get_phrase_extractor, render_cue
from cuekit.cues.render import DEFAULT_MAX_CUE_TOKENS, RenderedCue
from cuekit.cues.wording import LATEST_CUE_WORDING
from cuekit.errors import CuekitError, SampleError
from cuekit.grounding.base import DetectItem, DetectorBackend
from cuekit.io import save_png_atomic
from cuekit.pipelines.extract.layout import MARKS_DIR
from cuekit.pipelines.extract.prepare import Failed, Prepared, error_row
from cuekit.schemas import (
    CueRecord,
    Detection,
    ExtractedSample,
    ExtractorSettings,
    Phrase,
    validate,
)


def _is_run_failure(exc: BaseException) -> bool:
    """Failures that every sample would hit alike: a model that cannot load, a bad
    setting, a missing package, running out of memory."""
    import torch

    if isinstance(exc, CuekitError):
        return not isinstance(exc, SampleError)
    return isinstance(exc, (ImportError, MemoryError, torch.cuda.OutOfMemoryError))


def _reraise(exc: BaseException) -> None:
    """Re-raise a run failure; out-of-memory and missing packages say what to do."""
    import torch

    if isinstance(exc, (MemoryError, torch.cuda.OutOfMemoryError)):
        raise CuekitError(
            f"out of memory in the detector ({type(exc).__name__}): lower "
            "--batch-size, or use a smaller --detector-model"
        ) from exc
    if isinstance(exc, ImportError):
        raise CuekitError(f"a detector needs a package that is not installed: {exc}") from exc
    raise exc


@dataclass
class Done:
    row_index: int
    record: ExtractedSample
    counts: dict[str, int] = field(default_factory=dict)  # what was left out (run_counts)


@dataclass(frozen=True)
class CueBuilder:
    """Runs the detector backends on a batch and renders each sample's cue."""

    backends: Sequence[DetectorBackend]
    settings: ExtractorSettings
    cue_style: str
    phrase_extractor: str
    output: Path
    drop_leaky: bool = False
    strict: bool = False
    max_cue_tokens: int | None = DEFAULT_MAX_CUE_TOKENS
    cue_wording: str = LATEST_CUE_WORDING

    def _detect(self, items: list[DetectItem]) -> list[list[Detection]]:
        merged: list[list[Detection]] = [[] for _ in items]
        for backend in self.backends:
            for slot, found in zip(merged, backend.detect(items), strict=True):
                slot.extend(found)
        return merged

    def _fatal(self, exc: BaseException) -> bool:
        """True when a detection failure is about the run, not one sample: stop then."""
        return self.strict or _is_run_failure(exc)

    def _detect_isolating(self, items: list[DetectItem]) -> list[list[Detection] | BaseException]:
        """Detect on the batch; if it fails, retry one sample at a time to find the culprit."""
        try:
            return list(self._detect(items))
        except Exception as exc:
            if self._fatal(exc):
                _reraise(exc)
            if len(items) == 1:
                return [exc]
        results: list[list[Detection] | BaseException] = []
        for item in items:
            item.rejected.clear()  # the failed batch's counts; this retry counts again
            try:
                results.append(self._detect([item])[0])
            except Exception as exc:  # one sample's failure must not stop the run
                if self._fatal(exc):
                    _reraise(exc)
                results.append(exc)
        return results

    def _record(
        self, prepared: Prepared, phrases: Sequence[Phrase], detections: list[Detection]
    ) -> tuple[ExtractedSample, dict[str, int]]:
        """The sample's record, and its counts of what the cue left out (run_counts)."""
        sample = prepared.sample
        rendered = render_cue(
            sample,
            phrases,
            detections,
            self.cue_style,
            prepared.images,
            max_cue_tokens=self.max_cue_tokens,
            wording=self.cue_wording,
        )
        marked = None
        if rendered.marked_image is not None:
            marked = f"{MARKS_DIR}/{sample.id}.png"
            save_png_atomic(self.output / marked, rendered.marked_image)
        leak = find_leak(rendered.text, sample.answer, sample.choices) is not None
        cue = validate(
            CueRecord,
            {
                "sample_id": sample.id,
                "phrases": phrases,
                "detections": detections,
                "cue_text": rendered.text,
                "cue_style": self.cue_style,
                "cue_wording": self.cue_wording,
                "leak": leak,
                "marked_image": marked,
                "settings": self.settings,
                "marked_image_index": rendered.marked_image_index if marked else None,
            },
            sample_id=sample.id,
        )
        if leak and self.drop_leaky:
            raise SampleError(
                "cue text contains the answer (--drop-leaky)",
                sample_id=sample.id,
                field="cue_text",
                stage="leak",
            )
        return ExtractedSample(sample=sample, cue=cue), budget_counts(rendered)

    def run(self, batch: list[Prepared]) -> Iterator[Done | Failed]:
        extract = get_phrase_extractor(self.phrase_extractor)
        items = [
            DetectItem(sample=p.sample, images=p.images, phrases=list(extract(p.sample.question)))
            for p in batch
        ]
        for prepared, item, found in zip(batch, items, self._detect_isolating(items), strict=True):
            sample = prepared.sample
            if isinstance(found, BaseException):
                yield Failed(
                    prepared.row_index,
                    error_row(
                        found, sample_id=sample.id, original_id=sample.original_id, stage="detect"
                    ),
                )
                continue
            try:
                record, budget = self._record(prepared, item.phrases, found)
                yield Done(prepared.row_index, record, {**item.rejected, **budget})
            except (SampleError, ValueError) as exc:  # ValueError: a backend broke a contract
                if self.strict:
                    raise
                yield Failed(
                    prepared.row_index,
                    error_row(
                        exc,
                        sample_id=sample.id,
                        original_id=sample.original_id,
                        stage=None if isinstance(exc, SampleError) else "render",
                    ),
                )


def budget_counts(rendered: RenderedCue) -> dict[str, int]:
    """What the cue budget left out of one cue, under run.json's ``budget/`` keys."""
    counts = {
        "budget/dropped_items": rendered.dropped_items,
        "budget/dropped_relations": rendered.dropped_relations,
    }
    counts["budget/trimmed_cues"] = int(any(counts.values()))
    return {key: value for key, value in counts.items() if value}


def batched(
    items: Iterable[Prepared | Failed], size: int, bucket: Callable[[int], int] | None = None
) -> Iterator[tuple[list[Prepared], list[Failed]]]:
    """Group prepared samples into detector batches; failures pass straight through.

    With ``bucket`` (row index -> batch number), a batch also ends where the bucket
    changes, so which rows share a batch depends on the rows alone, not on which rows
    came before (a resumed run skips some).
    """
    batch: list[Prepared] = []
    for item in items:
        if isinstance(item, Failed):
            yield [], [item]
            continue
        if batch and bucket is not None and bucket(item.row_index) != bucket(batch[0].row_index):
            yield batch, []
            batch = []
        batch.append(item)
        if len(batch) == size:
            yield batch, []
            batch = []
    if batch:
        yield batch, []
