"""Retention over events with fixed old timestamps, on SQLite and PostgreSQL: archives, crash safety, violations."""

from __future__ import annotations

import gzip
import json
import os
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from collector import archive
from collector.store import audit, partitions, queries, retention
from collector.store import violations as vstore
from collector.store.ingest import store_batch
from collector.store.models import events
from mamori.events import Event
from mamori.ids import uuid7

# The collector's "now" in these tests: fixed, never today's date.
NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
OLD = [
    datetime(2025, 7, 8, 12, 0, tzinfo=UTC),
    datetime(2025, 7, 28, 1, 0, tzinfo=UTC),
    datetime(2025, 10, 31, 23, 59, tzinfo=UTC),
]
RECENT = [datetime(2025, 11, 1, 0, 0, tzinfo=UTC), datetime(2026, 11, 10, 0, 0, tzinfo=UTC)]


def _agent(engine, segment: str = "lgwan") -> str:
    agent_id = str(uuid.uuid4())
    queries.create_agent(
        engine,
        agent_id=agent_id,
        segment=segment,
        department="市民課",
        hostname="pc-1",
        os="linux",
        os_version="Debian 12",
        agent_version="0.1.0",
        machine_id=uuid.uuid4().hex,
        cert_serial=uuid.uuid4().int,
        cert_sha256="ab" * 32,
        cert_not_after=NOW + timedelta(days=365),
        enrolled_at=OLD[0] - timedelta(days=1),
    )
    return agent_id


class Sender:
    def __init__(self, engine, agent_id):
        self.engine, self.agent_id, self.seq = engine, agent_id, 0

    def send(self, at: datetime, kind: str = "agent.started", payload: dict | None = None) -> Event:
        self.seq += 1
        ev = Event(
            kind=kind,
            payload=payload or {"agent_version": "0.1", "note": f"第{self.seq}"},
            severity="info",
            seq=self.seq,
            event_id=str(uuid7()),
            occurred_at=at,
        )
        store_batch(self.engine, self.agent_id, [ev], received_at=at)
        return ev


def _month_partitions(engine):
    # PostgreSQL: the months used here have their partitions whatever today's date (the migration made them
    # around the day it ran).
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            for at in OLD + RECENT:
                partitions.create(conn, at)


def _stored_ids(engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(sa.select(events.c.event_id)).scalars())


def _run(engine, folder, now=NOW, **kw):
    return retention.run(
        engine, folder, now, events_days=kw.get("events_days", 365), archive_years=kw.get("archive_years", 3)
    )


def test_whole_old_months_move_to_verified_archives(engine, tmp_path):
    _month_partitions(engine)
    s = Sender(engine, _agent(engine))
    old = [s.send(at) for at in OLD]
    recent = [s.send(at) for at in RECENT]
    folder = tmp_path / "archive"
    result = _run(engine, folder)
    assert result.ran and result.cutoff == datetime(2025, 11, 1, tzinfo=UTC)  # month of NOW - 365 days
    assert [(m.month, m.archived, m.added, m.deleted, m.kept) for m in result.months] == [
        ("2025-07", 2, 2, 2, 0),
        ("2025-10", 1, 1, 1, 0),
    ]
    assert _stored_ids(engine) == {e.event_id for e in recent}
    july = list(archive.read(folder, "2025-07"))
    assert [r["event_id"] for r in july] == [e.event_id for e in old[:2]]
    assert july[0]["payload"] == {"agent_version": "0.1", "note": "第1"}
    assert july[0]["occurred_at"] == "2025-07-08T12:00:00.000000+00:00" and july[0]["seq"] == 1
    manifest = archive.verify(folder, "2025-07")
    assert manifest.events == 2 and manifest.sha256 == archive.sha256_file(archive.data_path(folder, "2025-07"))
    assert oct_mode(archive.data_path(folder, "2025-07")) == 0o600
    with engine.connect() as conn:
        entries = audit.list_entries(conn, action="retention.archive")
        assert {(e.target, e.details["sha256"]) for e in entries} == {
            ("archive:2025-07", manifest.sha256),
            ("archive:2025-10", archive.verify(folder, "2025-10").sha256),
        }
        assert audit.verify(conn)[1] is None
    if engine.dialect.name == "postgresql":  # the months left as whole partitions, not row by row
        with engine.connect() as conn:
            names = set(partitions.existing(conn))
        assert "events_y2025m07" not in names and "events_y2025m10" not in names
        assert {"events_y2025m11", "events_y2026m11"} <= names


def oct_mode(path) -> int:
    return os.stat(path).st_mode & 0o777


