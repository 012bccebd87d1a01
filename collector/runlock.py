"""One `serve` per data folder: it holds an exclusive lock on serve.lock, which `restore` checks before writing."""

from __future__ import annotations

import fcntl
import os

from collector.config import DataDir
from mamori.i18n import _
from mamori.startup import StartupError


def hold(datadir: DataDir) -> int:
    """Take the data folder's serve lock for this process's lifetime (the kernel drops it when it exits)."""
    fd = os.open(datadir.serve_lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise StartupError(
            _("a collector is already serving the data folder {path}: stop it first").format(path=datadir.root)
        ) from None
    return fd


def serving(datadir: DataDir) -> bool:
    """True while some `serve` holds the data folder's lock."""
    if not datadir.serve_lock.exists():
        return False
    fd = os.open(datadir.serve_lock, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops a lock we took
    return False
