"""Exceptions that cuekit raises on purpose; the CLI turns them into one-line messages."""

from __future__ import annotations


class CuekitError(Exception):
    """Base class of every error cuekit raises for the user to read."""


class ConfigError(CuekitError, ValueError):
    """A setting or option has a value cuekit cannot use."""


class SampleError(CuekitError):
    """One input sample is unusable; the pipeline records it and moves on.

    ``stage`` says where it failed (``source``, ``decode``, ``detect``...), and
    ``field`` names the offending field of the sample when there is one.
    """

    def __init__(
        self,
        message: str,
        *,
        sample_id: str | None = None,
        field: str | None = None,
        stage: str = "source",
    ) -> None:
        self.sample_id = sample_id
        self.field = field
        self.stage = stage
        self.reason = message
        where = []
        if sample_id is not None:
            where.append(f"sample {sample_id!r}")
        if field is not None:
            where.append(f"field {field!r}")
        prefix = (", ".join(where) + ": ") if where else ""
        super().__init__(prefix + message)


class ModelLoadError(CuekitError):
    """Weights or a processor could not be loaded; the message names the fix."""


class OutputError(CuekitError):
    """The output cannot be written (disk full, I/O error, no permission).

    Unlike a bad sample this stops the run: every later row would fail alike, and a row
    recorded as failed here would never be retried by a resumed run.
    """

    def __init__(self, path: object, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(
            f"cannot write the output {self.path}: {reason}. Stopped without "
            "recording the row: free space or fix permissions, then rerun to "
            "resume"
        )

    def __reduce__(self) -> tuple[type, tuple[str, str]]:  # crosses process boundaries
        return type(self), (self.path, self.reason)
