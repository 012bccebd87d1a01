"""Queries: agents and revocation, enrollment tokens, event listing, policies."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from collector.store import queries
from collector.store.db import make_engine, upgrade
from collector.store.ingest import store_batch
from collector.store.models import sqlite_timestamp
from mamori.clock import JST
from mamori.events import Event
from mamori.ids import uuid7

T0 = datetime(2025, 4, 1, 9, 0, tzinfo=UTC)


def _facts(**over):
    facts = dict(
        segment="lgwan",
        department="情報政策課",
        hostname="pc-001",
        os="windows",
        os_version="11 23H2",
        agent_version="0.1.0",
        machine_id="mid-1",
        cert_serial="00AB12",
        cert_sha256="CD" * 32,
        cert_not_after=T0 + timedelta(days=365),
        enrolled_at=T0,
    )
    return {**facts, **over}


def _agent(engine, agent_id: str | None = None, **over) -> str:
    agent_id = agent_id or str(uuid.uuid4())
    queries.create_agent(engine, agent_id=agent_id, **_facts(**over))
    return agent_id


def _token(engine, token_hash: str = "a" * 64, uses: int = 1, expires_at: datetime = T0 + timedelta(days=1)):
    return queries.create_token(
        engine,
        token_hash=token_hash,
        segment="mynumber",
        department="市民課",
        uses=uses,
        expires_at=expires_at,
        created_by="admin",
        created_at=T0,
    )


# --- agents -------------------------------------------------------------------------------------


def test_agent_round_trip_in_utc(engine):
    jst_time = datetime(2025, 4, 1, 18, 0, tzinfo=JST)
    agent_id = _agent(engine, enrolled_at=jst_time)
    row = queries.get_agent(engine, agent_id)
    assert row == queries.AgentRow(
        id=agent_id,
        last_seen_at=None,
        last_seq=0,
        policy_version=None,
        revoked_at=None,
        revoked_by=None,
        **{**_facts(enrolled_at=jst_time), "cert_serial": "ab12", "cert_sha256": "cd" * 32},
    )
    assert row.enrolled_at.utcoffset() == timedelta(0) and row.enrolled_at == T0
    assert row.cert_matches(0xAB12) and row.cert_matches("ab12") and not row.cert_matches("ab13")


def test_naive_datetimes_are_refused(engine):
    with pytest.raises(sa.exc.StatementError, match="naive datetime"):
        _agent(engine, enrolled_at=datetime(2025, 4, 1, 9, 0))
    assert queries.list_agents(engine) == []


def test_get_agent_by_unique_prefix(engine):
    a = _agent(engine, "0123abcd-0000-4000-8000-000000000001")
    b = _agent(engine, "0123abcd-0000-4000-8000-000000000002")
    c = _agent(engine, "FEDC0987-0000-4000-8000-000000000003").lower()  # stored in canonical form
    assert queries.get_agent(engine, a).id == a
    assert queries.get_agent(engine, "FEDC0987").id == c
    assert queries.get_agent(engine, c.upper()).id == c
    with pytest.raises(ValueError):
        _agent(engine, "not-a-uuid")
    assert queries.get_agent(engine, b[:-1] + "9") is None
    with pytest.raises(queries.AmbiguousId) as info:
        queries.get_agent(engine, "0123abcd-0000")
    assert info.value.matches == [a, b]
    assert queries.get_agent(engine, "fedc098") is None  # shorter than 8 characters
    assert queries.get_agent(engine, "0123abc%") is None  # LIKE wildcards are literal
    assert queries.get_agent(engine, str(uuid.uuid4())) is None


def test_list_agents(engine):
    ids = {_agent(engine, hostname=f"pc-{i}") for i in range(3)}
    listed = queries.list_agents(engine)
    assert {a.id for a in listed} == ids
    assert [a.hostname for a in listed] == ["pc-0", "pc-1", "pc-2"]


def test_revocation(engine):
    ok, gone = _agent(engine), _agent(engine)
    unknown = str(uuid.uuid4())
    assert queries.agent_status(engine, ok)[0] == "ok"
    assert queries.revoke_agent(engine, gone, by="suzuki", at=T0 + timedelta(hours=1))
    assert not queries.revoke_agent(engine, gone, by="sato", at=T0 + timedelta(hours=2))
    assert not queries.revoke_agent(engine, unknown, by="sato", at=T0)
    status, row = queries.agent_status(engine, gone)
    assert (status, row.revoked_by, row.revoked_at) == ("revoked", "suzuki", T0 + timedelta(hours=1))
    assert row.cert_serial == "ab12"
    assert queries.agent_status(engine, unknown) == ("unknown", None)
    assert queries.revoked_agent_ids(engine, [ok, gone, unknown]) == {gone}
    assert queries.revoked_agent_ids(engine, []) == set()
    many = [str(uuid.uuid4()) for _ in range(1200)] + [gone]
    assert queries.revoked_agent_ids(engine, many) == {gone}


# --- tokens -------------------------------------------------------------------------------------


def test_token_uses_then_used_up(engine):
    _token(engine, uses=3)
    left = [queries.consume_token(engine, "a" * 64, T0).uses_left for _ in range(3)]
    assert left == [2, 1, 0]
    with pytest.raises(queries.TokenError) as info:
        queries.consume_token(engine, "a" * 64, T0)
    assert info.value.reason == "used_up"


def test_token_expired_and_unknown(engine):
    _token(engine, expires_at=T0)
    with pytest.raises(queries.TokenError) as info:
        queries.consume_token(engine, "a" * 64, T0)  # expiry instant itself is already too late
    assert info.value.reason == "expired"
    assert queries.list_tokens(engine)[0].uses_left == 1
    assert queries.consume_token(engine, "a" * 64, T0 - timedelta(seconds=1)).uses_left == 0
    with pytest.raises(queries.TokenError) as info:
        queries.consume_token(engine, "b" * 64, T0)
    assert info.value.reason == "unknown"


def test_token_consumed_in_a_failed_transaction_is_not_spent(engine):
    taken = _agent(engine)
    _token(engine, uses=1)
    with pytest.raises(sa.exc.IntegrityError):
        queries.enroll_agent(
            engine,
            token_hash="a" * 64,
            now=T0,
            agent_id=taken,
            **{k: v for k, v in _facts().items() if k not in ("segment", "department", "enrolled_at")},
        )
    assert queries.list_tokens(engine)[0].uses_left == 1
    new_id = str(uuid.uuid4())
    token = queries.enroll_agent(
        engine,
        token_hash="a" * 64,
        now=T0,
        agent_id=new_id,
        **{k: v for k, v in _facts().items() if k not in ("segment", "department", "enrolled_at")},
    )
    agent = queries.get_agent(engine, new_id)
    assert (token.segment, agent.segment, agent.department, token.uses_left) == (
        "mynumber",
        "mynumber",
        "市民課",
        0,
    )


def test_one_use_token_is_consumed_exactly_once_under_contention(engine):
    _token(engine, uses=1)
    workers = 8
    start = threading.Barrier(workers)
    outcomes: list[str] = []

    def consume() -> None:
        start.wait()
        try:
            queries.consume_token(engine, "a" * 64, T0)
            outcomes.append("ok")
        except queries.TokenError as exc:
            outcomes.append(exc.reason)

    threads = [threading.Thread(target=consume) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(outcomes) == ["ok"] + ["used_up"] * (workers - 1)
    assert queries.list_tokens(engine)[0].uses_left == 0


# --- events -------------------------------------------------------------------------------------


def _ev(seq: int, kind: str, at: datetime) -> Event:
    return Event(kind=kind, payload={"n": seq}, severity="info", seq=seq, event_id=str(uuid7()), occurred_at=at)


def test_list_and_count_events(engine):
    a, b = _agent(engine), _agent(engine)
    store_batch(
        engine,
        a,
        [
            _ev(1, "usb.attached", T0),
            _ev(2, "usb.blocked", T0 + timedelta(minutes=1)),
            _ev(3, "usb.blocked", T0 + timedelta(minutes=2)),
        ],
        T0,
    )
    # Same occurred_at for both: newest-first falls back to insertion order (id).
    store_batch(
        engine,
        b,
        [_ev(1, "media.write", T0 + timedelta(minutes=1)), _ev(2, "media.write", T0 + timedelta(minutes=1))],
        T0,
    )
    newest = queries.list_events(engine)
    assert [(e.agent_id, e.seq) for e in newest] == [(a, 3), (b, 2), (b, 1), (a, 2), (a, 1)]
    assert [e.seq for e in queries.list_events(engine, agent_id=a)] == [3, 2, 1]
    assert [(e.agent_id, e.seq) for e in queries.list_events(engine, kind="usb.blocked")] == [(a, 3), (a, 2)]
    # since is inclusive and compares instants, whatever the zone it is given in.
    since = (T0 + timedelta(minutes=1)).astimezone(JST)
    assert [e.seq for e in queries.list_events(engine, agent_id=a, since=since)] == [3, 2]
    assert [e.seq for e in queries.list_events(engine, agent_id=a, kind="usb.blocked", since=since, limit=1)] == [3]
    assert queries.list_events(engine, agent_id=str(uuid.uuid4())) == []
    assert (
        queries.count_events(engine),
        queries.count_events(engine, a),
        queries.count_events(engine, b),
    ) == (5, 3, 2)


def test_sqlite_timestamp_text_matches_sqlalchemy_storage(tmp_path):
    # The ingest fast path writes timestamps itself; they must equal what the typed path writes.
    url = f"sqlite:///{tmp_path / 'ts.db'}"
    upgrade(url)
    engine = make_engine(url)
    agent_id = _agent(engine)
    for seq, at in enumerate((T0, datetime(2025, 4, 1, 18, 0, 0, 123, tzinfo=JST)), start=1):
        store_batch(engine, agent_id, [_ev(seq, "usb.attached", at)], T0)
    with engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT occurred_at FROM events ORDER BY id").scalars().all()
        typed = conn.exec_driver_sql("SELECT enrolled_at FROM agents").scalar()
    assert stored == [sqlite_timestamp(T0), "2025-04-01 09:00:00.000123"]
    assert typed == sqlite_timestamp(T0)
    engine.dispose()


# --- policies -----------------------------------------------------------------------------------


def test_policies_set_and_replace(engine):
    assert queries.get_policy(engine, "mynumber") is None
    queries.set_policy(
        engine,
        segment="mynumber",
        version="v1",
        document={"usb": {"mode": "block"}},
        updated_by="admin",
        updated_at=T0,
    )
    queries.set_policy(
        engine,
        segment="mynumber",
        version="v2",
        document={"usb": {"mode": "audit"}, "名": "記"},
        updated_by="tanaka",
        updated_at=T0 + timedelta(hours=1),
    )
    queries.set_policy(engine, segment="lgwan", version="l1", document={}, updated_by="admin", updated_at=T0)
    assert queries.get_policy(engine, "mynumber") == {
        "segment": "mynumber",
        "version": "v2",
        "document": {"usb": {"mode": "audit"}, "名": "記"},
        "updated_by": "tanaka",
        "updated_at": T0 + timedelta(hours=1),
    }
    assert queries.get_policy(engine, "lgwan")["version"] == "l1"
    with pytest.raises(sa.exc.IntegrityError):
        queries.set_policy(engine, segment="bogus", version="x", document={}, updated_by="a", updated_at=T0)
