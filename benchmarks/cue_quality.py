"""Cue quality on scenes with known truth: true, relevant, short, never the answer.

Runs the extract stage's steps in process (phrases -> backend -> render) on the
scenes of ``quality_scenes.py`` and scores each cue against the truth:

* **fact precision**: of the items a cue states (a phrase it names, a label it
  quotes), the share whose best box overlaps a truth object with that label (for OCR:
  the exact text). Photos carry no truth boxes, so there the text alone must match.
  Positions and relations are derived from the same box, so a true box makes them true.
* **relevance recall**: of the truth objects the question names (a shape, a point
  letter, a chart category), the share covered by a true stated item.
* **hallucinated labels** (OCR, photos without text): share of photos whose cue quotes
  any read text, and quoted texts per photo.
* **OCR read recall / precision**: of all truth texts, the share that the backend's
  detections read exactly where they are (before rendering); of its detections, the
  share that are such a truth.
  A stated item is found in the cue text in any wording version (quoted or "the digit 4").
* **cue tokens**: words and punctuation marks (``\\w+|[^\\w\\s]``); **leak rate**.
* **throughput**: scenes per second through detect + render, models loaded beforehand.

It uses only APIs that predate issue 15, so the same file scores the code before the
change (``PYTHONPATH=<old checkout>``) and after; ``--compare A.json B.json`` prints both
side by side. Run with ``nice -n 19 env OMP_NUM_THREADS=1`` on a shared machine.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from quality_scenes import Scene, real_scenes, rendered_scenes  # noqa: E402

_TOKEN = re.compile(r"\w+|[^\w\s]")
_WORD = re.compile(r"[^\W_]+")


def cue_tokens(text: str) -> int:
    return len(_TOKEN.findall(text))


def _norm(text: str) -> str:
    return " ".join(text.split())


def _stem_words(text: str) -> set[str]:
    return {w.casefold().rstrip("s") or w.casefold() for w in _WORD.findall(text)}


def _overlaps(box: Sequence[float], truth: Sequence[float]) -> bool:
    """IoU >= 0.3, or the box's centre inside the truth box grown by a quarter."""
    ix = max(min(box[2], truth[2]) - max(box[0], truth[0]), 0.0)
    iy = max(min(box[3], truth[3]) - max(box[1], truth[1]), 0.0)
    union = (
        (box[2] - box[0]) * (box[3] - box[1])
        + (truth[2] - truth[0]) * (truth[3] - truth[1])
        - ix * iy
    )
    if union > 0 and ix * iy / union >= 0.3:
        return True
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    gx, gy = (truth[2] - truth[0]) / 4, (truth[3] - truth[1]) / 4
    return truth[0] - gx <= cx <= truth[2] + gx and truth[1] - gy <= cy <= truth[3] + gy


def _label_matches(det_label: str, truth: dict[str, Any], is_text: bool) -> bool:
    if is_text:
        # A read of several words may be part of a longer line ("markers are found at").
        read, line = _norm(det_label), _norm(truth["label"])
        return read == line or (" " in read and f" {read} " in f" {line} ")
    return bool(_stem_words(truth["label"]) & _stem_words(det_label))


def _states(det: Any, truth: dict[str, Any], scene: Scene) -> bool:
    """Does ``det`` state ``truth``: a drawn text by its exact string, a drawn thing by a
    shared word (OCR may state texts only), at the truth's place?"""
    is_text = truth in scene.texts
    if det.backend == "ocr" and not is_text:
        return False
    return _label_matches(det.label, truth, is_text) and (
        scene.source == "photo" or _overlaps(det.xyxy, truth["xyxy"])
    )


def _true(det: Any, scene: Scene) -> bool:
    return any(_states(det, truth, scene) for truth in scene.objects)


def _relevant(scene: Scene, phrases: Sequence[Any]) -> list[dict[str, Any]]:
    """Truth objects the question names: by a phrase's words, or a point letter of a label."""
    if scene.source == "photo":
        return []
    relevant = []
    for truth in scene.objects:
        label = truth["label"]
        for phrase in phrases:
            capitals = "".join(t for t in phrase.text.split() if t.isupper())
            if (
                _norm(label).casefold() == _norm(phrase.text).casefold()
                or (truth in scene.texts and re.fullmatch(r"[A-Z]", label) and label in capitals)
                or (
                    truth not in scene.texts
                    and (
                        _stem_words(label) <= _stem_words(phrase.text)
                        or _stem_words(phrase.text) <= _stem_words(label)
                    )
                )
            ):
                relevant.append(truth)
                break
    return relevant


