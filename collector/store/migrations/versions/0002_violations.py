"""Violations, exceptions (例外措置), audit log, latest check state, state-rule ticks.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Frozen copies of the value lists: a migration must not change when models.py later does.
SEGMENT_CHECK = "segment IN ('mynumber', 'lgwan', 'internet')"
SEVERITY_CHECK = "severity IN ('info', 'low', 'medium', 'high', 'critical')"
STATUS_CHECK = "status IN ('open', 'acknowledged', 'resolved')"
PAYLOAD = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "exceptions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("agent_id", sa.String(36), nullable=True),
        sa.Column("department", sa.String(200), nullable=True),
        sa.Column("rule_id", sa.String(16), nullable=False),
        sa.Column("valid_from", TS, nullable=False),
        sa.Column("until", TS, nullable=False),
        sa.Column("reason", sa.String(1000), nullable=False),
        sa.Column("approved_by", sa.String(100), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("revoked_at", TS, nullable=True),
        sa.Column("revoked_by", sa.String(100), nullable=True),
        sa.Column("expiry_reported_at", TS, nullable=True),
        sa.CheckConstraint("(agent_id IS NULL) <> (department IS NULL)", name=op.f("ck_exceptions_scope")),
        sa.CheckConstraint("until > valid_from", name=op.f("ck_exceptions_period")),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"], name=op.f("fk_exceptions_agent_id_agents")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exceptions")),
    )
    op.create_index(op.f("ix_exceptions_rule_id_until"), "exceptions", ["rule_id", "until"])
    op.create_table(
        "violations",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("agent_id", sa.String(36), nullable=False),
        sa.Column("rule_id", sa.String(16), nullable=False),
        sa.Column("segment", sa.String(16), nullable=False),
        sa.Column("department", sa.String(200), nullable=False),
        sa.Column("severity", sa.String(10), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("active_key", sa.String(60), nullable=True),
        sa.Column("first_seen", TS, nullable=False),
        sa.Column("last_seen", TS, nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(36), nullable=True),
        sa.Column("last_event_id", sa.String(36), nullable=True),
        sa.Column("detail", sa.String(500), nullable=False),
        sa.Column("evidence", PAYLOAD, nullable=False),
        sa.Column("exception_id", sa.Integer(), nullable=True),
        sa.Column("acknowledged_at", TS, nullable=True),
        sa.Column("acknowledged_by", sa.String(100), nullable=True),
        sa.Column("ack_note", sa.String(1000), nullable=True),
        sa.Column("resolved_at", TS, nullable=True),
        sa.Column("resolved_by", sa.String(100), nullable=True),
        sa.Column("resolution_note", sa.String(1000), nullable=True),
        sa.Column("resolution_evidence", PAYLOAD, nullable=True),
        sa.CheckConstraint(STATUS_CHECK, name=op.f("ck_violations_status")),
        sa.CheckConstraint(SEVERITY_CHECK, name=op.f("ck_violations_severity")),
        sa.CheckConstraint(SEGMENT_CHECK, name=op.f("ck_violations_segment")),
        sa.CheckConstraint("count >= 1", name=op.f("ck_violations_count")),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"], name=op.f("fk_violations_agent_id_agents")),
        sa.ForeignKeyConstraint(
            ["exception_id"], ["exceptions.id"], name=op.f("fk_violations_exception_id_exceptions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_violations")),
        sa.UniqueConstraint("active_key", name=op.f("uq_violations_active_key")),
    )
    for cols in (
        ["first_seen"],
        ["status", "first_seen"],
        ["agent_id", "first_seen"],
        ["rule_id", "first_seen"],
        ["department", "first_seen"],
        ["segment", "first_seen"],
        ["last_seen"],
    ):
        op.create_index(op.f("ix_violations_" + "_".join(cols)), "violations", cols)
    op.create_table(
        "audit_log",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("details", PAYLOAD, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"])
    op.create_table(
        "check_state",
        sa.Column("agent_id", sa.String(36), nullable=False),
        sa.Column("check_id", sa.String(40), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("occurred_at", TS, nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("payload", PAYLOAD, nullable=False),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"], name=op.f("fk_check_state_agent_id_agents")),
        sa.PrimaryKeyConstraint("agent_id", "check_id", name=op.f("pk_check_state")),
    )
    op.create_table(
        "rule_ticks",
        sa.Column("job", sa.String(40), nullable=False),
        sa.Column("tick", TS, nullable=False),
        sa.Column("collector", sa.String(100), nullable=False),
        sa.Column("finished_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("job", "tick", name=op.f("pk_rule_ticks")),
    )


def downgrade() -> None:
    op.drop_table("rule_ticks")
    op.drop_table("check_state")
    op.drop_index(op.f("ix_audit_log_at"), table_name="audit_log")
    op.drop_table("audit_log")
    for cols in (
        ["first_seen"],
        ["status", "first_seen"],
        ["agent_id", "first_seen"],
        ["rule_id", "first_seen"],
        ["department", "first_seen"],
        ["segment", "first_seen"],
        ["last_seen"],
    ):
        op.drop_index(op.f("ix_violations_" + "_".join(cols)), table_name="violations")
    op.drop_table("violations")
    op.drop_index(op.f("ix_exceptions_rule_id_until"), table_name="exceptions")
    op.drop_table("exceptions")
