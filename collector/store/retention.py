"""Retention: whole months of old events move to archives, then leave the database; old archives are deleted.

Order per month, so a crash anywhere loses nothing and a rerun finishes the job: read the month's rows, merge
them into the archive (temp file, fsync, rename), record it in the audit log, only then delete the rows.
Violations, exceptions and the audit log are never touched. Events cited by a violation that is not resolved
(its event_id / last_event_id) stay in the database, so `events show` keeps working for them; they are in the
archive too, and leave the database on a later run once the violation is resolved.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, select, text

from collector import archive
from collector.store import audit, partitions
from collector.store.db import read_only
from collector.store.models import events, violations
from mamori import clock

ACTOR = "mamori-collector retention"
# Any fixed key: of the collectors sharing one PostgreSQL, one runs retention at a time.
_LOCK_KEY = 0x6D616D6F7265
_DELETE_CHUNK = 1000


@dataclass(frozen=True, slots=True)
class MonthResult:
    month: str
    archived: int  # events in the month's archive now
    added: int  # of them, newly written by this run
    deleted: int  # rows removed from the database
    kept: int  # rows kept because a violation that is not resolved cites them


@dataclass(frozen=True, slots=True)
class RetentionResult:
    ran: bool  # False: another process was running retention on this database or archive folder
    cutoff: datetime
    months: list[MonthResult] = field(default_factory=list)
    expired_archives: list[str] = field(default_factory=list)
    dropped_partitions: list[str] = field(default_factory=list)
    created_partitions: list[str] = field(default_factory=list)


def month_start(ts: datetime) -> datetime:
    ts = ts.astimezone(UTC)
    return datetime(ts.year, ts.month, 1, tzinfo=UTC)


def next_month(start: datetime) -> datetime:
    return datetime(start.year + start.month // 12, start.month % 12 + 1, 1, tzinfo=UTC)


def month_name(start: datetime) -> str:
    return f"{start.year:04d}-{start.month:02d}"


def boundary(now: datetime, events_days: int) -> datetime:
    """Events before this instant leave the database: the start of the UTC month holding now - events_days.

    Whole months only, so every event is kept online at least events_days and each archive is one month.
    """
    return month_start(now - timedelta(days=events_days))


def archive_expiry(now: datetime, events_days: int, archive_years: int) -> datetime:
    """Archives of months ending before this instant are deleted: kept archive_years after leaving the database."""
    return boundary(now, events_days) - timedelta(days=365 * archive_years)


@contextlib.contextmanager
def _exclusive(engine: Engine, folder: Path) -> Iterator[bool]:
    """One retention run at a time: a file lock on the archive folder and, on PostgreSQL, an advisory lock."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(folder / ".retention.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        if engine.dialect.name != "postgresql":
            yield True
            return
        # A session lock on a connection held for the run: collectors with their own data folders share it.
        with engine.connect() as conn:
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": _LOCK_KEY}).scalar()
            conn.commit()
            try:
                yield bool(got)
            finally:
                if got:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _LOCK_KEY})
                    conn.commit()
    finally:
        os.close(fd)


def run(engine: Engine, folder: Path, now: datetime, *, events_days: int, archive_years: int) -> RetentionResult:
    """Archive and remove old events, delete expired archives; safe to run again at any time."""
    cutoff = boundary(now, events_days)
    with _exclusive(engine, folder) as mine:
        if not mine:
            return RetentionResult(False, cutoff)
        created = partitions.ensure_ahead(engine, now)
        results = []
        start = _oldest_month(engine, month_start(datetime(1970, 1, 1, tzinfo=UTC)), cutoff)
        while start is not None:
            results.append(_month(engine, folder, start, now))
            start = _oldest_month(engine, next_month(start), cutoff)
        expired = _expire_archives(engine, folder, now, archive_expiry(now, events_days, archive_years))
        dropped = partitions.drop_empty_before(engine, cutoff)
    return RetentionResult(True, cutoff, results, expired, dropped, created)


def _oldest_month(engine: Engine, since: datetime, cutoff: datetime) -> datetime | None:
    with read_only(engine.connect()) as conn:
        oldest = conn.execute(
            select(func.min(events.c.occurred_at)).where(events.c.occurred_at >= since, events.c.occurred_at < cutoff)
        ).scalar()
    if oldest is None:
        return None
    # SQLite's MIN() bypasses the column type: it comes back as text.
    if isinstance(oldest, str):
        oldest = datetime.fromisoformat(oldest)
    return month_start(oldest if oldest.tzinfo else oldest.replace(tzinfo=UTC))


def _cited(conn: Connection) -> set[str]:
    rows = conn.execute(
        select(violations.c.event_id, violations.c.last_event_id).where(violations.c.status != "resolved")
    )
    return {eid for r in rows for eid in r if eid}


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="microseconds")


