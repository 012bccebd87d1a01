"""Approved-device register (許可デバイス台帳) and temporary permissions (一時許可).

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SEGMENT_CHECK = "segment IS NULL OR segment IN ('mynumber', 'lgwan', 'internet')"


def upgrade() -> None:
    op.create_table(
        "approved_devices",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("rule", sa.String(4096), nullable=False),
        sa.Column("segment", sa.String(16), nullable=True),
        sa.Column("department", sa.String(200), nullable=True),
        sa.Column("source", sa.String(500), nullable=False),
        sa.Column("source_line", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.CheckConstraint(SEGMENT_CHECK, name=op.f("ck_approved_devices_segment")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approved_devices")),
    )
    op.create_table(
        "temporary_permissions",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("serial", sa.String(256), nullable=False),
        sa.Column("agent_id", sa.String(36), nullable=True),
        sa.Column("department", sa.String(200), nullable=True),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(1000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(100), nullable=True),
        sa.CheckConstraint("agent_id IS NULL OR department IS NULL", name=op.f("ck_temporary_permissions_scope")),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"], name=op.f("fk_temporary_permissions_agent_id_agents")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_temporary_permissions")),
    )
    op.create_index(op.f("ix_temporary_permissions_serial"), "temporary_permissions", ["serial"])


def downgrade() -> None:
    op.drop_index(op.f("ix_temporary_permissions_serial"), table_name="temporary_permissions")
    op.drop_table("temporary_permissions")
    op.drop_table("approved_devices")
