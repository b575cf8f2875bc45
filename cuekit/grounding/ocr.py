"""OCR backend: reads the text of diagrams and charts offline with rapidocr (PP-OCR ONNX).

Grounding DINO finds things; this backend finds what the figure *says*: point letters,
lengths, angles, tick values, category names. ``DetectorOptions.ocr_keep`` picks which
texts become detections (any of :data:`KEEP_MODES`):

- ``mentioned``: text the question names, token by token, case-insensitive. A point
  label also counts when the question names it inside a capital token ("AC" names A).
- ``labels``: short labels: 1-3 capital letters ("A", "AB") or one word ("Apple").
- ``numbers``: numbers with an optional unit or sign: "4", "2.5", "12 cm", "35°", "40%".
- ``lines``: lines of two or more words read with a score of at least 0.9, such as the
  sentences of a scanned page (without it a text-heavy page gives an empty cue).
- ``all``: everything the recognizer returned above its text score.

Before a read is kept it must look like text on evidence other than its score
(:mod:`cuekit.grounding.ocr_checks`): letters or digits, few punctuation marks, the
question's script, no one-character runs, a label-sized box, and the same text when
its crop is read again at another scale (fewer agreeing re-reads for a text the question
names; :func:`~cuekit.grounding.ocr_checks.confirmed`). A read that is a row of numbers
(an axis's ticks, "2018 2019 2020") becomes one read per number, and a glued unit is
spaced ("12cm" -> "12 cm"). ``DetectorOptions.extra["ocr_verify"] = False``
turns these checks off (the behaviour before they existed, kept for benchmarks);
rejected reads are counted in :attr:`OcrBackend.rejected` by reason.

Settings chosen from measurements on the bundled sample (``cuekit.datasets.sample.rows``):
the direction classifier is off, because it turned short upright labels such as "90°"
upside down (read ".06"); the detector's box threshold is 0.3 instead of 0.5, because
isolated single letters score just under 0.5. Two keys of ``DetectorOptions.extra`` tune
them: ``ocr_text_score`` (recognizer confidence floor, default 0.5) and
``ocr_box_thresh`` (detector box score floor, default 0.3).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from cuekit.errors import ConfigError
from cuekit.grounding.base import DetectItem, DetectorOptions
from cuekit.grounding.ocr_checks import confirmed, implausible, reread_box
from cuekit.schemas import Detection, Phrase, clip_xyxy, xyxy_to_1000

if TYPE_CHECKING:
    from PIL import Image

KEEP_MODES: tuple[str, ...] = ("mentioned", "labels", "numbers", "lines", "all")
LINE_MIN_SCORE = 0.9
SURE_LINE_SCORE = 0.98
DEFAULT_TEXT_SCORE = 0.5
DEFAULT_BOX_THRESH = 0.3
INSTALL_HINT = "pip install 'cuekit[ocr]'"

_NUMBER_RE = re.compile(
    r"^[-+−]?(?:\d+(?:[.,]\d+)?|[.,]\d+)\s*(?:°|º|%|cm|mm|km|m|in|ft|kg|g|s|units?)?$",
    re.IGNORECASE,
)
_POINT_LABEL_RE = re.compile(r"^[A-Z]{1,3}['′]?$")  # "A", "AB", "ABC", "A'"
_WORD_RE = re.compile(r"^[A-Za-z][A-Za-z'’-]{1,15}$")  # one word: "Apple", "Mon"
_TOKEN_RE = re.compile(r"[^\W_]+(?:[.,]\d+)?")  # words and numbers, any script
_CAPITALS_RE = re.compile(r"\b[A-Z]{1,4}\b")  # point names in a question: "O", "AC", "ABC"
_REPEAT_RE = re.compile(r"(.)\1{2,}")  # "wwww": hatching and rules read as letters
_EDGE_JUNK = " \t|_:;•·"
_GLUED_UNIT_RE = re.compile(r"^([-+−]?\d+(?:[.,]\d+)?)(cm|mm|km|m|in|ft|kg|g)$")
_STOPWORDS = frozenset(
    "a an and are at by does did do for from has have how in is it many much of on or "
    "than that the this to was were what which who why with".split()
)


@dataclass(frozen=True)
class OcrText:
    """One text line as the recognizer read it, in original-image pixels."""

    text: str
    score: float
    xyxy: tuple[float, float, float, float]


def _check_keep(keep: Any) -> tuple[str, ...]:
    if isinstance(keep, str) or not isinstance(keep, (tuple, list)) or not keep:
        raise ConfigError(
            f"ocr_keep must be a non-empty tuple of modes from {list(KEEP_MODES)}, got {keep!r}"
        )
    for mode in keep:
        if mode not in KEEP_MODES:
            raise ConfigError(f"ocr_keep: unknown mode {mode!r}; choose from {list(KEEP_MODES)}")
    return tuple(keep)


def _check_fraction(extra: dict[str, Any], key: str, default: float) -> float:
    value = extra.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ConfigError(f"{key} must be a number in [0, 1], got {value!r}")
    return float(value)


def _import_rapidocr() -> Any:
    try:
        import rapidocr
    except ImportError as exc:
        raise ConfigError(
            f"the 'ocr' detector needs the rapidocr package ({exc}); install it with: "
            f"{INSTALL_HINT}"
        ) from None
    return rapidocr


@lru_cache(maxsize=4)
def _load_engine(text_score: float, box_thresh: float) -> Any:
    """One rapidocr engine per setting; its ONNX sessions load on the first call."""
    rapidocr = _import_rapidocr()
    params = {
        "Global.log_level": "critical",  # silences "The text detection result is empty"...
        "Global.use_cls": False,
        "Global.text_score": text_score,
        "Det.box_thresh": box_thresh,
    }
    engine = rapidocr.RapidOCR(params=params)
    logging.getLogger("RapidOCR").setLevel(logging.CRITICAL)
    return engine


def _clean(text: str) -> str:
    text = " ".join(text.split()).strip(_EDGE_JUNK)
    text = text[:-1].rstrip() if len(text) > 1 and text.endswith("-") else text
    # PP-OCR drops the space of a length: "12cm" is written "12 cm".
    return _GLUED_UNIT_RE.sub(r"\1 \2", text)


def _split_number_row(found: OcrText) -> list[OcrText]:
    """An axis's tick labels read as one line ("2018 2019 2020") become one read per
    number, each boxed by its share of the line's characters (a monospace estimate)."""
    words = found.text.split(" ")
    if len(words) < 2 or not all(_NUMBER_RE.match(w) for w in words):
        return [found]
    x1, y1, x2, y2 = found.xyxy
    per_char = (x2 - x1) / len(found.text)
    texts, start = [], 0
    for word in words:
        left = x1 + start * per_char
        texts.append(OcrText(word, found.score, (left, y1, left + len(word) * per_char, y2)))
        start += len(word) + 1
    return texts


