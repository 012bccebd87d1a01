"""The wire-edge bounds: what real agents send passes, the rest is named; refusals are logged sparingly."""

from __future__ import annotations

import pytest

from collector import validate
from collector.store.db import make_engine
from collector.store.ingest import BatchError, store_batch
from mamori import events
from mamori.ids import uuid7
from mamori.v1 import events_pb2, telemetry_pb2
from tests.collector.store.test_store_ingest import T0, _agent, _stored_seqs


def _events(seqs):
    return [
        events.Event(kind="usb.blocked", payload={}, severity="medium", seq=s, event_id=str(uuid7()), occurred_at=T0)
        for s in seqs
    ]


# One payload per kind as the agent writes them, at their largest plausible sizes.
REAL = {
    "agent.started": {
        "agent_version": "0.1.0",
        "hostname": "pc-01",
        "os": "linux",
        "os_version": "Debian 12",
        "pid": 4242,
        "previous_exit": "clean",
    },
    "agent.stopped": {"reason": "signal:SIGTERM", "spool_depth": 100_000},
    "agent.tamper": {"what": "spool", "detail": "x" * 2000},
    "policy.rejected": {"version": "v" * 64, "reason": "r" * 500},
    "usb.blocked": {
        "vendor_id": "0781",
        "product_id": "5581",
        "serial": "4C53",
        "interface_classes": ["08:06:50"] * 8,
        "port": "1-2.3",
        "decided_by": "default",
        "mode": "block",
    },
    "media.write": {"path": "/media/usb/" + "d/" * 1000, "size": 2**40, "sha256": "ab" * 32},
    "check.result": {
        "check_id": "software",
        "status": "pass",
        "summary": "s" * 300,
        "evidence_json": "[" + ",".join(['"pkg"'] * 100_000) + "]",
        "full_report": True,
    },
}


def _batch(*raw: bytes) -> telemetry_pb2.AgentMessage:
    msg = telemetry_pb2.EventBatch(batch_id=7)
    for data in raw:
        msg.events.append(events_pb2.Event.FromString(data))
    return telemetry_pb2.AgentMessage(batch=msg)


def test_what_real_agents_send_passes():
    batch = _batch(*(events.encode(kind, payload, seq=i) for i, (kind, payload) in enumerate(REAL.items(), 1)))
    validate.agent_message(batch, max_batch=5000)
    validate.agent_message(
        telemetry_pb2.AgentMessage(
            hello=telemetry_pb2.Hello(agent_version="0.1.0", policy_version="v" * 64, next_seq=12)
        ),
        max_batch=5000,
    )
    validate.agent_message(
        telemetry_pb2.AgentMessage(
            heartbeat=telemetry_pb2.Heartbeat(
                spool_depth=3, policy_version="lgwan-3", policy_mode="collector", uptime_seconds=10**9
            )
        ),
        max_batch=5000,
    )


def test_batch_count_and_event_size_are_bounded():
    many = _batch(*(events.encode("agent.stopped", {}, seq=i) for i in range(1, 12)))
    with pytest.raises(validate.Invalid, match="exceeds the limit of 10"):
        validate.agent_message(many, max_batch=10)
    big = events.encode("check.result", {"check_id": "x", "evidence_json": "e" * (validate.MAX_EVENT_BYTES + 1)}, seq=1)
    with pytest.raises(validate.Invalid, match="bytes exceeds"):
        validate.agent_message(_batch(big), max_batch=10)


def test_unknown_enum_in_a_payload_is_named():
    msg = events_pb2.Event.FromString(events.encode("spool.overflow", {"dropped": 3}, seq=1))
    msg.spool_overflow.max_dropped_severity = 42
    with pytest.raises(validate.Invalid, match="max_dropped_severity: unknown value 42"):
        validate.agent_message(_batch(msg.SerializeToString()), max_batch=10)


def test_seq_window_is_checked_inside_the_transaction(db_url):
    engine = make_engine(db_url)
    agent_id = _agent(engine)
    store_batch(engine, agent_id, _events([1, 2]))
    with pytest.raises(BatchError, match="beyond the last stored seq 2"):
        store_batch(engine, agent_id, _events([3, 2 + validate.MAX_SEQ_AHEAD + 1]))
    with pytest.raises(BatchError, match="seq must be an integer"):
        store_batch(engine, agent_id, _events([events.MAX_SEQ + 1]))
    assert store_batch(engine, agent_id, _events([2 + validate.MAX_SEQ_AHEAD])).acked_seq == 2 + validate.MAX_SEQ_AHEAD
    assert _stored_seqs(engine, agent_id) == [1, 2, 2 + validate.MAX_SEQ_AHEAD]


def test_refusal_log_is_one_line_per_agent_per_interval_with_a_count():
    lines: list[str] = []
    now = [100.0]
    refusals = validate.RefusalLog(lines.append, every=10, clock=lambda: now[0])
    for _ in range(5):
        refusals.refused("a", "seq 9 out of range")
    refusals.refused("b", "NUL")
    assert lines == ["agent a: refused a message: seq 9 out of range", "agent b: refused a message: NUL"]
    now[0] = 111.0
    refusals.refused("a", "seq 9 out of range")
    assert lines[-1] == "agent a: refused a message: seq 9 out of range (4 more refused in the last 11 s)"
    now[0] = 130.0
    refusals.refused("a", "again")
    assert lines[-1] == "agent a: refused a message: again"
