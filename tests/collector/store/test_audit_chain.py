"""The audit log's hash chain: an edited or deleted entry is detected; concurrent writers keep one chain."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from collector.store import audit
from collector.store.db import make_engine
from collector.store.models import audit_log

T0 = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)


def _write(engine, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        with engine.begin() as conn:
            audit.record(
                conn,
                at=T0 + timedelta(minutes=i),
                actor="佐藤",
                action="violation.ack",
                target=f"violation:{i}",
                details={"note": f"確認 {i}", "n": i},
                os_user="sato",
            )


def _verify(engine):
    with engine.connect() as conn:
        return audit.verify(conn)


def test_intact_chain_verifies(engine):
    _write(engine, 5)
    assert _verify(engine) == (5, None)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(audit_log).order_by(audit_log.c.id)).all()
    assert all(len(r.chain_hash) == 64 for r in rows) and len({r.chain_hash for r in rows}) == 5
    assert {r.os_user for r in rows} == {"sato"}


@pytest.mark.parametrize(
    "column,value",
    [
        ("actor", "鈴木"),
        ("os_user", "root"),
        ("target", "violation:99"),
        ("details", {"note": "改ざん"}),
        ("at", T0 - timedelta(days=1)),
    ],
)
def test_an_edited_entry_is_detected(engine, column, value):
    _write(engine, 5)
    with engine.begin() as conn:
        third = conn.execute(sa.select(audit_log.c.id).order_by(audit_log.c.id).offset(2).limit(1)).scalar_one()
        conn.execute(audit_log.update().where(audit_log.c.id == third).values({column: value}))
    checked, broken = _verify(engine)
    assert (checked, broken.id) == (2, third)


def test_a_deleted_entry_is_detected_at_its_successor(engine):
    _write(engine, 5)
    with engine.begin() as conn:
        ids = list(conn.execute(sa.select(audit_log.c.id).order_by(audit_log.c.id)).scalars())
        conn.execute(sa.text("DELETE FROM audit_log WHERE id = :id"), {"id": ids[1]})
    checked, broken = _verify(engine)
    assert (checked, broken.id) == (1, ids[2])


def test_a_rehashed_edit_still_breaks_the_next_link(engine):
    # Recomputing the edited entry's own hash is not enough: its successor was chained to the old one.
    _write(engine, 3)
    with engine.begin() as conn:
        rows = conn.execute(sa.select(audit_log).order_by(audit_log.c.id)).all()
        forged = audit.entry_hash(
            rows[0].chain_hash,
            at=rows[1].at,
            actor="鈴木",
            os_user=rows[1].os_user,
            action=rows[1].action,
            target=rows[1].target,
            details=rows[1].details,
        )
        conn.execute(audit_log.update().where(audit_log.c.id == rows[1].id).values(actor="鈴木", chain_hash=forged))
    assert _verify(engine)[1].id == rows[2].id


def test_concurrent_writers_keep_one_chain(db_url):
    # Several collectors (here: engines) writing at once must not both chain onto the same predecessor.
    engines = [make_engine(db_url) for _ in range(4)]
    try:
        threads = [threading.Thread(target=_write, args=(e, 10, 100 * i)) for i, e in enumerate(engines)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert _verify(engines[0]) == (40, None)
    finally:
        for e in engines:
            e.dispose()


def test_upgrade_chains_entries_written_before_the_chain(tmp_path):
    from collector.store.db import downgrade, upgrade

    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url)
    downgrade(url, "0005")
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            for i in range(3):
                conn.execute(
                    sa.text(
                        "INSERT INTO audit_log (at, actor, action, target, details) "
                        "VALUES (:at, '佐藤', 'policy.set', :target, '{\"n\": 1}')"
                    ),
                    {"at": f"2026-11-0{i + 1} 00:00:00.000000", "target": f"policy:{i}"},
                )
        upgrade(url)
        assert _verify(engine) == (3, None)
        _write(engine, 1)
        assert _verify(engine) == (4, None)
    finally:
        engine.dispose()
