"""The ingest service between the wire and the store: one received batch decoded, stored and judged in one call."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from collector.store.ingest import IngestResult, store_batch
from mamori import clock
from mamori import events as ev
from mamori.evidence import nest


def _nested(event: ev.Event) -> ev.Event:
    """A check result with its evidence_json decoded into the nested object stored (mamori.evidence.nest)."""
    if event.kind != "check.result" or "evidence_json" not in event.payload:
        return event
    nested = nest(event.payload)
    if nested is event.payload:
        return event
    # Frozen and slotted: one constructor call, cheaper than dataclasses.replace.
    return ev.Event(event.kind, nested, event.severity, event.seq, event.event_id, event.occurred_at)


class IngestService:
    """What server.py hands a validated EventBatch to; it returns only after the batch is durable and judged.

    The protobuf events are decoded here, in the same worker thread as the transaction, so the event loop
    spends no time on them and one thread hand-off serves the whole batch.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def store(self, agent_id: str, events: Sequence[Any], received_at: datetime | None = None) -> IngestResult:
        """Decode (raises mamori.events.EventError) and store (BatchError, UnknownAgent) one agent's batch."""
        decoded = [_nested(ev.decode(e)) for e in events]
        return store_batch(self.engine, agent_id, decoded, received_at or clock.now())
