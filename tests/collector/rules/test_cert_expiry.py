"""OPS-006 on the rule tick: a certificate near its end (or past it) is flagged, and a renewal clears it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from collector.rules.scheduler import run_tick
from collector.store import queries
from collector.store import violations as vstore

T0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)


def _agent(engine, not_after: datetime) -> tuple[str, str]:
    agent_id, serial = str(uuid.uuid4()), format(uuid.uuid4().int, "x")
    queries.create_agent(
        engine,
        agent_id=agent_id,
        segment="lgwan",
        department="市民課",
        hostname="pc-1",
        os="linux",
        os_version="12",
        agent_version="0.1",
        machine_id=agent_id,
        cert_serial=serial,
        cert_sha256="ab" * 32,
        cert_not_after=not_after,
        enrolled_at=T0 - timedelta(days=300),
    )
    return agent_id, serial


def _ops006(engine, agent_id):
    with engine.connect() as conn:
        return vstore.list_violations(conn, agent_id=agent_id, status="active", rule_id="OPS-006")


def test_expiring_and_expired_certificates_are_flagged_and_a_renewal_clears(engine):
    soon, soon_serial = _agent(engine, T0 + timedelta(days=10))
    gone, _ = _agent(engine, T0 - timedelta(days=1))
    fine, _ = _agent(engine, T0 + timedelta(days=200))
    assert run_tick(engine, T0, 60)
    assert [v.rule_id for v in _ops006(engine, soon)] == ["OPS-006"]
    assert "expires in 10" in _ops006(engine, soon)[0].detail
    assert "expired" in _ops006(engine, gone)[0].detail
    assert _ops006(engine, fine) == []
    assert _ops006(engine, soon)[0].severity == "high"

    assert queries.renew_agent_cert(
        engine,
        agent_id=soon,
        presented_serial=soon_serial,
        cert_serial="abc123",
        cert_sha256="cd" * 32,
        cert_not_after=T0 + timedelta(days=365),
        now=T0 + timedelta(minutes=1),
        peer="127.0.0.1",
    )
    row = queries.get_agent(engine, soon)
    assert (row.cert_serial, row.previous_cert_serial) == ("abc123", soon_serial)
    assert row.cert_matches(soon_serial) and row.cert_matches("abc123")
    assert run_tick(engine, T0 + timedelta(minutes=2), 60)
    assert _ops006(engine, soon) == []
    assert [v.rule_id for v in _ops006(engine, gone)] == ["OPS-006"]  # not renewed: stays open

    queries.forget_previous_cert(engine, soon, "abc123")
    assert not queries.get_agent(engine, soon).cert_matches(soon_serial)


def test_a_revoked_agent_cannot_renew(engine):
    agent_id, serial = _agent(engine, T0 + timedelta(days=10))
    queries.revoke_agent(engine, agent_id, "tester", T0)
    assert not queries.renew_agent_cert(
        engine,
        agent_id=agent_id,
        presented_serial=serial,
        cert_serial="1",
        cert_sha256="cd" * 32,
        cert_not_after=T0 + timedelta(days=365),
        now=T0,
    )
    assert not queries.renew_agent_cert(
        engine,
        agent_id=str(uuid.uuid4()),
        presented_serial=serial,
        cert_serial="1",
        cert_sha256="cd" * 32,
        cert_not_after=T0 + timedelta(days=365),
        now=T0,
    )
