"""A violation's 検知内容 as a gettext message (msgid + params), so reports show it in their own language.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

PAYLOAD = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    # Nullable: rows written before keep only their English text, shown as it is.
    op.add_column("violations", sa.Column("detail_message", PAYLOAD, nullable=True))


def downgrade() -> None:
    op.drop_column("violations", "detail_message")
