"""Fixtures of the forwarding tests: syslog listeners on 127.0.0.1, routes put back, terminals that raise violations."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest
from forward_helpers import T0, SyslogListener

from collector.forward import outbox
from collector.store import queries
from collector.store.ingest import store_batch
from mamori.events import Event
from mamori.ids import uuid7


@pytest.fixture
def listener():
    made: list[SyslogListener] = []

    def start(port: int = 0, tls=None) -> SyslogListener:
        made.append(SyslogListener(port, tls))
        return made[-1]

    yield start
    for item in made:
        item.close()


@pytest.fixture
def routes():
    """Set this process's forwarding for a test and put it back afterwards."""
    before = outbox.routes()
    yield outbox.set_routes
    outbox.set_routes(before)


class Terminals:
    def __init__(self, engine):
        self.engine, self.seq = engine, {}

    def agent(self, segment="mynumber", department="税務課", hostname=None) -> str:
        agent_id = str(uuid.uuid4())
        queries.create_agent(
            self.engine,
            agent_id=agent_id,
            segment=segment,
            department=department,
            hostname=hostname or f"pc-{agent_id[:4]}",
            os="linux",
            os_version="12",
            agent_version="0.1",
            machine_id=agent_id,
            cert_serial=uuid.uuid4().int,
            cert_sha256="ab" * 32,
            cert_not_after=T0 + timedelta(days=365),
            enrolled_at=T0 - timedelta(days=30),
        )
        return agent_id

    def send(self, agent_id: str, kind: str, payload: dict, at: datetime = T0) -> list[Event]:
        self.seq[agent_id] = self.seq.get(agent_id, 0) + 1
        ev = Event(
            kind=kind, payload=payload, severity="info", seq=self.seq[agent_id], event_id=str(uuid7()), occurred_at=at
        )
        store_batch(self.engine, agent_id, [ev], received_at=at)
        return [ev]


@pytest.fixture
def terminals(engine):
    return Terminals(engine)
