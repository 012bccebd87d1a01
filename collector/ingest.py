"""The ingest service between the wire and the store: one received batch decoded, stored and judged in one call."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from collector.store.ingest import IngestResult, store_batch
from mamori import clock
from mamori import events as ev


class IngestService:
    """What server.py hands a validated EventBatch to; it returns only after the batch is durable and judged.

    The protobuf events are decoded here, in the same worker thread as the transaction, so the event loop
    spends no time on them and one thread hand-off serves the whole batch.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def store(self, agent_id: str, events: Sequence[Any], received_at: datetime | None = None) -> IngestResult:
        """Decode (raises mamori.events.EventError) and store (BatchError, UnknownAgent) one agent's batch."""
        decoded = [ev.decode(e) for e in events]
        return store_batch(self.engine, agent_id, decoded, received_at or clock.now())
