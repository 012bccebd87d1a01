"""Startup failures staff can fix (a busy port, a read-only folder): one translated line, exit status 1."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


class StartupError(Exception):
    """The program cannot start for a reason outside it; the text says what to do."""


def ensure_writable(folder: Path, message: str) -> None:
    """Raise StartupError(message) unless a file can be created in folder (or its nearest existing parent).

    A real probe, not os.access: root passes every permission check but not a read-only mount.
    """
    target = folder
    while not target.exists() and target.parent != target:
        target = target.parent
    try:
        fd, probe = tempfile.mkstemp(dir=target, prefix=".mamori-write-probe-")
    except OSError:
        raise StartupError(message) from None
    os.close(fd)
    os.unlink(probe)
