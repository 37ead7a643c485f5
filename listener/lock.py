"""One run at a time per database: a non-blocking flock on a file beside it (RELIABILITY F1).

The kernel drops the lock when the process dies, however it dies, so there is no stale lock to clean.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from listener.errors import LockedError


def lock_path(database: str | os.PathLike[str]) -> Path:
    return Path(f"{database}.lock")


@contextmanager
def hold_lock(database: str | os.PathLike[str], *, wait: float = 0.0) -> Iterator[Path]:
    """Hold the database's run lock; wait up to `wait` seconds, then raise LockedError."""
    path = lock_path(database)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + wait
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "another process"
                    raise LockedError(f"another listener run (pid {holder}) holds {path}; stepping aside") from None
                time.sleep(0.1)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield path
    finally:
        os.close(fd)
