"""PostgreSQL: the events table partitioned by month, so retention drops whole months. SQLite: unchanged.

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None

# Frozen copies: a migration must not change when models.py or partitions.py later do.
SEVERITY_CHECK = "severity IN ('info', 'low', 'medium', 'high', 'critical')"
COLUMNS = "id, agent_id, seq, event_id, kind, severity, occurred_at, received_at, payload"
INDEXES = {
    "ix_events_agent_id_occurred_at": "agent_id, occurred_at",
    "ix_events_kind_occurred_at": "kind, occurred_at",
    "ix_events_occurred_at": "occurred_at",
}
BACK_MONTHS, AHEAD_MONTHS = 24, 3


def _month_add(start: datetime, n: int) -> datetime:
    index = start.year * 12 + start.month - 1 + n
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def _create_events(partitioned: bool, keys: dict[str, str]) -> None:
    op.execute(f"""
        CREATE TABLE events (
            id BIGINT NOT NULL DEFAULT nextval('events_id_seq'::regclass),
            agent_id VARCHAR(36) NOT NULL,
            seq BIGINT,
            event_id VARCHAR(36) NOT NULL,
            kind VARCHAR(40) NOT NULL,
            severity VARCHAR(10) NOT NULL,
            occurred_at TIMESTAMP WITH TIME ZONE NOT NULL,
            received_at TIMESTAMP WITH TIME ZONE NOT NULL,
            payload JSONB NOT NULL,
            CONSTRAINT pk_events PRIMARY KEY ({keys["pk"]}),
            CONSTRAINT uq_events_agent_id_seq UNIQUE ({keys["seq"]}),
            CONSTRAINT uq_events_event_id UNIQUE ({keys["event_id"]}),
            CONSTRAINT ck_events_severity CHECK ({SEVERITY_CHECK}),
            CONSTRAINT fk_events_agent_id_agents FOREIGN KEY (agent_id) REFERENCES agents (id)
        ){" PARTITION BY RANGE (occurred_at)" if partitioned else ""}""")
    op.execute("ALTER SEQUENCE events_id_seq OWNED BY events.id")
    for name, cols in INDEXES.items():
        op.execute(f"CREATE INDEX {name} ON events ({cols})")


def _set_aside() -> None:
    """Rename the current table out of the way, freeing its constraint and index names."""
    op.execute("ALTER TABLE events RENAME TO events_old")
    for name in (
        "uq_events_event_id",
        "uq_events_agent_id_seq",
        "pk_events",
        "fk_events_agent_id_agents",
        "ck_events_severity",
    ):
        op.execute(f"ALTER TABLE events_old DROP CONSTRAINT {name}")
    for name in INDEXES:
        op.execute(f"DROP INDEX {name}")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    from mamori import clock

    conn = op.get_bind()
    _set_aside()
    _create_events(
        True, {"pk": "id, occurred_at", "seq": "agent_id, seq, occurred_at", "event_id": "event_id, occurred_at"}
    )
    op.execute("CREATE TABLE events_default PARTITION OF events DEFAULT")
    now = clock.now()
    this = datetime(now.year, now.month, 1, tzinfo=UTC)
    oldest = conn.execute(sa.text("SELECT min(occurred_at) FROM events_old")).scalar()
    start = _month_add(this, -BACK_MONTHS)
    if oldest is not None and oldest > start:
        start = datetime(oldest.year, oldest.month, 1, tzinfo=UTC)
    # Older events (a wrong agent clock, or data from years back) wait in events_default for retention.
    while start <= _month_add(this, AHEAD_MONTHS):
        end = _month_add(start, 1)
        op.execute(
            f"CREATE TABLE events_y{start.year:04d}m{start.month:02d} PARTITION OF events "
            f"FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
        )
        start = end
    op.execute(f"INSERT INTO events ({COLUMNS}) SELECT {COLUMNS} FROM events_old")
    op.execute("DROP TABLE events_old")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    _set_aside()
    _create_events(False, {"pk": "id", "seq": "agent_id, seq", "event_id": "event_id"})
    # Rows duplicated under the weaker partitioned keys (same event_id, another time) keep their first copy.
    op.execute(f"INSERT INTO events ({COLUMNS}) SELECT {COLUMNS} FROM events_old ORDER BY id ON CONFLICT DO NOTHING")
    op.execute("DROP TABLE events_old")