def _tokens(text: str) -> set[str]:
    return {t for t in (m.lower() for m in _TOKEN_RE.findall(text)) if t not in _STOPWORDS}


def _point_letters(text: str) -> set[str]:
    return {letter for token in _CAPITALS_RE.findall(text) for letter in token}


def is_number(text: str) -> bool:
    return bool(_NUMBER_RE.match(text))


def is_label(text: str) -> bool:
    return bool(_POINT_LABEL_RE.match(text)) or (
        bool(_WORD_RE.match(text)) and not _REPEAT_RE.search(text)
    )


def is_line(text: str, score: float) -> bool:
    """Two or more words, read confidently ("12 cm" is a number with its unit)."""
    words = [w for w in text.split() if sum(c.isalpha() for c in w) >= 2]
    return len(words) >= 2 and score >= LINE_MIN_SCORE


def _names(text: str, source: str) -> bool:
    """Does ``source`` (a question or phrase) mention the OCR ``text``?"""
    if _tokens(text) & _tokens(source):
        return True
    return bool(_POINT_LABEL_RE.match(text)) and set(text.rstrip("'′")) <= _point_letters(source)


class OcrBackend:
    """Text detections from rapidocr, filtered by ``options.ocr_keep``."""

    name = "ocr"

    def __init__(self, options: DetectorOptions) -> None:
        # Validate first, so bad settings fail the same way with or without rapidocr.
        self.keep = _check_keep(options.ocr_keep)
        self.text_score = _check_fraction(options.extra, "ocr_text_score", DEFAULT_TEXT_SCORE)
        self.box_thresh = _check_fraction(options.extra, "ocr_box_thresh", DEFAULT_BOX_THRESH)
        verify = options.extra.get("ocr_verify", True)
        if not isinstance(verify, bool):
            raise ConfigError(f"ocr_verify must be true or false, got {verify!r}")
        self.verify = verify
        self.rejected: dict[str, int] = {}
        self._sample_rejected: dict[str, int] = {}  # the current sample's share, for run.json
        self._rapidocr = _import_rapidocr()
        self._engine = _load_engine(self.text_score, self.box_thresh)

    def settings(self) -> dict[str, Any]:
        return {
            "engine": "rapidocr",
            "engine_version": str(getattr(self._rapidocr, "__version__", "unknown")),
            "ocr_keep": list(self.keep),
            "text_score": self.text_score,
            "box_thresh": self.box_thresh,
            "use_cls": False,
            "verify": self.verify,
        }

    def read(self, image: Image.Image) -> list[OcrText]:
        """Every text line rapidocr finds in ``image``, unfiltered."""
        # Explicit flags: rapidocr remembers the last call's, and confirm() reads
        # without detection.
        result = self._engine(image.convert("RGB"), use_det=True, use_cls=False, use_rec=True)
        if result.txts is None or result.boxes is None:
            return []
        width, height = image.size
        texts = []
        for polygon, raw_text, score in zip(result.boxes, result.txts, result.scores, strict=True):
            text = _clean(str(raw_text))
            if not text:
                continue
            xs, ys = [float(p[0]) for p in polygon], [float(p[1]) for p in polygon]
            box = clip_xyxy((min(xs), min(ys), max(xs), max(ys)), width, height)
            texts += _split_number_row(OcrText(text, min(max(float(score), 0.0), 1.0), box))
        return texts

    def select(
        self,
        texts: Sequence[OcrText],
        question: str,
        phrases: Sequence[Phrase],
        width: int,
        height: int,
        image_index: int = 0,
    ) -> list[Detection]:
        """Keep the texts that ``ocr_keep`` asks for and turn them into detections."""
        question_letters = _point_letters(question)
        question_tokens = _tokens(question)
        detections = []
        for found in texts:
            text = found.text
            # PP-OCR reads a lone point "O" (circle centres) as the digit "0", and a
            # point's capital in lower case ("x" for X in triangle XYZ).
            if text in ("0", "o") and "O" in question_letters and "0" not in question_tokens:
                text = "O"
            elif (
                len(text) == 1
                and text.islower()
                and text.upper() in question_letters
                and text not in question_tokens
            ):
                text = text.upper()
            # A line is where a phrase is only when it says no more than the phrase
            # ("Total revenue"); a sentence that mentions it is quoted instead.
            line = is_line(text, found.score)
            phrase_index = next(
                (
                    i
                    for i, phrase in enumerate(phrases)
                    if (
                        _tokens(text) <= _tokens(phrase.text) if line else _names(text, phrase.text)
                    )
                ),
                None,
            )
            mentioned = phrase_index is not None or _names(text, question)
            keep = (
                "all" in self.keep
                or ("mentioned" in self.keep and mentioned)
                or ("labels" in self.keep and is_label(text))
                or ("numbers" in self.keep and is_number(text))
                or ("lines" in self.keep and is_line(text, found.score))
            )
            reason = None
            if keep and self.verify:
                reason = implausible(text, found.xyxy, width, height, question, mentioned=mentioned)
                if reason is not None:
                    self._reject(reason)
            if keep and reason is None:
                detections.append(
                    Detection(
                        label=text,
                        phrase_index=phrase_index,
                        image_index=image_index,
                        xyxy=found.xyxy,
                        box_1000=xyxy_to_1000(found.xyxy, width, height),
                        score=found.score,
                        backend=self.name,
                    )
                )
        return detections

    def recognize(
        self, image: Image.Image, crop: tuple[int, int, int, int], line_height: int
    ) -> str:
        """The text of ``crop`` of ``image``, rescaled to ``line_height`` pixels high."""
        region = image.convert("RGB").crop(crop)
        scale = line_height / max(region.height, 1)
        region = region.resize((max(round(region.width * scale), 1), line_height))
        result = self._engine(region, use_det=False, use_cls=False, use_rec=True)
        texts = getattr(result, "txts", None) or ("",)
        return _clean(str(texts[0]))

    def confirm(
        self, image: Image.Image, detections: Sequence[Detection], question: str = ""
    ) -> list[Detection]:
        """The detections whose text reads the same again from rescaled crops
        (:func:`~cuekit.grounding.ocr_checks.confirmed`; a text the question names
        needs fewer agreeing views).

        A line of several words read at :data:`SURE_LINE_SCORE` or more is kept as read:
        on long lines the score is reliable (a page's lines read 0.99-1.0, its misreads
        0.90-0.97), while a second read of a long line rarely matches to the character.
        """
        kept = []
        for det in detections:
            if is_line(det.label, det.score) and det.score >= SURE_LINE_SCORE:
                kept.append(det)
                continue

            def reread(view: tuple[float, int], det: Detection = det) -> str:
                return reread_box(
                    det.xyxy,
                    image.width,
                    image.height,
                    lambda crop, h: self.recognize(image, crop, h),
                    view,
                )

            mentioned = det.phrase_index is not None or _names(det.label, question)
            if not confirmed(det.label, det.score, mentioned, reread):
                self._reject("disagree")
                continue
            kept.append(det)
        return kept

    def _reject(self, reason: str) -> None:
        """Count a dropped read: over the run (``rejected``) and for the current sample."""
        for counts in (self.rejected, self._sample_rejected):
            counts[reason] = counts.get(reason, 0) + 1

    def detect(self, items: Sequence[DetectItem]) -> list[list[Detection]]:
        results = []
        for item in items:
            self._sample_rejected.clear()
            detections: list[Detection] = []
            for image_index, image in enumerate(item.images):
                found = self.select(
                    self.read(image),
                    item.sample.question,
                    item.phrases,
                    image.width,
                    image.height,
                    image_index,
                )
                if self.verify:
                    found = self.confirm(image, found, item.sample.question)
                detections += found
            for reason, count in self._sample_rejected.items():
                key = f"{self.name}/{reason}"
                item.rejected[key] = item.rejected.get(key, 0) + count
            results.append(detections)
        return results
