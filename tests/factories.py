"""Valid records for tests that care about a few fields only (importable from any room:
``tests/`` is on ``sys.path`` through its root conftest)."""

from __future__ import annotations

from typing import Any

from cuekit.schemas import Sample


def make_sample(**fields: Any) -> Sample:
    """A :class:`Sample` with id ``s1`` (and ``original_id`` = id), source ``test``, split
    ``train`` and question ``q?``; ``fields`` replace any of these or add others."""
    values: dict[str, Any] = {"id": "s1", "source": "test", "split": "train", "question": "q?"}
    values.update(fields)
    values.setdefault("original_id", values["id"])
    return Sample(**values)
