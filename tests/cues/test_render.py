"""Cue rendering: exact wording per style, marks drawn on a copy, answers left out."""

from __future__ import annotations

import re

import factories
import numpy as np
import pytest
from PIL import Image

from cuekit.cues.leak import find_leak
from cuekit.cues.render import RenderedCue, cue_tokens, describe_label, render_cue
from cuekit.schemas import Detection, ImageRef, Phrase, Sample, xyxy_to_1000

W, H = 400, 300


def make_sample(
    answer: str | None = None,
    choices: list[str] | None = None,
    sizes: tuple[tuple[int, int], ...] = ((W, H),),
) -> Sample:
    refs = [
        ImageRef(path=f"img{i}.png", sha256=f"{i}" * 64, width=w, height=h, format="png")
        for i, (w, h) in enumerate(sizes)
    ]
    return factories.make_sample(
        question="Where are A and B?", answer=answer, choices=choices, images=refs
    )


def det(
    label: str,
    phrase_index: int | None,
    xyxy: tuple[float, float, float, float],
    score: float = 0.9,
    backend: str = "grounding-dino",
    image_index: int = 0,
    size: tuple[int, int] = (W, H),
) -> Detection:
    return Detection(
        label=label,
        phrase_index=phrase_index,
        image_index=image_index,
        xyxy=xyxy,
        box_1000=xyxy_to_1000(xyxy, *size),
        score=score,
        backend=backend,
    )


PHRASES = [Phrase(text="A", start=10, end=11), Phrase(text="B", start=16, end=17)]
POINT_A = det("A", 0, (20, 20, 40, 40))
POINT_B = det("B", 1, (350, 250, 370, 270))
LABEL_4 = det("4", None, (60, 30, 80, 50), score=0.8, backend="ocr")  # 20 px right of A


def test_hint_exact_text() -> None:
    cue = render_cue(make_sample(), PHRASES, [POINT_A, POINT_B, LABEL_4], "hint")
    assert cue == RenderedCue(
        text="[Hint]: The image shows point A (top left), point B (bottom right) and the "
        "digit 4 near point A. Point A is left of point B."
    )


def test_wording_v1_is_the_earlier_bare_noun_text() -> None:
    """v1 must stay byte for byte: models were trained on it (CueWorld pins it)."""
    cue = render_cue(make_sample(), PHRASES, [POINT_A, POINT_B, LABEL_4], "hint", wording="v1")
    assert cue.text == (
        "[Hint]: The image shows point A (top left), point B (bottom right) and "
        'the label "4" near point A. Point A is left of point B.'
    )
    circle = det("red circle", 0, (10, 120, 90, 200), score=0.7)
    square = det("blue square", 1, (250, 20, 390, 110), score=0.6)
    phrases = [
        Phrase(text="red circle", start=0, end=10),
        Phrase(text="blue square", start=15, end=26),
    ]
    cue = render_cue(make_sample(), phrases, [circle, square], "hint", wording="v1")
    assert cue.text == (
        "[Hint]: The image shows red circle (left) and blue square (top right). "
        "Red circle is left of blue square."
    )
    with pytest.raises(ValueError, match="unknown cue wording 'v9'; choose one of: v1, v2"):
        render_cue(make_sample(), phrases, [circle], "hint", wording="v9")


def test_hint_has_no_coordinate_digits() -> None:
    circle = det("red circle", 0, (10, 120, 90, 200), score=0.7)
    square = det("blue square", 1, (250, 20, 390, 110), score=0.6)
    phrases = [
        Phrase(text="red circle", start=0, end=10),
        Phrase(text="blue square", start=15, end=26),
    ]
    cue = render_cue(make_sample(), phrases, [circle, square], "hint")
    assert cue.text == (
        "[Hint]: The image shows the red circle (left) and the blue square (top "
        "right). The red circle is left of the blue square."
    )
    assert re.search(r"\d", cue.text) is None


def test_several_detections_give_a_count_only_when_the_question_is_about_quantity() -> None:
    phrases = [Phrase(text="red circles", start=0, end=11)]
    weak = det("red circles", 0, (350, 250, 390, 290), score=0.4)
    strong = det("red circles", 0, (10, 120, 50, 160), score=0.9)
    cue = render_cue(make_sample(), phrases, [weak, strong], "hint")
    assert cue.text == "[Hint]: The image shows the red circles (left)."
    counting = make_sample().model_copy(
        update={"question": "Are there more red circles than squares?"}
    )
    cue = render_cue(counting, phrases, [weak, strong], "hint")
    assert cue.text == "[Hint]: The image shows 2 red circles (the clearest at left)."
    cue = render_cue(counting, phrases, [weak, strong], "hint", wording="v1")
    assert cue.text == "[Hint]: The image shows red circles (2 found, the clearest at left)."
    # A singular phrase is counted in the plural.
    bars = [Phrase(text="blue bar", start=0, end=8)]
    cue = render_cue(
        counting, bars, [det("blue bar", 0, b.xyxy, score=b.score) for b in (weak, strong)], "hint"
    )
    assert cue.text == "[Hint]: The image shows 2 blue bars (the clearest at left)."


