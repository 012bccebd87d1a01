"""The collector's schema: one MetaData, SQLAlchemy Core tables (the migrations must match it exactly)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB

from mamori.labels import SEGMENTS, SEVERITIES, VIOLATION_STATUSES

# Stable constraint names, so later migrations (and SQLite batch mode) can address them.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps are tz-aware UTC in Python; naive UTC text on SQLite, timestamptz on PostgreSQL.

    SQLite has no time zone type, so values are converted to UTC before storing: the fixed-width
    text then sorts and compares chronologically. Naive datetimes are refused, never guessed.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: the store only takes tz-aware datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def sqlite_timestamp(value: datetime) -> str:
    """The text UTCDateTime stores on SQLite, for paths that bypass SQLAlchemy's type processing."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


# JSONB on PostgreSQL: payload fields can be indexed and queried by rules and reports.
Payload: Any = JSON().with_variant(JSONB(), "postgresql")

agents = Table(
    "agents",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("segment", String(16), nullable=False),
    Column("department", String(200), nullable=False),
    Column("hostname", String(255), nullable=False),
    Column("os", String(255), nullable=False),
    Column("os_version", String(255), nullable=False),
    Column("agent_version", String(64), nullable=False),
    Column("machine_id", String(255), nullable=False),
    Column("cert_serial", String(64), nullable=False),
    Column("cert_sha256", String(64), nullable=False),
    Column("cert_not_after", UTCDateTime(), nullable=False),
    # The certificate before the last renewal: accepted until the renewed one is first used (a lost reply).
    Column("previous_cert_serial", String(64), nullable=True),
    Column("cert_renewed_at", UTCDateTime(), nullable=True),
    Column("enrolled_at", UTCDateTime(), nullable=False),
    Column("last_seen_at", UTCDateTime(), nullable=True),
    Column("last_seq", BigInteger(), nullable=False, default=0, server_default="0"),
    Column("policy_version", String(64), nullable=True),
    Column("revoked_at", UTCDateTime(), nullable=True),
    Column("revoked_by", String(100), nullable=True),
    # Set when the same terminal enrolled again (enroll --force): the record is history, not a silent terminal.
    Column("superseded_by", String(36), nullable=True),
    Column("superseded_at", UTCDateTime(), nullable=True),
    CheckConstraint(_one_of("segment", SEGMENTS), name="segment"),
)

