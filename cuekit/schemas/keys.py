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
