"""Durable sequence high-water mark kept beside the spool, so seqs survive losing spool.db."""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger("mamori.agent.spool")


def read_mark(path: Path) -> int:
    """The stored mark (every seq ever handed out is below it); 0 when missing or unreadable."""
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        return 0
    except (OSError, UnicodeDecodeError) as exc:
        log.warning("cannot read sequence high-water mark %s: %s", path, exc)
        return 0
    try:
        mark = int(text.strip())
    except ValueError:
        log.warning("sequence high-water mark %s is garbled: %r", path, text[:40])
        return 0
    return max(mark, 0)


def write_mark(path: Path, mark: int) -> None:
    """Replace the mark atomically and durably: a crash leaves either the old or the new value."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="ascii") as f:
        f.write(f"{mark}\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def fsync_dir(directory: Path) -> None:
    """Make a rename in `directory` durable (POSIX; Windows cannot open a directory for fsync)."""
    if os.name == "nt":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
