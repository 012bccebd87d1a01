"""The raw SQLite floor: Python's sqlite3.executemany into the collector's own events table, nothing else."""

from __future__ import annotations

import sqlite3
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.ingest.payloads import agent_batches
from collector.store import queries
from collector.store.db import json_dumps, make_engine, upgrade
from collector.store.models import sqlite_timestamp
from mamori import events as ev
from mamori.evidence import nest
from mamori.ids import uuid7
from mamori.v1 import telemetry_pb2

INSERT = (
    "INSERT INTO events (agent_id, seq, event_id, kind, severity, occurred_at, received_at, payload) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


@dataclass(frozen=True)
class Floor:
    events: int
    seconds: float

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


def _rows(agent_ids: list[str], events_per_agent: int, batch: int) -> list[list[tuple]]:
    """The rows the collector would store, batch by batch, agents taking turns (as the streams interleave)."""
    template = [
        [ev.decode(e) for e in telemetry_pb2.AgentMessage.FromString(data).batch.events]
        for _, data in agent_batches(events_per_agent, batch)
    ]
    received = sqlite_timestamp(datetime.now(UTC))
    out = []
    for decoded in template:
        for agent_id in agent_ids:
            out.append(
                [
                    (
                        agent_id,
                        e.seq,
                        str(uuid7()),
                        e.kind,
                        e.severity,
                        sqlite_timestamp(e.occurred_at),
                        received,
                        json_dumps(nest(e.payload) if e.kind == "check.result" else e.payload),
                    )
                    for e in decoded
                ]
            )
    return out


def measure_floor(root: Path, agents: int, events_per_agent: int, batch: int) -> Floor:
    """Wall time of executemany into a migrated store (the schema `init` creates), one transaction per batch.

    The connection is set up as the collector's (WAL, synchronous NORMAL, foreign keys on, BEGIN IMMEDIATE);
    row preparation is not timed: only what no design on SQLite can avoid is.
    """
    root.mkdir(parents=True, exist_ok=True)
    path = root / "floor.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    engine = make_engine(url)
    now = datetime.now(UTC)
    agent_ids = [str(uuid.uuid4()) for _ in range(agents)]
    try:
        for agent_id in agent_ids:
            queries.create_agent(
                engine,
                agent_id=agent_id,
                segment="lgwan",
                department="bench",
                hostname="floor",
                os="Linux",
                os_version="bench",
                agent_version="bench",
                machine_id=agent_id,
                cert_serial=1,
                cert_sha256="00" * 32,
                cert_not_after=now + timedelta(days=1),
                enrolled_at=now,
            )
    finally:
        engine.dispose()
    batches = _rows(agent_ids, events_per_agent, batch)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        start = time.perf_counter()
        for rows in batches:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(INSERT, rows)
            conn.execute("COMMIT")
        seconds = time.perf_counter() - start
    finally:
        conn.close()
    return Floor(events=sum(len(r) for r in batches), seconds=seconds)
