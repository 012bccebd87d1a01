"""Re-enrollment: the terminal's previous record is superseded, its violations closed, its silence ignored."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from collector.rules.scheduler import run_tick
from collector.store import audit, queries
from collector.store import violations as vstore
from collector.store.ingest import touch_agent

T0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)  # Monday 10:00 JST: office hours, OPS-002 applies


def _old(engine, machine_id="mid-1") -> str:
    agent_id = str(uuid.uuid4())
    queries.create_agent(
        engine,
        agent_id=agent_id,
        segment="lgwan",
        department="税務課",
        hostname="pc-1",
        os="linux",
        os_version="12",
        agent_version="0.1",
        machine_id=machine_id,
        cert_serial=uuid.uuid4().int,
        cert_sha256="ab" * 32,
        cert_not_after=T0 + timedelta(days=365),
        enrolled_at=T0 - timedelta(days=30),
    )
    touch_agent(engine, agent_id, seen_at=T0 - timedelta(hours=2))
    return agent_id


def _reenroll(engine, previous: str, machine_id="mid-1", token="b" * 64) -> str:
    queries.create_token(
        engine,
        token_hash=token,
        segment="lgwan",
        department="税務課",
        uses=1,
        expires_at=T0 + timedelta(days=1),
        created_by="admin",
        created_at=T0,
    )
    new_id = str(uuid.uuid4())
    queries.enroll_agent(
        engine,
        token_hash=token,
        now=T0,
        agent_id=new_id,
        hostname="pc-1",
        os="linux",
        os_version="12",
        agent_version="0.1",
        machine_id=machine_id,
        cert_serial=7,
        cert_sha256="cd" * 32,
        cert_not_after=T0 + timedelta(days=365),
        previous_agent_id=previous,
    )
    return new_id


def _active(engine, agent_id):
    with engine.connect() as conn:
        return vstore.list_violations(conn, agent_id=agent_id, status="active")


def test_reenrollment_supersedes_the_old_record_and_resolves_its_violations(engine):
    old = _old(engine)
    assert run_tick(engine, T0, 60)
    assert [v.rule_id for v in _active(engine, old)] == ["OPS-002"]
    new = _reenroll(engine, old)
    row = queries.get_agent(engine, old)
    assert (row.state, row.superseded_by, row.superseded_at) == ("superseded", new, T0)
    assert queries.get_agent(engine, new).state == "active"
    assert queries.agent_status(engine, old)[0] == "superseded"  # the server refuses its old certificate
    assert _active(engine, old) == []
    with engine.connect() as conn:
        [closed] = vstore.list_violations(conn, agent_id=old)
        [entry] = audit.list_entries(conn, action="agent.supersede")
    assert closed.resolution_note == f"再登録により置換 (新ID {new})"
    assert (entry.target, entry.details["superseded_by"], entry.details["violations_resolved"]) == (
        f"agent:{old}",
        new,
        [closed.id],
    )
    # Silent for ever after, yet never OPS-002 again: the terminal reports under its new id.
    assert run_tick(engine, T0 + timedelta(hours=3), 60)
    assert _active(engine, old) == []


def test_only_the_named_record_with_the_same_machine_id_is_superseded(engine):
    # Cloned disk images share machine ids: a clone enrolling must not retire its siblings.
    sibling = _old(engine)
    other_machine = _old(engine, machine_id="mid-2")
    _reenroll(engine, "", token="c" * 64)
    _reenroll(engine, other_machine, token="d" * 64)  # names a record of another machine
    assert queries.get_agent(engine, sibling).state == "active"
    assert queries.get_agent(engine, other_machine).state == "active"