def test_rerun_changes_nothing_and_a_late_event_is_merged_once(engine, tmp_path):
    _month_partitions(engine)
    s = Sender(engine, _agent(engine))
    first = [s.send(at) for at in OLD[:2]]
    folder = tmp_path / "archive"
    _run(engine, folder)
    sha = archive.verify(folder, "2025-07").sha256
    again = _run(engine, folder)
    assert again.months == [] and archive.verify(folder, "2025-07").sha256 == sha
    late = s.send(datetime(2025, 7, 15, tzinfo=UTC))  # an agent that was offline for a year and more
    result = _run(engine, folder)
    assert [(m.month, m.archived, m.added, m.deleted) for m in result.months] == [("2025-07", 3, 1, 1)]
    assert [r["event_id"] for r in archive.read(folder, "2025-07")] == [
        first[0].event_id,
        late.event_id,
        first[1].event_id,
    ]
    assert _stored_ids(engine) == set()


def test_crash_after_the_archive_before_the_delete_is_finished_by_the_rerun(engine, tmp_path):
    _month_partitions(engine)
    s = Sender(engine, _agent(engine))
    evs = [s.send(at) for at in OLD[:2]]
    folder = tmp_path / "archive"
    # What a crash right after the archive's rename leaves: the archive written, every row still stored.
    with engine.connect() as conn:
        rows = conn.execute(sa.select(events).order_by(events.c.occurred_at)).all()
    archive.write(folder, "2025-07", [retention.record(r) for r in rows], NOW)
    sha = archive.verify(folder, "2025-07").sha256
    result = _run(engine, folder)
    assert [(m.month, m.archived, m.added, m.deleted) for m in result.months] == [("2025-07", 2, 0, 2)]
    assert archive.verify(folder, "2025-07").sha256 == sha  # verified and kept, not rewritten or duplicated
    assert [r["event_id"] for r in archive.read(folder, "2025-07")] == [e.event_id for e in evs]


def test_interrupted_writes_roll_forward_after_the_commit_and_back_before_it(tmp_path):
    folder = tmp_path / "archive"
    rec = {
        "event_id": "e1",
        "agent_id": "a",
        "seq": 1,
        "kind": "agent.started",
        "severity": "info",
        "occurred_at": "2025-07-01T00:00:00.000000+00:00",
        "received_at": "2025-07-01T00:00:00.000000+00:00",
        "payload": {},
    }
    archive.write(folder, "2025-07", [rec], NOW)
    data, manifest = archive.data_path(folder, "2025-07"), archive.manifest_path(folder, "2025-07")
    # Crash between the manifest's rename (the commit) and the data file's: readers and the rerun roll forward.
    os.replace(data, data.with_name(data.name + ".tmp"))
    assert [r["event_id"] for r in archive.read(folder, "2025-07")] == ["e1"]
    archive.recover(folder, "2025-07")
    assert data.exists() and not data.with_name(data.name + ".tmp").exists()
    # Crash before the commit: the half-written files are discarded, the archive before them stays.
    data.with_name(data.name + ".tmp").write_bytes(b"partial")
    manifest.with_name(manifest.name + ".tmp").write_text("{")
    archive.recover(folder, "2025-07")
    assert sorted(p.name for p in folder.iterdir()) == [data.name, manifest.name]
    assert [r["event_id"] for r in archive.read(folder, "2025-07")] == ["e1"]


def test_tampered_archive_is_detected_and_its_month_is_left_alone(engine, tmp_path):
    _month_partitions(engine)
    s = Sender(engine, _agent(engine))
    s.send(OLD[0])
    folder = tmp_path / "archive"
    _run(engine, folder)
    path = archive.data_path(folder, "2025-07")
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    edited = json.loads(lines[0]) | {"kind": "agent.stopped"}
    path.write_bytes(gzip.compress((json.dumps(edited) + "\n").encode()))
    with pytest.raises(archive.ArchiveError, match="SHA-256"):
        archive.verify(folder, "2025-07")
    late = s.send(OLD[1])
    with pytest.raises(archive.ArchiveError):
        _run(engine, folder)
    assert _stored_ids(engine) == {late.event_id}  # nothing removed while its archive does not verify