def test_the_verb_agrees_with_the_noun_not_with_the_number_of_boxes() -> None:
    phrases = [
        Phrase(text="pet", start=0, end=3),
        Phrase(text="tallest bar", start=4, end=15),
        Phrase(text="red circles", start=16, end=27),
        Phrase(text="axis", start=28, end=32),
    ]
    pets = [det("pet", 0, (10, 250, 50, 290), score=s) for s in (0.9, 0.5)]
    bars = [
        det("tallest bar", 1, (10, 20, 50, 120)),
        det("red circles", 2, (300, 20, 340, 60)),
        det("axis", 3, (300, 200, 340, 240)),
    ]
    cue = render_cue(make_sample(), phrases, pets + bars, "hint")
    assert "The pet is below the tallest bar." in cue.text
    assert "The red circles are above the axis." in cue.text
    assert " are " not in cue.text.replace("red circles are", "")
    v1 = render_cue(make_sample(), phrases, pets + bars, "hint", wording="v1")
    assert "Pet is below tallest bar." in v1.text
    assert "Red circles are above axis." in v1.text


def test_the_token_budget_drops_relations_then_the_least_relevant_items() -> None:
    # Ten OCR labels in a row below point B, best first; "10"-"12" are too far from any
    # phrase item to be stated at all.
    labels = [
        det(
            f"{v}", None, (250 + 14 * i, 280, 260 + 14 * i, 290), score=0.9 - i / 100, backend="ocr"
        )
        for i, v in enumerate(range(10, 20))
    ]
    full = render_cue(
        make_sample(), PHRASES, [POINT_A, POINT_B, *labels], "hint", max_cue_tokens=None
    )
    assert "Point A is left of point B." in full.text
    short = render_cue(
        make_sample(), PHRASES, [POINT_A, POINT_B, *labels], "hint", max_cue_tokens=32
    )
    assert cue_tokens(short.text) <= 32 < cue_tokens(full.text)
    assert short.text == (
        "[Hint]: The image shows point A (top left), point B (bottom right) "
        "and the number 13 near point B."
    )
    assert "number 14" in full.text and "number 10" not in full.text
    # What the budget left out is counted: the relation and the labels 14-19.
    assert (full.dropped_items, full.dropped_relations) == (0, 0)
    assert (short.dropped_items, short.dropped_relations) == (6, 1)
    with pytest.raises(ValueError, match="max_cue_tokens must be at least 1 or None, got 0"):
        render_cue(make_sample(), PHRASES, [POINT_A], "hint", max_cue_tokens=0)


def test_labels_the_question_mentions_come_before_higher_scored_ones() -> None:
    sample = make_sample().model_copy(update={"question": "Is the label 17 near A?"})
    labels = [
        det("12", None, (200, 200, 220, 220), score=0.99, backend="ocr"),
        det("17", None, (250, 200, 270, 220), score=0.6, backend="ocr"),
    ]
    cue = render_cue(sample, [], labels, "hint")
    assert cue.text.index("number 17") < cue.text.index("number 12")


def test_cue_tokens_counts_words_and_punctuation() -> None:
    assert cue_tokens('[Hint]: The label "4".') == 10


def test_boxes_style_adds_the_0_1000_boxes() -> None:
    cue = render_cue(make_sample(), PHRASES, [POINT_A, POINT_B], "boxes")
    assert cue.text == (
        "[Hint]: The image shows point A at [50, 67, 100, 133] (top left) and "
        "point B at [875, 833, 925, 900] (bottom right). "
        "Point A is left of point B."
    )
    for d in (POINT_A, POINT_B):
        assert "[{}, {}, {}, {}]".format(*d.box_1000) in cue.text
    assert cue.marked_image is None


