"""Worker processes that do not outlive their parent.

A DataLoader or process-pool worker whose parent is killed (``kill -9``, OOM killer)
would otherwise keep running, holding memory and the output folder's lock, until
someone finds and ends it.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1  # from <sys/prctl.h>


def die_with_parent(parent_pid: int, *_worker_args: object) -> None:
    """Call first thing in a worker: the kernel SIGKILLs it when ``parent_pid`` exits.

    Linux only (``prctl(PR_SET_PDEATHSIG)``); elsewhere a no-op. Extra arguments are
    ignored, so it also serves as a DataLoader ``worker_init_fn``.
    """
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:  # the parent died before the signal was armed
        os._exit(1)
