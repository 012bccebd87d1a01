"""Initial schema: agents, enrollment tokens, events, policies.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Frozen copies of the value lists: a migration must not change when models.py later does.
SEGMENT_CHECK = "segment IN ('mynumber', 'lgwan', 'internet')"
SEVERITY_CHECK = "severity IN ('info', 'low', 'medium', 'high', 'critical')"
PAYLOAD = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("segment", sa.String(16), nullable=False),
        sa.Column("department", sa.String(200), nullable=False),
        sa.Column("hostname", sa.String(255), nullable=False),
        sa.Column("os", sa.String(255), nullable=False),
        sa.Column("os_version", sa.String(255), nullable=False),
        sa.Column("agent_version", sa.String(64), nullable=False),
        sa.Column("machine_id", sa.String(255), nullable=False),
        sa.Column("cert_serial", sa.String(64), nullable=False),
        sa.Column("cert_sha256", sa.String(64), nullable=False),
        sa.Column("cert_not_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("enrolled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_seq", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("policy_version", sa.String(64), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(100), nullable=True),
        sa.CheckConstraint(SEGMENT_CHECK, name=op.f("ck_agents_segment")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agents")),
    )
    op.create_table(
        "enrollment_tokens",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("segment", sa.String(16), nullable=False),
        sa.Column("department", sa.String(200), nullable=False),
        sa.Column("uses_allowed", sa.Integer(), nullable=False),
        sa.Column("uses_left", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.CheckConstraint(SEGMENT_CHECK, name=op.f("ck_enrollment_tokens_segment")),
        sa.CheckConstraint("uses_allowed >= 1", name=op.f("ck_enrollment_tokens_uses_allowed")),
        sa.CheckConstraint("uses_left >= 0 AND uses_left <= uses_allowed", name=op.f("ck_enrollment_tokens_uses_left")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrollment_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_enrollment_tokens_token_hash")),
    )
    op.create_table(
        "events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("agent_id", sa.String(36), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=True),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("severity", sa.String(10), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", PAYLOAD, nullable=False),
        sa.CheckConstraint(SEVERITY_CHECK, name=op.f("ck_events_severity")),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"], name=op.f("fk_events_agent_id_agents")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sa.UniqueConstraint("agent_id", "seq", name=op.f("uq_events_agent_id_seq")),
        sa.UniqueConstraint("event_id", name=op.f("uq_events_event_id")),
    )
    op.create_index(op.f("ix_events_agent_id_occurred_at"), "events", ["agent_id", "occurred_at"])
    op.create_index(op.f("ix_events_kind_occurred_at"), "events", ["kind", "occurred_at"])
    op.create_index(op.f("ix_events_occurred_at"), "events", ["occurred_at"])
    op.create_table(
        "policies",
        sa.Column("segment", sa.String(16), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("document", PAYLOAD, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(100), nullable=False),
        sa.CheckConstraint(SEGMENT_CHECK, name=op.f("ck_policies_segment")),
        sa.PrimaryKeyConstraint("segment", name=op.f("pk_policies")),
    )


def downgrade() -> None:
    op.drop_table("policies")
    op.drop_index(op.f("ix_events_occurred_at"), table_name="events")
    op.drop_index(op.f("ix_events_kind_occurred_at"), table_name="events")
    op.drop_index(op.f("ix_events_agent_id_occurred_at"), table_name="events")
    op.drop_table("events")
    op.drop_table("enrollment_tokens")
    op.drop_table("agents")