def _image(size: tuple[int, int] = (W, H)) -> Image.Image:
    # A gradient, so that "unchanged" is a real check and not a blank canvas.
    x = np.linspace(0, 255, size[0], dtype=np.uint8)[None, :, None]
    y = np.linspace(0, 255, size[1], dtype=np.uint8)[:, None, None]
    pixels = np.broadcast_to((x // 2 + y // 2), (size[1], size[0], 3)).copy()
    return Image.fromarray(pixels, "RGB")


def test_marks_draws_numbered_boxes_on_a_copy() -> None:
    box_a, box_b = (60, 80, 140, 160), (250, 150, 350, 250)
    phrases = [Phrase(text="A", start=10, end=11), Phrase(text="B", start=16, end=17)]
    dets = [det("A", 0, box_a), det("B", 1, box_b)]
    image = _image()
    before = image.tobytes()

    cue = render_cue(make_sample(), phrases, dets, "marks", [image])

    assert cue.text == (
        "[Hint]: Numbered marks are drawn on the image: mark 1 is point A (left) "
        "and mark 2 is point B (bottom right). Point A is left of point B."
    )
    assert image.tobytes() == before  # the caller's image is untouched
    assert cue.marked_image is not None and cue.marked_image is not image
    assert cue.marked_image.size == image.size
    assert cue.marked_image_index == 0
    changed = np.any(np.asarray(cue.marked_image) != np.asarray(image), axis=2)  # (H, W)
    # Changes lie inside the boxes, their frame lines, and the number tag above each box.
    allowed = np.zeros_like(changed)
    for x1, y1, x2, y2 in (box_a, box_b):
        allowed[y1 - 40 : y2 + 3, x1 - 3 : x2 + 3] = True
        assert changed[y1:y2, x1].any() and changed[y2 - 1, x1:x2].any()  # frame drawn
        assert not changed[y1 + 10 : y2 - 10, x1 + 10 : x2 - 10].any()  # interior left alone
    assert changed.any()
    assert not (changed & ~allowed).any()


def test_marks_skip_a_number_that_is_the_answer_and_name_the_marked_image() -> None:
    sample = make_sample(answer="1", sizes=((W, H), (200, 100)))
    dets = [
        det("A", 0, (10, 10, 50, 50)),
        det("B", 1, (150, 70, 190, 95), image_index=1, size=(200, 100)),
    ]
    images = [_image(), _image((200, 100))]
    cue = render_cue(sample, PHRASES, dets, "marks", images)
    # Neither the mark number nor the image number may be the answer "1".
    assert cue.text == (
        "[Hint]: Numbered marks are drawn on the first image: mark 2 is point A "
        "(top left). In image 2, note point B (bottom right)."
    )
    assert cue.marked_image_index == 0
    assert find_leak(cue.text, "1") is None


def test_marks_need_matching_images() -> None:
    with pytest.raises(ValueError, match="cue style 'marks' needs the images of sample 's1'"):
        render_cue(make_sample(), PHRASES, [POINT_A], "marks")
    with pytest.raises(
        ValueError, match="image 0 of sample 's1' is 10x10, but its ImageRef says 400x300"
    ):
        render_cue(make_sample(), PHRASES, [POINT_A], "marks", [Image.new("RGB", (10, 10))])


def test_multi_image_hint_names_each_image() -> None:
    sample = make_sample(sizes=((W, H), (200, 100)))
    dets = [
        det("A", 0, (150, 10, 170, 30), image_index=1, size=(200, 100)),
        det("B", 1, (10, 60, 30, 80), image_index=1, size=(200, 100)),
    ]
    cue = render_cue(sample, PHRASES, dets, "hint")
    assert cue.text == (
        "[Hint]: In image 2, note point A (top right) and point B (bottom left). "
        "In image 2, point A is right of point B."
    )


def test_drops_a_label_that_is_the_answer() -> None:
    sample = make_sample(answer="4")
    cue = render_cue(sample, PHRASES, [POINT_A, POINT_B, LABEL_4], "hint")
    assert cue.text == (
        "[Hint]: The image shows point A (top left) and point B (bottom right). "
        "Point A is left of point B."
    )
    choice_sample = make_sample(answer="C", choices=["2", "3", "4 cm"])
    assert render_cue(choice_sample, PHRASES, [POINT_A, POINT_B, LABEL_4], "hint") == cue


def test_drops_a_point_that_is_the_answer() -> None:
    cue = render_cue(make_sample(answer="A"), PHRASES, [POINT_A, POINT_B, LABEL_4], "boxes")
    # The label "4" sat near A; with A gone it is near no phrase item, so it goes too.
    assert cue.text == "[Hint]: The image shows point B at [875, 833, 925, 900] (bottom right)."


def test_labels_near_no_grounded_phrase_are_left_out() -> None:
    far = det("9", None, (120, 200, 130, 210), backend="ocr")
    cue = render_cue(make_sample(), PHRASES, [POINT_A, POINT_B, LABEL_4, far], "hint")
    assert "digit 4 near point A" in cue.text and "9" not in cue.text
    # With no phrase grounded at all, labels are the only evidence: placed by position.
    alone = render_cue(make_sample(), PHRASES, [LABEL_4, far], "hint")
    assert alone.text == (
        "[Hint]: The image shows the digit 9 (bottom left) and the digit 4 (top left)."
    )  # by score


def test_leaky_count_or_position_falls_back_to_a_plainer_clause() -> None:
    phrases = [Phrase(text="red circles", start=0, end=11)]
    dets = [det("red circles", 0, (10, 120, 50, 160)), det("red circles", 0, (60, 120, 90, 160))]
    counted = render_cue(make_sample(answer="2"), phrases, dets, "hint")
    assert counted.text == "[Hint]: The image shows the red circles (left)."
    placed = render_cue(make_sample(answer="left"), phrases, dets[:1], "hint")
    assert placed.text == "[Hint]: The image shows the red circles."


def test_no_detections_means_no_cue() -> None:
    for style in ("hint", "boxes", "marks"):
        cue = render_cue(make_sample(), PHRASES, [], style, [_image()])
        assert cue == RenderedCue(text="") and cue.is_empty
    only_answer = render_cue(make_sample(answer="4"), PHRASES, [LABEL_4], "hint")
    assert only_answer.is_empty


def test_max_items_keeps_phrases_first() -> None:
    cue = render_cue(make_sample(), PHRASES, [LABEL_4, POINT_B, POINT_A], "hint", max_items=2)
    assert cue.text == (
        "[Hint]: The image shows point A (top left) and point B (bottom right). "
        "Point A is left of point B."
    )


def test_bad_arguments_raise() -> None:
    with pytest.raises(
        ValueError, match="unknown cue style 'arrows'; choose one of: hint, boxes, marks"
    ):
        render_cue(make_sample(), PHRASES, [], "arrows")
    with pytest.raises(ValueError, match="max_items must be at least 1, got 0"):
        render_cue(make_sample(), PHRASES, [], "hint", max_items=0)
    with pytest.raises(
        ValueError,
        match=r"detections\[0\].image_index is 1, but sample 's1' "
        r"has 1 image\(s\)",
    ):
        render_cue(make_sample(), PHRASES, [det("A", 0, (0, 0, 5, 5), image_index=1)], "hint")
    with pytest.raises(
        ValueError,
        match=r"detections\[0\].phrase_index is 5, but there are "
        r"only 2 phrases",
    ):
        render_cue(make_sample(), PHRASES, [det("A", 5, (0, 0, 5, 5))], "hint")


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("A", "point A"),
        ("AB", "segment AB"),
        ("x", 'the label "x"'),
        ("ABC", "ABC"),
        ("red bar", "red bar"),
    ],
)
def test_describe_label(text: str, name: str) -> None:
    assert describe_label(text) == name


