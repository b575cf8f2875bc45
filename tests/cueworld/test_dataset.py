"""CueWorld scenes, questions and rows: seeded, disjoint splits, answers that match the scene."""

from __future__ import annotations

import io
import json
from pathlib import Path

import polars as pl
import pytest
from PIL import Image

from cuekit.cueworld.dataset import SPLIT_SIZES, cueworld_row, generate_cueworld_rows
from cuekit.cueworld.questions import FAMILIES, ask
from cuekit.cueworld.scenes import CELL, IMAGE_SIZE, SCENE_COLOURS, SHAPES, draw_scene
from cuekit.datasets.sources import SourceSpec, iter_source
from cuekit.errors import ConfigError


def test_rows_are_deterministic_and_splits_never_share_a_scene() -> None:
    first = list(generate_cueworld_rows("val", count=5))
    assert first == list(generate_cueworld_rows("val", count=5))
    scenes = {
        split: {row["image"] for row in generate_cueworld_rows(split, count=200)}
        for split in SPLIT_SIZES
    }
    assert not scenes["train"] & scenes["val"]
    assert not scenes["train"] & scenes["test"]
    assert not scenes["val"] & scenes["test"]
    other_seed = list(generate_cueworld_rows("val", seed=1, count=5))
    assert [r["image"] for r in other_seed] != [r["image"] for r in first]
    # A row does not depend on the rows before it: --limit only shortens the list.
    assert cueworld_row("val", 3) == first[3]


def test_bad_split_is_refused_when_the_source_opens() -> None:
    with pytest.raises(ValueError, match="cueworld has splits train, val, test, not 'dev'"):
        generate_cueworld_rows("dev")
    with pytest.raises(ConfigError, match="--dataset cueworld: cueworld has splits"):
        iter_source(SourceSpec("cueworld", split="dev")).__next__()


def test_scene_ground_truth_matches_the_drawing() -> None:
    import random

    scene = draw_scene(random.Random(7))
    image = Image.open(io.BytesIO(scene.png)).convert("RGB")
    assert image.size == (IMAGE_SIZE, IMAGE_SIZE)
    shapes = [obj.shape for obj in scene.objects]
    assert len(set(shapes)) == len(shapes) and set(shapes) <= set(SHAPES)
    assert 3 <= len(scene.objects) <= 5
    for obj in scene.objects:
        x1, y1, x2, y2 = obj.xyxy
        # Each object sits in its own cell, and its centre pixel has its colour (a digit
        # covers the centre of its holder, so look just above the digit there).
        assert obj.col * CELL <= (x1 + x2) / 2 < (obj.col + 1) * CELL
        assert obj.row * CELL <= (y1 + y2) / 2 < (obj.row + 1) * CELL
        probe_y = (y1 + y2) / 2 if obj.digit_xyxy is None else obj.digit_xyxy[1] - 2
        if obj.shape in ("cross", "star") and obj.digit is not None:
            continue  # thin arms: the probe may fall on background or digit
        pixel = image.getpixel((int((x1 + x2) / 2), int(probe_y)))
        assert pixel == SCENE_COLOURS[obj.colour], (obj, pixel)
    labels = [entry["label"] for entry in scene.annotations()]
    digits = [obj.digit for obj in scene.objects if obj.digit is not None]
    assert sorted(labels) == sorted(shapes + digits)
    assert scene.caption().count(".") == len(scene.objects)


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_answers_from_the_scene(family: str) -> None:
    import random

    asked = 0
    for index in range(40):
        rng = random.Random(index)
        scene = draw_scene(rng)
        question = ask(scene, family, rng)
        if question is None:
            continue
        asked += 1
        target = scene.by_shape(question.target)
        assert question.target in question.question
        if family == "colour":
            assert question.answer == target.colour and question.choices is None
        elif family == "reading":
            assert question.answer == target.digit
        elif family == "compare":
            other = next(
                o for o in scene.objects if o.shape in question.question and o is not target
            )
            assert question.answer == (
                "yes" if (target.size, other.size) == ("large", "small") else "no"
            )
        else:
            assert question.choices is not None and len(question.choices) == 4
            assert len(set(question.choices)) == 4
            picked = question.choices["ABCD".index(question.answer)]
            direction = question.question.split("directly ")[1].split(" the ")[0]
            step = {"left of": (0, -1), "right of": (0, 1), "above": (-1, 0), "below": (1, 0)}[
                direction
            ]
            neighbour = scene.at(target.row + step[0], target.col + step[1])
            assert neighbour is not None and picked == neighbour.colour
    assert asked >= 20