def _stated_groups(
    text: str, phrases: Sequence[Any], detections: Sequence[Any]
) -> list[tuple[Any, bool]]:
    """(best detection, is read text) of every group the cue text names."""
    from cuekit.cues import describe_label

    groups: dict[tuple[Any, ...], list[Any]] = {}
    for det in detections:
        key = (
            ("p", det.image_index, det.phrase_index)
            if det.phrase_index is not None
            else ("l", det.image_index, det.label.casefold())
        )
        groups.setdefault(key, []).append(det)
    stated = []
    lowered = text.casefold()

    def names(name: str) -> bool:
        # Any wording: "red circle", "the red circle", "2 red circles" (cuekit.cues.wording).
        pattern = rf"(?<!\w){re.escape(name.casefold())}(?:e?s)?(?!\w)"
        return re.search(pattern, lowered) is not None

    for key, group in groups.items():
        best = max(group, key=lambda d: d.score)
        is_text = best.backend == "ocr" or not re.search(r"[^\W\d_]", best.label)
        if key[0] == "p":
            said = names(describe_label(phrases[best.phrase_index].text))
        elif is_text:  # quoted, or in wording v2 a bare number: "the digit 4"
            said = f'"{best.label}"' in text or (
                best.label.isdigit()
                and re.search(rf"\b(?:digit|number) {best.label}(?!\w)", text) is not None
            )
        else:
            said = names(describe_label(best.label))
        if said:
            stated.append((best, is_text))
    return stated


def _sample(scene: Scene) -> Any:
    from cuekit.schemas import ImageRef, Sample

    buffer = io.BytesIO()
    scene.image.save(buffer, format="PNG")
    ref = ImageRef(
        path="images/x.png",
        sha256=hashlib.sha256(buffer.getvalue()).hexdigest(),
        width=scene.image.width,
        height=scene.image.height,
        format="png",
    )
    return Sample(
        id=scene.id,
        original_id=scene.id,
        source="quality",
        split="test",
        question=scene.question,
        answer=scene.answer or None,
        choices=scene.choices,
        images=[ref],
        metadata={"objects": scene.objects},
    )


def _backend(name: str, workdir: Path) -> Any:
    from cuekit.grounding.base import DetectorOptions, create_backend

    if name == "grounding-dino":
        from cuekit.grounding.tiny import save_tiny_grounding_dino

        model = save_tiny_grounding_dino(workdir / "tiny-gdino")
        return create_backend(name, DetectorOptions(model=str(model)))
    return create_backend(name, DetectorOptions())


def score_scene(scene: Scene, backend: Any, extractor: Any) -> dict[str, Any]:
    from cuekit.cues import find_leak, render_cue
    from cuekit.grounding.base import DetectItem

    phrases = extractor(scene.question)
    sample = _sample(scene)
    start = time.perf_counter()
    (detections,) = backend.detect([DetectItem(sample, [scene.image], phrases)])
    text = render_cue(sample, phrases, detections, "hint").text
    seconds = time.perf_counter() - start
    stated = _stated_groups(text, phrases, detections)
    facts = [(det, _true(det, scene)) for det, _ in stated]
    relevant = _relevant(scene, phrases)
    covered = [t for t in relevant if any(ok and _states(d, t, scene) for d, ok in facts)]
    ocr = [d for d in detections if d.backend == "ocr"]
    read_true = [d for d in ocr if _true(d, scene)]
    truths_read = [
        t
        for t in scene.texts
        if any(
            _label_matches(d.label, t, True)
            and (scene.source == "photo" or _overlaps(d.xyxy, t["xyxy"]))
            for d in ocr
        )
    ]
    return {
        "id": scene.id,
        "source": scene.source,
        "has_text": scene.has_text,
        "question": scene.question,
        "cue": text,
        "seconds": seconds,
        "tokens": cue_tokens(text) if text else 0,
        "stated": len(facts),
        "stated_true": sum(ok for _, ok in facts),
        "false_facts": [d.label for d, ok in facts if not ok],
        "relevant": len(relevant),
        "covered": len(covered),
        "stated_ocr_labels": sum(1 for d, _ in stated if d.backend == "ocr"),
        "ocr_detections": len(ocr),
        "ocr_true": len(read_true),
        "texts": len(scene.texts),
        "texts_read": len(truths_read),
        "leak": bool(text) and find_leak(text, scene.answer or None, scene.choices) is not None,
    }