def test_a_non_ocr_label_without_letters_is_quoted_and_attached_inside() -> None:
    phrases = [Phrase(text="triangle ABC", start=0, end=12)]
    triangle = det("triangle ABC", 0, (50, 40, 350, 250))
    angle = det("35°", None, (280, 140, 300, 155), score=1.0, backend="annotations")
    cue = render_cue(make_sample(), phrases, [triangle, angle], "hint")
    assert cue.text == (
        '[Hint]: The image shows triangle ABC (center) and the label "35°" on triangle ABC.'
    )


def test_a_leaking_label_silences_its_unmatched_siblings() -> None:
    """Listing every digit but the answer would tell the answer by omission."""
    sample = make_sample(answer="7")
    answer_label = det("7", None, (45, 20, 55, 30), backend="annotations")
    other_label = det("3", None, (20, 45, 30, 55), backend="annotations")
    ocr_label = det("9", None, (45, 40, 55, 50), backend="ocr")
    cue = render_cue(sample, PHRASES, [POINT_A, answer_label, other_label, ocr_label], "hint")
    # The annotations' unmatched labels all go; the phrase item and another backend's stay.
    assert cue.text == "[Hint]: The image shows point A (top left) and the digit 9 near point A."
    no_leak = render_cue(
        make_sample(answer="8"), PHRASES, [POINT_A, answer_label, other_label], "hint"
    )
    assert "digit 7" in no_leak.text and "digit 3" in no_leak.text