def test_answers_are_balanced_enough_that_guessing_is_weak() -> None:
    rows = list(generate_cueworld_rows("val", count=600))
    families = pl.DataFrame(
        {"family": [r["family"] for r in rows], "answer": [r["answer"] for r in rows]}
    )
    assert set(families["family"]) == set(FAMILIES)
    for family in FAMILIES:
        answers = families.filter(pl.col("family") == family)["answer"]
        top_share = answers.value_counts(sort=True)["count"][0] / answers.len()
        assert top_share < 0.6, (family, top_share)


def test_extract_grounds_the_target_and_never_leaks(tmp_path: Path, cueworld_extract) -> None:
    out = tmp_path / "cw"
    result = cueworld_extract("test", 120, out)
    assert result.exit_code == 0, result.output
    cues = pl.read_parquet(out / "cues.parquet")
    assert cues.height == 120
    assert cues["leak"].sum() == 0
    for row in cues.iter_rows(named=True):
        sample = json.loads(row["sample"])
        target = sample["metadata"]["target"]
        # The cue names where the asked-about shape is, and never the answer.
        assert f"{target} (" in row["cue_text"].lower(), row
        assert sample["answer"] not in row["cue_text"].replace("[Hint]", "").split()
    # --seed draws other rows.
    other = tmp_path / "cw-seed"
    result = cueworld_extract("test", 3, other, "--seed", "1")
    assert result.exit_code == 0, result.output

    def images(frame: pl.DataFrame) -> list[str]:
        return [json.loads(s)["images"][0]["sha256"] for s in frame["sample"]]

    assert set(images(pl.read_parquet(other / "cues.parquet"))).isdisjoint(images(cues))


def test_grounding_lists_every_shape_at_its_cell_in_shape_order() -> None:
    import random

    from cuekit.cueworld.scenes import grounding_text

    for seed in range(20):
        scene = draw_scene(random.Random(seed))
        text = scene.grounding()
        entries = [part.strip() for part in text.rstrip(".").split(".")]
        expected = sorted(scene.objects, key=lambda obj: SHAPES.index(obj.shape))
        assert entries == [f"{obj.shape}: {obj.place}" for obj in expected]
        # The digits' text boxes are not shapes and never appear.
        assert grounding_text(scene.annotations()) == text
        assert not any(ch.isdigit() for ch in text)


def test_the_sft_mix_draws_object_first_descriptions_only_when_asked() -> None:
    import random

    from cuekit.cueworld.sft import SFTConfig, example_kind

    def kinds(config: SFTConfig, step: int) -> list[str]:
        return [example_kind(step, random.Random(f"t/{n}"), config) for n in range(2000)]

    plain = SFTConfig(caption_steps=10, grounding_share=0.0)
    assert set(kinds(plain, 0)) == {"caption"}
    assert "grounding" not in kinds(plain, 50)
    mixed = SFTConfig(caption_steps=10, grounding_share=0.5, caption_share=0.25)
    first = kinds(mixed, 0)
    assert set(first) == {"caption", "grounding"} and 0.4 < first.count("grounding") / 2000 < 0.6
    later = kinds(mixed, 50)
    share = (later.count("grounding") + later.count("caption")) / 2000
    assert 0.2 < share < 0.3 and 0.1 < later.count("grounding") / 2000 < 0.15
