"""PostgreSQL's monthly event partitions: created ahead of time, dropped whole by retention. SQLite has none.

Design: events is PARTITION BY RANGE (occurred_at), one partition per UTC month (events_yYYYYmMM) plus
events_default for times outside every month created (an agent with a wrong clock). PostgreSQL requires a
unique constraint on a partitioned table to include the partition key, so on PostgreSQL the keys are
(event_id, occurred_at) and (agent_id, seq, occurred_at). A replay is the same event from the agent's spool —
same event_id, same occurred_at — so ON CONFLICT still skips it; and ingest checks (agent_id, seq) for seqs at
or below the agent's last stored seq (collector.store.ingest), so a replayed seq is never stored twice.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import OperationalError

# Months created ahead of the current one, by the migration and on every retention run / tick.
AHEAD = 3
DEFAULT = "events_default"
_NAME = re.compile(r"^events_y(\d{4})m(\d{2})$")
# Any fixed key: collectors sharing one PostgreSQL create partitions one at a time.
_LOCK_KEY = 0x6D616D6F7270


def _month(ts: datetime) -> datetime:
    ts = ts.astimezone(UTC)
    return datetime(ts.year, ts.month, 1, tzinfo=UTC)


def _next(start: datetime) -> datetime:
    return datetime(start.year + start.month // 12, start.month % 12 + 1, 1, tzinfo=UTC)


def name_of(start: datetime) -> str:
    return f"events_y{start.year:04d}m{start.month:02d}"


def is_partitioned(conn: Connection) -> bool:
    if conn.dialect.name != "postgresql":
        return False
    return bool(
        conn.execute(
            text("SELECT EXISTS (SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass('events'))")
        ).scalar()
    )


def existing(conn: Connection) -> dict[str, datetime]:
    """Monthly partitions by name -> month start."""
    rows = conn.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = to_regclass('events')"
        )
    ).scalars()
    found = {}
    for name in rows:
        m = _NAME.match(name)
        if m:
            found[name] = datetime(int(m.group(1)), int(m.group(2)), 1, tzinfo=UTC)
    return found


def create(conn: Connection, start: datetime) -> bool:
    """Create the month's partition if missing; rows the default partition holds for it move in. True if created."""
    start = _month(start)
    name, end = name_of(start), _next(start)
    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
    if name in existing(conn):
        return False
    bounds = {"s": start, "e": end}
    stray = conn.execute(
        text(f"SELECT EXISTS (SELECT 1 FROM {DEFAULT} WHERE occurred_at >= :s AND occurred_at < :e)"), bounds
    ).scalar()
    if not stray:
        conn.execute(
            text(
                f"CREATE TABLE {name} PARTITION OF events FOR VALUES FROM ('{start.isoformat()}') "
                f"TO ('{end.isoformat()}')"
            )
        )
        return True
    # PostgreSQL refuses a new partition while the default one holds rows of its range: move them over first.
    conn.execute(text(f"CREATE TABLE {name} (LIKE events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"))
    conn.execute(
        text(
            f"WITH moved AS (DELETE FROM {DEFAULT} WHERE occurred_at >= :s AND occurred_at < :e "
            f"RETURNING *) INSERT INTO {name} SELECT * FROM moved"
        ),
        bounds,
    )
    conn.execute(
        text(
            f"ALTER TABLE events ATTACH PARTITION {name} FOR VALUES FROM ('{start.isoformat()}') "
            f"TO ('{end.isoformat()}')"
        )
    )
    return True


def ensure_ahead(engine: Engine, now: datetime, ahead: int = AHEAD) -> list[str]:
    """This month's and the next `ahead` months' partitions exist afterwards; names of those created."""
    created = []
    with engine.begin() as conn:
        if not is_partitioned(conn):
            return []
        start = _month(now)
        for _ in range(ahead + 1):
            if create(conn, start):
                created.append(name_of(start))
            start = _next(start)
    return created


def drop_month(engine: Engine, start: datetime, expected: int) -> bool:
    """Drop the month's partition if it holds exactly the `expected` rows (all archived); True if dropped.

    Takes the table lock first (as DROP needs it), so no batch can add a row between the count and the drop;
    a row that arrived since the archive was read makes the count differ, and the caller deletes by id instead.
    """
    try:
        with engine.begin() as conn:
            if not is_partitioned(conn):
                return False
            name = name_of(_month(start))
            if name not in existing(conn):
                return False
            # Ingest waits while the lock is held; never longer than this, else rows are deleted instead.
            conn.execute(text("SET LOCAL lock_timeout = '10s'"))
            conn.execute(text("LOCK TABLE events IN ACCESS EXCLUSIVE MODE"))
            if conn.execute(text(f"SELECT count(*) FROM {name}")).scalar() != expected:
                return False
            conn.execute(text(f"DROP TABLE {name}"))
    except OperationalError:  # the lock timed out: busy ingest goes first
        return False
    return True


def drop_empty_before(engine: Engine, cutoff: datetime) -> list[str]:
    """Drop monthly partitions wholly before cutoff that retention has emptied (e.g. once cited rows left)."""
    dropped = []
    with engine.connect() as conn:
        if not is_partitioned(conn):
            return []
        old = sorted(name for name, start in existing(conn).items() if _next(start) <= cutoff)
    for name in old:
        if drop_month(engine, existing_start(name), 0):
            dropped.append(name)
    return dropped


def existing_start(name: str) -> datetime:
    m = _NAME.match(name)
    assert m, name
    return datetime(int(m.group(1)), int(m.group(2)), 1, tzinfo=UTC)