enrollment_tokens = Table(
    "enrollment_tokens",
    metadata,
    Column("id", Integer(), primary_key=True, autoincrement=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("segment", String(16), nullable=False),
    Column("department", String(200), nullable=False),
    Column("uses_allowed", Integer(), nullable=False),
    Column("uses_left", Integer(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("created_by", String(100), nullable=False),
    # Withdrawn by staff (token revoke): the token enrolls nothing more, its row stays for the record.
    Column("revoked_at", UTCDateTime(), nullable=True),
    Column("revoked_by", String(100), nullable=True),
    CheckConstraint(_one_of("segment", SEGMENTS), name="segment"),
    CheckConstraint("uses_allowed >= 1", name="uses_allowed"),
    CheckConstraint("uses_left >= 0 AND uses_left <= uses_allowed", name="uses_left"),
)

events = Table(
    "events",
    metadata,
    # INTEGER PRIMARY KEY on SQLite is the rowid itself: no second b-tree on the hot insert path.
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("agent_id", String(36), ForeignKey("agents.id"), nullable=False),
    # NULL for events the collector records itself (sequence.gap); NULLs never collide in the unique key.
    Column("seq", BigInteger(), nullable=True),
    Column("event_id", String(36), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("severity", String(10), nullable=False),
    Column("occurred_at", UTCDateTime(), nullable=False),
    Column("received_at", UTCDateTime(), nullable=False),
    Column("payload", Payload, nullable=False),
    UniqueConstraint("agent_id", "seq"),
    UniqueConstraint("event_id"),
    CheckConstraint(_one_of("severity", SEVERITIES), name="severity"),
    Index(None, "agent_id", "occurred_at"),
    Index(None, "kind", "occurred_at"),
    Index(None, "occurred_at"),
)

policies = Table(
    "policies",
    metadata,
    Column("segment", String(16), primary_key=True),
    Column("version", String(64), nullable=False),
    Column("document", Payload, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("updated_by", String(100), nullable=False),
    CheckConstraint(_one_of("segment", SEGMENTS), name="segment"),
)

# 許可デバイス台帳: approved-device rules (USBGuard rule language), each scoped to all terminals, a segment
# and/or a department. Rules are kept in import order: the first matching rule decides on the agent.
approved_devices = Table(
    "approved_devices",
    metadata,
    Column("id", Integer(), primary_key=True, autoincrement=True),
    Column("rule", String(4096), nullable=False),
    Column("segment", String(16), nullable=True),
    Column("department", String(200), nullable=True),
    Column("source", String(500), nullable=False),
    Column("source_line", Integer(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("created_by", String(100), nullable=False),
    CheckConstraint("segment IS NULL OR " + _one_of("segment", SEGMENTS), name="segment"),
)

# 一時許可: one serial allowed on one agent or a department's terminals (or all) until a moment.
temporary_permissions = Table(
    "temporary_permissions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("serial", String(256), nullable=False),
    Column("agent_id", String(36), ForeignKey("agents.id"), nullable=True),
    Column("department", String(200), nullable=True),
    Column("until", UTCDateTime(), nullable=False),
    Column("reason", String(1000), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("created_by", String(100), nullable=False),
    Column("revoked_at", UTCDateTime(), nullable=True),
    Column("revoked_by", String(100), nullable=True),
    CheckConstraint("agent_id IS NULL OR department IS NULL", name="scope"),
    Index(None, "serial"),
)


# One row per agent + rule while it is not resolved: active_key is "agent_id:rule_id" until the
# violation is resolved, then NULL. The unique constraint makes "one open violation per agent + rule"
# a database guarantee on both backends (NULLs never collide), whichever collector writes.
violations = Table(
    "violations",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("agent_id", String(36), ForeignKey("agents.id"), nullable=False),
    Column("rule_id", String(16), nullable=False),
    # Copied from the agent when the violation opens: the report shows the 所属 of the time.
    Column("segment", String(16), nullable=False),
    Column("department", String(200), nullable=False),
    Column("severity", String(10), nullable=False),
    Column("status", String(16), nullable=False),
    Column("active_key", String(60), nullable=True),
    Column("first_seen", UTCDateTime(), nullable=False),
    Column("last_seen", UTCDateTime(), nullable=False),
    Column("count", Integer(), nullable=False),
    Column("event_id", String(36), nullable=True),
    Column("last_event_id", String(36), nullable=True),
    Column("detail", String(500), nullable=False),
    Column("evidence", Payload, nullable=False),
    Column("exception_id", Integer(), ForeignKey("exceptions.id"), nullable=True),
    Column("acknowledged_at", UTCDateTime(), nullable=True),
    Column("acknowledged_by", String(100), nullable=True),
    Column("ack_note", String(1000), nullable=True),
    Column("resolved_at", UTCDateTime(), nullable=True),
    Column("resolved_by", String(100), nullable=True),
    Column("resolution_note", String(1000), nullable=True),
    Column("resolution_evidence", Payload, nullable=True),
    # 検知内容 as a gettext msgid + params, rendered in each reader's language; `detail` keeps the English text.
    Column("detail_message", Payload, nullable=True),
    UniqueConstraint("active_key"),
    CheckConstraint(_one_of("status", VIOLATION_STATUSES), name="status"),
    CheckConstraint(_one_of("severity", SEVERITIES), name="severity"),
    CheckConstraint(_one_of("segment", SEGMENTS), name="segment"),
    CheckConstraint("count >= 1", name="count"),
    Index(None, "first_seen"),
    Index(None, "status", "first_seen"),
    Index(None, "agent_id", "first_seen"),
    Index(None, "rule_id", "first_seen"),
    Index(None, "department", "first_seen"),
    Index(None, "segment", "first_seen"),
    Index(None, "last_seen"),
)

# 例外措置: a rule waived for one agent or a whole 所属 until a date, approved by a named person.
exceptions = Table(
    "exceptions",
    metadata,
    Column("id", Integer(), primary_key=True, autoincrement=True),
    Column("agent_id", String(36), ForeignKey("agents.id"), nullable=True),
    Column("department", String(200), nullable=True),
    Column("rule_id", String(16), nullable=False),
    Column("valid_from", UTCDateTime(), nullable=False),
    Column("until", UTCDateTime(), nullable=False),
    Column("reason", String(1000), nullable=False),
    Column("approved_by", String(100), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("created_by", String(100), nullable=False),
    Column("revoked_at", UTCDateTime(), nullable=True),
    Column("revoked_by", String(100), nullable=True),
    # Set once OPS-005 has reported the exception's use after expiry, so it is reported once.
    Column("expiry_reported_at", UTCDateTime(), nullable=True),
    CheckConstraint("(agent_id IS NULL) <> (department IS NULL)", name="scope"),
    CheckConstraint("until > valid_from", name="period"),
    Index(None, "rule_id", "until"),
)

# Who did what, when: every staff action (ack, resolve, exceptions, tokens, revocations, policies).
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("action", String(40), nullable=False),
    Column("target", String(200), nullable=False),
    Column("details", Payload, nullable=False),
    # The login name behind the command (SUDO_USER, else the process user): --by is typed, this is not.
    Column("os_user", String(100), nullable=True),
    # SHA-256 over the previous entry's hash and this entry's content (collector.store.audit): an edited or
    # deleted row breaks the chain, which `audit-log verify` reports.
    Column("chain_hash", String(64), nullable=True),
    Index(None, "at"),
)

# The latest result of each posture check per agent: state rules and reports read it instead of
# scanning the event table for the newest check.result.
check_state = Table(
    "check_state",
    metadata,
    Column("agent_id", String(36), ForeignKey("agents.id"), primary_key=True),
    Column("check_id", String(40), primary_key=True),
    Column("status", String(20), nullable=False),
    Column("occurred_at", UTCDateTime(), nullable=False),
    Column("event_id", String(36), nullable=False),
    Column("payload", Payload, nullable=False),
)

# Exactly-once scheduling of state rules across collectors sharing one database: the collector
# whose INSERT of (job, tick) succeeds runs that tick, in the same transaction; a crash rolls the
# claim back so another collector takes the tick.
rule_ticks = Table(
    "rule_ticks",
    metadata,
    Column("job", String(40), primary_key=True),
    Column("tick", UTCDateTime(), primary_key=True),
    Column("collector", String(100), nullable=False),
    Column("finished_at", UTCDateTime(), nullable=False),
)

# Forwarding outbox (collector.forward): what is to reach the SIEM or staff's mail, written in the same
# transaction as the violation change or event it tells of, deleted once its destination accepted it.
forward_outbox = Table(
    "forward_outbox",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("destination", String(16), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("record", Payload, nullable=False),
    Column("attempts", Integer(), nullable=False, default=0, server_default="0"),
    Column("last_error", String(500), nullable=True),
    Index(None, "destination", "id"),
)

# One sender per destination at a time (several collectors on one PostgreSQL): the collector holding the lease
# sends that destination's records in order; a crashed holder's lease runs out and another takes over.
forward_leases = Table(
    "forward_leases",
    metadata,
    Column("destination", String(16), primary_key=True),
    Column("holder", String(100), nullable=False),
    Column("leased_until", UTCDateTime(), nullable=False),
)

# On PostgreSQL events is partitioned by month (collector.store.partitions): a key of a partitioned table must
# include the partition key, so there its primary and unique keys carry occurred_at as well (same names).
PARTITIONED_EVENT_KEYS = {
    "pk_events": ("id", "occurred_at"),
    "uq_events_agent_id_seq": ("agent_id", "seq", "occurred_at"),
    "uq_events_event_id": ("event_id", "occurred_at"),
}


def is_partition(name: str) -> bool:
    """A partition of events (events_y2026m11, events_default): schema of its parent, not a table of its own."""
    return name == "events_default" or (name.startswith("events_y") and len(name) == 15)


def metadata_for(dialect: str) -> MetaData:
    """The schema as the migrations build it on this backend: `metadata`, with PostgreSQL's partitioned keys."""
    if dialect != "postgresql":
        return metadata
    copy = MetaData(naming_convention=metadata.naming_convention)
    for table in metadata.tables.values():
        table.to_metadata(copy)
    table = copy.tables["events"]
    for constraint in list(table.constraints):
        if isinstance(constraint, UniqueConstraint):
            table.constraints.remove(constraint)
    for name in ("uq_events_agent_id_seq", "uq_events_event_id"):
        table.append_constraint(UniqueConstraint(*PARTITIONED_EVENT_KEYS[name], name=name))
    return copy