def summarize(records: list[dict[str, Any]]) -> dict[str, Any]:
    def ratio(num: float, den: float) -> float | None:
        return round(num / den, 4) if den else None

    rendered = [r for r in records if r["source"] != "photo"]
    photos_clean = [r for r in records if r["source"] == "photo" and not r["has_text"]]
    photos_text = [r for r in records if r["source"] == "photo" and r["has_text"] and r["texts"]]
    tokens = [r["tokens"] for r in records if r["cue"]]
    return {
        "scenes": len(records),
        "fact_precision_rendered": ratio(
            sum(r["stated_true"] for r in rendered), sum(r["stated"] for r in rendered)
        ),
        "fact_precision_photos": ratio(
            sum(r["stated_true"] for r in records if r["source"] == "photo"),
            sum(r["stated"] for r in records if r["source"] == "photo"),
        ),
        "relevance_recall": ratio(
            sum(r["covered"] for r in rendered), sum(r["relevant"] for r in rendered)
        ),
        "hallucinated_photo_rate": ratio(
            sum(r["stated_ocr_labels"] > 0 for r in photos_clean), len(photos_clean)
        ),
        "hallucinated_labels_per_photo": ratio(
            sum(r["stated_ocr_labels"] for r in photos_clean), len(photos_clean)
        ),
        "text_free_photos_with_detections": ratio(
            sum(r["ocr_detections"] > 0 for r in photos_clean), len(photos_clean)
        ),
        "ocr_read_recall_rendered": ratio(
            sum(r["texts_read"] for r in rendered), sum(r["texts"] for r in rendered)
        ),
        "ocr_read_precision": ratio(
            sum(
                r["ocr_true"]
                for r in records
                if r["source"] != "photo" or r["texts"] or not r["has_text"]
            ),
            sum(
                r["ocr_detections"]
                for r in records
                if r["source"] != "photo" or r["texts"] or not r["has_text"]
            ),
        ),
        "text_photos_with_a_true_read": ratio(
            sum(r["texts_read"] > 0 for r in photos_text), len(photos_text)
        ),
        "empty_cues": ratio(sum(not r["cue"] for r in records), len(records)),
        "median_tokens": statistics.median(tokens) if tokens else None,
        "p90_tokens": sorted(tokens)[int(0.9 * (len(tokens) - 1))] if tokens else None,
        "max_tokens": max(tokens) if tokens else None,
        "leak_rate": ratio(sum(r["leak"] for r in records), len(records)),
        "scenes_per_s": ratio(len(records), sum(r["seconds"] for r in records)),
    }


def run(backends: Sequence[str], per_source: int, photo_variants: int) -> dict[str, Any]:
    from cuekit.cues import get_phrase_extractor

    scenes = rendered_scenes(per_source)
    photos = real_scenes(photo_variants)
    extractor = get_phrase_extractor()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in backends:
            backend = _backend(name, Path(tmp))
            pool = scenes + photos if name == "ocr" else scenes
            records = [score_scene(scene, backend, extractor) for scene in pool]
            results[name] = {"summary": summarize(records), "records": records}
            print(name, json.dumps(results[name]["summary"]), flush=True)
    return results


COLUMNS = (
    "fact_precision_rendered",
    "fact_precision_photos",
    "relevance_recall",
    "hallucinated_photo_rate",
    "hallucinated_labels_per_photo",
    "text_free_photos_with_detections",
    "ocr_read_recall_rendered",
    "ocr_read_precision",
    "text_photos_with_a_true_read",
    "empty_cues",
    "median_tokens",
    "p90_tokens",
    "max_tokens",
    "leak_rate",
    "scenes_per_s",
)


def compare(before: dict[str, Any], after: dict[str, Any]) -> str:
    lines = ["| backend | metric | before | after |", "|---|---|---|---|"]
    for backend in after["results"]:
        old = before["results"].get(backend, {}).get("summary", {})
        new = after["results"][backend]["summary"]
        for column in COLUMNS:
            if new.get(column) is None and old.get(column) is None:
                continue
            lines.append(f"| {backend} | {column} | {old.get(column)} | {new.get(column)} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", nargs="+", default=["ocr", "annotations", "grounding-dino"])
    parser.add_argument(
        "--per-source",
        type=int,
        default=12,
        help="rendered scenes per source (3 sample categories + CueWorld)",
    )
    parser.add_argument(
        "--photo-variants",
        type=int,
        default=3,
        help="copies of each labelled photo (original + rescaled JPEGs)",
    )
    parser.add_argument("--label", default="after")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"))
    args = parser.parse_args()
    if args.compare:
        before, after = (json.loads(p.read_text()) for p in args.compare)
        print(compare(before, after))
        return
    import cuekit

    payload = {
        "label": args.label,
        "cuekit": str(Path(cuekit.__file__).parent),
        "per_source": args.per_source,
        "photo_variants": args.photo_variants,
        "results": run(args.backends, args.per_source, args.photo_variants),
    }
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(payload, indent=1))


if __name__ == "__main__":
    main()