def test_violations_and_the_events_they_cite_survive_retention(engine, tmp_path):
    _month_partitions(engine)
    agent_id = _agent(engine, segment="mynumber")
    s = Sender(engine, agent_id)
    write = s.send(OLD[0], "media.write", {"path": "/media/usb/住民票.csv", "size": 10, "user": "tanaka"})
    other = s.send(OLD[1])
    with engine.connect() as conn:
        [v] = vstore.list_violations(conn, agent_id=agent_id)
    assert v.rule_id == "MED-002" and v.event_id == write.event_id
    folder = tmp_path / "archive"
    [month] = _run(engine, folder).months
    assert (month.archived, month.deleted, month.kept) == (2, 1, 1)
    assert _stored_ids(engine) == {write.event_id}  # `events show` still finds the evidence of the open one
    assert queries.get_event(engine, write.event_id).payload["path"] == "/media/usb/住民票.csv"
    assert {r["event_id"] for r in archive.read(folder, "2025-07")} == {write.event_id, other.event_id}
    with engine.begin() as conn:
        vstore.resolve(conn, v.id, by="佐藤", at=NOW, note="媒体を回収")
    [month] = _run(engine, folder).months
    assert (month.archived, month.added, month.deleted, month.kept) == (2, 0, 1, 0)
    assert _stored_ids(engine) == set()
    with engine.connect() as conn:
        [kept] = vstore.list_violations(conn, agent_id=agent_id)
    assert (kept.id, kept.status, kept.event_id, kept.evidence) == (v.id, "resolved", v.event_id, v.evidence)
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            assert "events_y2025m07" not in partitions.existing(conn)  # emptied, then dropped


def test_archives_are_deleted_after_archive_years(engine, tmp_path):
    _month_partitions(engine)
    s = Sender(engine, _agent(engine))
    s.send(OLD[0])
    s.send(OLD[2])
    folder = tmp_path / "archive"
    _run(engine, folder)
    # 2025-07 left the database at the 2025-08 boundary; three years on, only it is past archive_years.
    later = datetime(2029, 8, 20, tzinfo=UTC)
    result = _run(engine, folder, later)
    assert result.expired_archives == ["2025-07"]
    assert archive.months(folder) == ["2025-10"]
    with engine.connect() as conn:
        [entry] = audit.list_entries(conn, action="retention.archive_deleted")
    assert entry.target == "archive:2025-07"


def test_one_run_at_a_time(engine, tmp_path):
    folder = tmp_path / "archive"
    with retention._exclusive(engine, folder) as mine:
        assert mine
        assert _run(engine, folder).ran is False


@pytest.mark.postgres
def test_partitions_are_made_ahead_and_take_in_strays_from_the_default(db_url, tmp_path):
    if not db_url.startswith("postgresql"):
        pytest.skip("partitions are PostgreSQL's")
    from collector.store.db import make_engine

    engine = make_engine(db_url)
    try:
        s = Sender(engine, _agent(engine))
        far = s.send(datetime(2031, 5, 3, tzinfo=UTC))  # an agent clock years ahead: into events_default
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM events_default")).scalar() == 1
        created = partitions.ensure_ahead(engine, datetime(2031, 4, 10, tzinfo=UTC))
        assert created == ["events_y2031m04", "events_y2031m05", "events_y2031m06", "events_y2031m07"]
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM events_default")).scalar() == 0
            assert conn.execute(sa.text("SELECT event_id FROM events_y2031m05")).scalar() == far.event_id
        assert partitions.ensure_ahead(engine, datetime(2031, 4, 10, tzinfo=UTC)) == []
        # Idempotent storage across partitions: the same event again is a duplicate, not a second row.
        again = store_batch(engine, s.agent_id, [far])
        assert (again.stored, again.duplicates) == (0, 1)
    finally:
        engine.dispose()


def test_one_run_per_database_across_data_folders(engine, tmp_path):
    if engine.dialect.name != "postgresql":
        pytest.skip("collectors share a database only on PostgreSQL")
    with retention._exclusive(engine, tmp_path / "collector-1") as mine:
        assert mine
        assert _run(engine, tmp_path / "collector-2").ran is False
    assert _run(engine, tmp_path / "collector-2").ran is True


def test_migration_0008_keeps_every_stored_event(db_url, tmp_path):
    from collector.store.db import downgrade, make_engine, upgrade

    engine = make_engine(db_url)
    try:
        s = Sender(engine, _agent(engine))
        sent = [s.send(at) for at in OLD + RECENT + [datetime(1999, 1, 1, tzinfo=UTC)]]
        downgrade(db_url, "0006")  # below 0008: events back in one plain table
        assert _stored_ids(engine) == {e.event_id for e in sent}
        upgrade(db_url)
        assert _stored_ids(engine) == {e.event_id for e in sent}
        again = store_batch(engine, s.agent_id, sent)  # still idempotent after the move
        assert (again.stored, again.duplicates) == (0, len(sent))
        with engine.connect() as conn:
            assert partitions.is_partitioned(conn) == (engine.dialect.name == "postgresql")
    finally:
        engine.dispose()
