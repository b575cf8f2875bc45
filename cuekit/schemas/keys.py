"""Map arbitrary source ids to keys that are safe inside WebDataset tars."""

from __future__ import annotations

import hashlib
import re

from cuekit.schemas.records import is_safe_key

_UNSAFE_CHARS = re.compile(r"[^A-Za-z0-9_-]+")
_MAX_STEM = 160


def safe_key(original_id: str) -> str:
    """Return ``original_id`` if it is already a safe key, else a deterministic safe one.

    Unsafe characters become ``_`` and an 8-hex digest of the original id is
    appended, so ``a.b`` and ``a_b`` (or two long ids sharing a prefix) never collide.
    """
    text = str(original_id)
    if is_safe_key(text):
        return text
    stem = _UNSAFE_CHARS.sub("_", text).strip("_")[:_MAX_STEM] or "id"
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]
    return f"{stem}-{digest}"


# Tar member names. A sample KEY is stored as adjacent members ``KEY.<suffix>``;
# webdataset groups them by KEY and hands them on as ``{suffix: bytes}`` beside
# ``__key__`` and ``__url__``. Keys hold no dots, so the suffix is all after the first.
KEY_FIELD = "__key__"
URL_FIELD = "__url__"
JSON_MEMBER = "json"  # the ExtractedSample; its image paths name the members below
HINT_MEMBER = "hint.txt"  # the teacher's cue text, UTF-8 (empty when there is no cue)
MARKED_MEMBER = "marked"  # + ".<ext>": the marked copy of image cue.marked_image_index


def image_member(index: int) -> str:
    """The member stem of a sample's image ``index`` (``img0``; + ``.<ext>``)."""
    return f"img{index}"


def member_name(key: str, suffix: str) -> str:
    """``KEY.<suffix>``, the tar name of a member."""
    return f"{key}.{suffix}"


def member_suffix(name: str) -> str:
    """The suffix of a member name: ``KEY.img0.png`` -> ``img0.png``."""
    return name.split(".", 1)[-1]