def record(row: Any) -> dict[str, Any]:
    """An event as one archive line: the same fields as `events show --json`."""
    return {
        "event_id": row.event_id,
        "agent_id": row.agent_id,
        "seq": row.seq,
        "kind": row.kind,
        "severity": row.severity,
        "occurred_at": _iso(row.occurred_at),
        "received_at": _iso(row.received_at),
        "payload": row.payload,
    }


def _month(engine: Engine, folder: Path, start: datetime, now: datetime) -> MonthResult:
    name, end = month_name(start), next_month(start)
    ids: list[int] = []
    kept = 0
    with read_only(engine.connect()) as conn:
        cited = _cited(conn)
        query = (
            select(events)
            .where(events.c.occurred_at >= start, events.c.occurred_at < end)
            .order_by(events.c.occurred_at, events.c.id)
        )
        rows = conn.execution_options(stream_results=True, yield_per=2000).execute(query)

        def records() -> Iterator[dict[str, Any]]:
            nonlocal kept
            for group in _same_instant(rows):
                for row in sorted(group, key=lambda r: r.event_id):
                    if row.event_id in cited:
                        kept += 1
                    else:
                        ids.append(row.id)
                    yield record(row)

        written = archive.write(folder, name, records(), now)
    with engine.begin() as conn:
        if written.rewritten:
            audit.record(
                conn,
                at=now,
                actor=ACTOR,
                action="retention.archive",
                target=f"archive:{name}",
                details={"sha256": written.manifest.sha256, "events": written.manifest.events, "added": written.added},
            )
    if kept == 0 and partitions.drop_month(engine, start, len(ids)):
        return MonthResult(name, written.manifest.events, written.added, len(ids), 0)  # PostgreSQL: one DROP
    deleted = 0
    # Short transactions: on SQLite a long DELETE would hold the one write lock the agents' batches need.
    for i in range(0, len(ids), _DELETE_CHUNK):
        with engine.begin() as conn:
            deleted += conn.execute(delete(events).where(events.c.id.in_(ids[i : i + _DELETE_CHUNK]))).rowcount
    return MonthResult(name, written.manifest.events, written.added, deleted, kept)


def _same_instant(rows: Any) -> Iterator[list[Any]]:
    # Rows come ordered by occurred_at; within one instant archives order by event_id, compared in Python
    # because PostgreSQL's collation may not order text the way Python does.
    group: list[Any] = []
    for row in rows:
        if group and row.occurred_at != group[0].occurred_at:
            yield group
            group = []
        group.append(row)
    if group:
        yield group


def _expire_archives(engine: Engine, folder: Path, now: datetime, expiry: datetime) -> list[str]:
    expired = []
    for name in archive.months(folder):
        year, month = (int(x) for x in name.split("-"))
        if next_month(datetime(year, month, 1, tzinfo=UTC)) > expiry:
            continue
        archive.delete(folder, name)
        with engine.begin() as conn:
            audit.record(
                conn,
                at=now,
                actor=ACTOR,
                action="retention.archive_deleted",
                target=f"archive:{name}",
                details={"expired_before": _iso(expiry)},
            )
        expired.append(name)
    return expired


def oldest_event(engine: Engine) -> datetime | None:
    with read_only(engine.connect()) as conn:
        value = conn.execute(select(func.min(events.c.occurred_at))).scalar()
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


async def run_forever(engine: Engine, folder: Path, settings: dict[str, Any]) -> None:
    """The serve loop's task: retention every [retention] run_minutes (partitions ahead first), errors retried."""
    import asyncio
    import logging

    log = logging.getLogger("mamori.collector.retention")
    while True:
        try:
            result = await asyncio.to_thread(
                run,
                engine,
                folder,
                clock.now(),
                events_days=settings["retention.events_days"],
                archive_years=settings["retention.archive_years"],
            )
            for m in result.months:
                log.info(
                    "retention: %s archived (%d events, %d new), %d removed, %d kept for open violations",
                    m.month,
                    m.archived,
                    m.added,
                    m.deleted,
                    m.kept,
                )
            for name in result.expired_archives:
                log.info("retention: archive %s deleted (past [retention] archive_years)", name)
        except archive.ArchiveError as exc:  # staff must act (restore the archive from a backup): one line
            log.error("retention stopped, the month's events stay in the database: %s", exc)
        except Exception:  # a full disk or a database hiccup must not stop serving; said every run until fixed
            log.exception(
                "retention failed; events stay in the database, retrying in %s minutes",
                settings["retention.run_minutes"],
            )
        await asyncio.sleep(settings["retention.run_minutes"] * 60)
