"""Which identity the spool's seqs belong to, and the switch to a new one after `enroll --force`."""

from __future__ import annotations

import logging
from pathlib import Path

from agent.fsutil import write_atomic
from agent.spool import Spool

log = logging.getLogger("mamori.agent.spool")

OWNER_NAME = "owner"  # beside spool.db: the agent id whose sequence the spooled seqs are


def owner(spool_dir: Path) -> str:
    try:
        return (spool_dir / OWNER_NAME).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return ""


def adopt(spool: Spool, spool_dir: Path, agent_id: str) -> int:
    """Make the spool's sequence the one of `agent_id`; returns how many events were re-stamped.

    Called by enroll and again by every `run`, so a crash between writing the new identity and re-stamping
    is repaired at the next start. A spool without an owner (first enrollment, or one from before this file
    existed) is simply claimed: its seqs already follow the identity in use.
    """
    previous = owner(spool_dir)
    moved = 0
    if previous and previous != agent_id:
        moved = spool.restamp()
        log.warning("re-enrolled as %s (was %s): %d unsent events re-stamped from seq 1", agent_id, previous, moved)
    if previous != agent_id:
        # Written after the re-stamp commits: a crash in between re-stamps again, which changes nothing.
        write_atomic(spool_dir / OWNER_NAME, agent_id.encode("ascii"), 0o600)
    return moved
