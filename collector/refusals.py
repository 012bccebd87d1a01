"""Refused batches in a row per agent: a terminal none of whose events is stored is itself OPS-003 evidence."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy import Engine

from collector.store.ingest import record_refused
from mamori import clock

log = logging.getLogger("mamori.collector.server")

REFUSED_LIMIT = 3  # refusals in a row before it is recorded: one can be a hiccup, three are a stuck agent
REPEAT_EVERY = 100  # ...and again every this many, so the open violation's count shows it goes on


class Refusals:
    """Kept per collector process: an agent that reconnects elsewhere starts counting again, which only delays."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.counts: dict[str, int] = {}

    def stored(self, agent_id: str) -> None:
        self.counts.pop(agent_id, None)

    async def refused(self, agent_id: str, error: str, batch: Any) -> None:
        count = self.counts[agent_id] = self.counts.get(agent_id, 0) + 1
        # Logged by the server's rate-limited refusal log, not here: one bad batch is one line.
        if count != REFUSED_LIMIT and count % REPEAT_EVERY != 0:
            return
        seqs = [e.seq for e in batch.events] or [0]
        payload = {"consecutive": count, "error": error[:500], "first_seq": min(seqs), "last_seq": max(seqs)}
        try:
            await asyncio.to_thread(record_refused, self.engine, agent_id, payload, clock.now())
        except Exception:  # the store itself may be why batches fail; the refusal still goes to the agent
            log.exception("cannot record the refused batches of agent %s", agent_id)
