"""A detector backend for resume tests: the annotations backend, crashing on one call.

Test modules in this folder import it by name (pytest puts the folder on ``sys.path``)
and register a subclass under their own name.
"""

from __future__ import annotations

from cuekit.grounding.base import DetectorOptions
from cuekit.schemas import Detection


class CrashingAnnotations:
    """Annotations, but raises KeyboardInterrupt on call number ``fail_at`` (a simulated
    crash). Each subclass counts its own ``calls``; :meth:`annotate` adds what it reports."""

    name = "crashing"
    calls = 0
    fail_at: int | None = None

    def __init__(self, options: DetectorOptions) -> None:
        from cuekit.grounding.annotations import AnnotationsBackend

        self.inner = AnnotationsBackend(options)

    def settings(self) -> dict:
        return {}

    def annotate(self, items) -> None:
        """Called on each batch before detection; nothing by default."""

    def detect(self, items) -> list[list[Detection]]:
        type(self).calls += 1
        if type(self).calls == type(self).fail_at:
            raise KeyboardInterrupt
        self.annotate(items)
        return self.inner.detect(items)
