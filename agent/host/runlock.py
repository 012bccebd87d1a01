"""One `mamori-agent run` per state folder: an exclusive, non-blocking OS lock on run.lock."""

from __future__ import annotations

import os
import sys
from pathlib import Path


class RunLock:
    """Held for the life of the run; the OS drops it when the process dies, so a crash never leaves it stale."""

    def __init__(self, fd: int) -> None:
        self._fd = fd

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # closing the descriptor releases the lock on both systems
            self._fd = -1


def acquire(path: Path) -> RunLock | None:
    """The lock, or None when another process holds it. Needs no free space: the file stays empty."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if sys.platform == "win32":
            import msvcrt

            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # a byte range may lie past the end of the file
        else:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return RunLock(fd)


def held(path: Path) -> bool:
    """Whether a run holds the lock now: true even when a full disk kept it from writing status.json."""
    if not path.exists():
        return False
    lock = acquire(path)
    if lock is None:
        return True
    lock.release()
    return False
