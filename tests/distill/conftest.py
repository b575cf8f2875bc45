"""Distill fixtures. The tiny run's config lives in ``tiny_run.py`` (the torchrun worker
imports it too)."""

from __future__ import annotations

import pytest
from PIL import Image


@pytest.fixture(scope="session")
def varied_rows() -> tuple[list[str], list[list[Image.Image]]]:
    """Five questions, each with one image of its own size and colour (so prompts pad
    differently and M-RoPE offsets differ per row)."""
    colors = [(200, 30, 30), (30, 200, 30), (30, 30, 200), (120, 120, 0), (0, 90, 160)]
    questions = [
        "What is red?",
        "Count the shapes in the image.",
        "Where is A?",
        "Which bar is tallest?",
        "Is the circle left of the square?",
    ]
    images = [[Image.new("RGB", (32 + 16 * i, 48), c)] for i, c in enumerate(colors)]
    return questions, images
