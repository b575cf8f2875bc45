"""Writing into output folders: umask-respecting temp files, output-side errors, locks.

Three rules every stage follows when it writes its results:

- Temp files and folders are created with the modes a plain ``open``/``mkdir`` would get
  (0666/0777 minus the umask), not ``tempfile``'s private 0600/0700: outputs are shared
  with teammates and later jobs in other accounts.
- A failed write on the output (ENOSPC, EIO, EACCES...) is an :class:`OutputError` that
  names the path and stops the run. It is never a per-row error: the row is fine, the
  disk is not.
- One run at a time per output folder: :func:`exclusive_lock` refuses a second one, and
  the kernel drops the lock when the process dies (even under ``kill -9``).
"""

from __future__ import annotations

import fcntl
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cuekit.errors import CuekitError, OutputError


class FolderBusy(CuekitError):
    """Another process holds the folder's lock."""


def _temp_name(folder: Path, prefix: str, suffix: str) -> Path:
    return folder / f"{prefix}{os.getpid()}-{secrets.token_hex(6)}{suffix}"


def new_temp_file(folder: Path, prefix: str = ".tmp-", suffix: str = "") -> tuple[int, Path]:
    """Create and open a new file in ``folder``; ``(fd, path)``. Mode 0666 minus the umask."""
    while True:
        path = _temp_name(folder, prefix, suffix)
        try:
            return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), path
        except FileExistsError:  # a 48-bit random name taken: try another
            continue


def new_temp_dir(folder: Path, prefix: str = ".tmp-") -> Path:
    """Create a new folder in ``folder``. Mode 0777 minus the umask."""
    while True:
        path = _temp_name(folder, prefix, "")
        try:
            os.mkdir(path, 0o777)
            return path
        except FileExistsError:
            continue


def current_umask() -> int:
    """The process umask, read without changing it (Linux /proc); else by a set-and-restore."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def share_like_umask(folder: Path) -> None:
    """Give files under ``folder`` the mode a plain ``open`` would (0666 minus the umask).

    Some writers (safetensors) create their files 0600 whatever the umask says."""
    mode = 0o666 & ~current_umask()
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            path.chmod(mode)


@contextmanager
def writing(path: str | Path) -> Iterator[None]:
    """Turn an OSError raised while writing ``path`` into an :class:`OutputError`."""
    try:
        yield
    except OutputError:
        raise
    except OSError as exc:
        raise OutputError(exc.filename or path, exc.strerror or str(exc)) from exc


_held_locks: set[int] = set()  # descriptors of the locks this process holds


def _drop_inherited_locks() -> None:
    """In a forked child (DataLoader or pool worker): close the parent's lock descriptors.

    A flock belongs to the open file, which a fork shares; a worker that kept it would
    hold the folder locked after its parent ended. Closing it here leaves the parent's
    lock in place."""
    for fd in list(_held_locks):
        try:
            os.close(fd)
        except OSError:
            pass
    _held_locks.clear()


os.register_at_fork(after_in_child=_drop_inherited_locks)


@contextmanager
def exclusive_lock(folder: Path, lock_name: str, what: str) -> Iterator[None]:
    """Hold an exclusive lock on ``folder / lock_name`` (created if needed) for the block.

    A second holder gets a CuekitError at once instead of waiting: two runs writing one
    output folder redo each other's work and delete each other's temp files.
    """
    lock_file = folder / lock_name
    with writing(lock_file):
        lock_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "unknown"
            raise FolderBusy(
                f"{folder} is in use by another `cuekit {what}` run (pid {holder}); "
                "wait for it to finish, or choose another --output"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        _held_locks.add(fd)
        yield
    finally:
        _held_locks.discard(fd)
        os.close(fd)  # closing the descriptor releases the lock
