"""Forwarding outbox: records for syslog and mail, and one sender lease per destination.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

PAYLOAD = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "forward_outbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("destination", sa.String(16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("record", PAYLOAD, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_forward_outbox"),
    )
    op.create_index("ix_forward_outbox_destination_id", "forward_outbox", ["destination", "id"])
    op.create_table(
        "forward_leases",
        sa.Column("destination", sa.String(16), nullable=False),
        sa.Column("holder", sa.String(100), nullable=False),
        sa.Column("leased_until", TS, nullable=False),
        sa.PrimaryKeyConstraint("destination", name="pk_forward_leases"),
    )


def downgrade() -> None:
    op.drop_table("forward_leases")
    op.drop_index("ix_forward_outbox_destination_id", table_name="forward_outbox")
    op.drop_table("forward_outbox")
