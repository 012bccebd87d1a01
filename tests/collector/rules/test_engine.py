"""Rules in the store: event rules inside store_batch, violation lifecycle, exceptions, state ticks."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from collector.rules.scheduler import run_tick
from collector.store import queries
from collector.store import violations as vstore
from collector.store.ingest import store_batch
from collector.store.models import exceptions, rule_ticks, violations
from mamori.events import Event
from mamori.ids import uuid7

T0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)  # Monday 10:00 JST
STORAGE = {"vendor_id": "0781", "product_id": "5581", "interface_classes": ["08:06:50"]}


def _agent(engine, segment="mynumber", department="市民課") -> str:
    agent_id = str(uuid.uuid4())
    queries.create_agent(
        engine,
        agent_id=agent_id,
        segment=segment,
        department=department,
        hostname=f"pc-{agent_id[:4]}",
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


class Feed:
    """Sends events for one agent with increasing seqs."""

    def __init__(self, engine, agent_id):
        self.engine, self.agent_id, self.seq = engine, agent_id, 0

    def send(self, *items, at=T0, seq=None):
        batch = []
        for kind, payload in items:
            self.seq = seq or self.seq + 1
            batch.append(
                Event(kind=kind, payload=payload, severity="info", seq=self.seq, event_id=str(uuid7()), occurred_at=at)
            )
        return store_batch(self.engine, self.agent_id, batch, received_at=at), batch


def _check(check_id, status, evidence):
    return "check.result", {"check_id": check_id, "status": status, "evidence_json": json.dumps(evidence)}


def _active(engine, agent_id, rule_id=None):
    with engine.connect() as conn:
        rows = vstore.list_violations(conn, agent_id=agent_id, status="active", rule_id=rule_id)
    return rows


def test_critical_event_is_an_open_violation_when_the_batch_is_acked(engine):
    agent = _agent(engine)
    feed = Feed(engine, agent)
    _, sent = feed.send(
        ("usb.attached", {**STORAGE, "mode": "block"}),
        ("media.write", {"path": "/m/a.csv"}),
        ("media.write", {"path": "/m/b.csv"}),
        ("agent.started", {}),
    )
    (v,) = _active(engine, agent)
    assert (v.rule_id, v.severity, v.status, v.count, v.segment, v.department) == (
        "MED-002",
        "critical",
        "open",
        2,
        "mynumber",
        "市民課",
    )
    assert v.event_id == sent[1].event_id and v.last_event_id == sent[2].event_id
    # a repeat adds to the same violation; a replayed batch counts nothing twice
    feed.send(("media.write", {"path": "/m/c.csv"}), at=T0 + timedelta(hours=1))
    store_batch(engine, agent, sent, received_at=T0 + timedelta(hours=2))
    (v,) = _active(engine, agent)
    assert (v.count, v.last_seen) == (3, T0 + timedelta(hours=1))


def test_check_rule_auto_resolves_with_the_clearing_evidence(engine):
    agent = _agent(engine)
    feed = Feed(engine, agent)
    feed.send(_check("mfa", "fail", {"local_mfa": False, "methods": ["password"]}))
    feed.send(_check("mfa", "fail", {"local_mfa": False}), at=T0 + timedelta(days=1))
    (v,) = _active(engine, agent)
    assert (v.rule_id, v.count) == ("AUT-001", 2)
    _, sent = feed.send(_check("mfa", "pass", {"local_mfa": True, "methods": ["pam_u2f"]}), at=T0 + timedelta(days=2))
    assert _active(engine, agent) == []
    with engine.connect() as conn:
        done = vstore.get_violation(conn, v.id)
    assert (done.status, done.resolved_by, done.resolved_at) == ("resolved", "mamori", T0 + timedelta(days=2))
    assert done.resolution_evidence["event_id"] == sent[0].event_id
    # the next failure opens a new violation (the resolved one stays as history)
    feed.send(_check("mfa", "fail", {"local_mfa": False}), at=T0 + timedelta(days=3))
    (again,) = _active(engine, agent)
    assert again.id != v.id and again.count == 1


def test_rules_respect_segments_and_sequence_gaps_are_violations(engine):
    agent = _agent(engine, segment="lgwan")
    feed = Feed(engine, agent)
    feed.send(("media.write", {"path": "/m/a"}), _check("mfa", "fail", {"local_mfa": False}))
    assert _active(engine, agent) == []
    feed.send(("agent.started", {}), seq=10)
    (gap,) = _active(engine, agent)
    assert (gap.rule_id, gap.severity, gap.evidence["first_missing"]) == ("OPS-003", "high", 3)


def test_repeated_blocks_escalate(engine):
    agent = _agent(engine, segment="internet")
    feed = Feed(engine, agent)
    for i in range(3):
        feed.send(("usb.blocked", {**STORAGE, "mode": "allowlist"}), at=T0 + timedelta(hours=i))
        (v,) = _active(engine, agent)
        assert v.severity == ("high" if i == 2 else "medium")


def _exception(engine, agent_id=None, department=None, rule="MED-002", until=T0 + timedelta(days=1)):
    with engine.begin() as conn:
        return conn.execute(
            exceptions.insert()
            .values(
                agent_id=agent_id,
                department=department,
                rule_id=rule,
                valid_from=T0 - timedelta(days=1),
                until=until,
                reason="業務上必要",
                approved_by="課長",
                created_at=T0,
                created_by="staff",
            )
            .returning(exceptions.c.id)
        ).scalar_one()


def test_exceptions_mark_violations_and_use_after_expiry_is_ops_005(engine):
    agent = _agent(engine)
    exc_id = _exception(engine, department="市民課")
    feed = Feed(engine, agent)
    feed.send(("media.write", {"path": "/m/a"}))
    (v,) = _active(engine, agent)
    assert v.exception_id == exc_id  # recorded, marked as excepted
    feed.send(("media.write", {"path": "/m/b"}), at=T0 + timedelta(days=2))
    by_rule = {x.rule_id: x for x in _active(engine, agent)}
    assert by_rule["MED-002"].exception_id is None
    assert by_rule["OPS-005"].evidence["exception_id"] == exc_id


def test_state_tick_flags_expired_exception_of_a_continuing_state(engine):
    agent = _agent(engine, segment="lgwan", department="税務課")
    exc_id = _exception(engine, agent_id=agent, rule="NET-001")
    Feed(engine, agent).send(_check("firewall", "fail", {"enabled": False}))
    assert _active(engine, agent)[0].exception_id == exc_id
    assert run_tick(engine, T0 + timedelta(days=3), 60)
    by_rule = {x.rule_id: x for x in _active(engine, agent)}
    assert by_rule["NET-001"].exception_id is None and "OPS-005" in by_rule
    assert by_rule["OPS-005"].evidence["violation_id"] == by_rule["NET-001"].id


def test_expired_exception_of_a_rechecked_rule_is_ops_005(engine):
    agent = _agent(engine, segment="internet")
    _exception(engine, agent_id=agent, rule="PAT-004")
    Feed(engine, agent).send(_check("os_support", "fail", {"release": "Windows 10", "end_of_support": "2025-10-14"}))
    assert _active(engine, agent)[0].exception_id is not None
    queries_touch(engine, agent, T0 + timedelta(days=3))
    assert run_tick(engine, T0 + timedelta(days=3), 60)
    by_rule = {x.rule_id: x for x in _active(engine, agent)}
    assert set(by_rule) == {"PAT-004", "OPS-005"} and by_rule["PAT-004"].exception_id is None


def test_heartbeat_and_patch_age_on_the_schedule(engine):
    quiet, busy = _agent(engine, segment="lgwan"), _agent(engine, segment="lgwan")
    for a in (quiet, busy):
        queries_touch(engine, a, T0)
    Feed(engine, busy).send(
        _check(
            "patch",
            "fail",
            {"pending_security": [{"name": "openssl"}], "pending_security_count": 2, "oldest_security_days": 13.0},
        )
    )
    assert _active(engine, busy) == []  # 13 days: within the 30-day policy
    now = T0 + timedelta(days=18, hours=1)  # Friday 11:00 JST
    queries_touch(engine, busy, now)
    assert run_tick(engine, now, 60)
    assert [v.rule_id for v in _active(engine, quiet)] == ["OPS-002"]
    assert [v.rule_id for v in _active(engine, busy)] == ["PAT-001"]
    # the same state on later ticks is not a new occurrence; a heartbeat clears OPS-002
    queries_touch(engine, quiet, now + timedelta(minutes=2))
    assert run_tick(engine, now + timedelta(minutes=5), 60)
    assert _active(engine, quiet) == []
    assert _active(engine, busy)[0].count == 1


def queries_touch(engine, agent_id, at):
    from collector.store.ingest import touch_agent

    touch_agent(engine, agent_id, seen_at=at)


def test_each_tick_runs_once_among_concurrent_collectors(engine):
    agent = _agent(engine, segment="internet")
    queries_touch(engine, agent, T0)
    now = T0 + timedelta(hours=1)
    results = []

    def collector(n):
        from collector.store.db import make_engine

        own = make_engine(engine.url.render_as_string(hide_password=False))
        try:
            results.append(run_tick(own, now, 60, f"c{n}"))
        finally:
            own.dispose()

    threads = [threading.Thread(target=collector, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False, False, False, True]
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(rule_ticks)).scalar() == 1
        assert conn.execute(sa.select(violations.c.count)).scalars().all() == [1]


def test_staff_lifecycle_is_audited(engine):
    agent = _agent(engine)
    Feed(engine, agent).send(("media.write", {"path": "/m/a"}))
    (v,) = _active(engine, agent)
    with engine.begin() as conn:
        vstore.acknowledge(conn, v.id, by="佐藤", at=T0, note="調査中")
    with pytest.raises(vstore.LifecycleError), engine.begin() as conn:
        vstore.acknowledge(conn, v.id, by="佐藤", at=T0, note=None)
    with engine.begin() as conn:
        vstore.resolve(conn, v.id, by="佐藤", at=T0 + timedelta(hours=1), note="媒体回収")
    with pytest.raises(vstore.LifecycleError) as err, engine.begin() as conn:
        vstore.resolve(conn, 99999, by="x", at=T0, note="n")
    assert err.value.reason == "unknown"
    from collector.store import audit

    with engine.connect() as conn:
        log = audit.list_entries(conn)
    assert [(e.action, e.actor, e.target) for e in log] == [
        ("violation.resolve", "佐藤", f"violation:{v.id}"),
        ("violation.ack", "佐藤", f"violation:{v.id}"),
    ]
