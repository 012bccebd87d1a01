"""Certificate renewal: the certificate an agent held before its last renewal, and when it renewed.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("agents") as batch:
        # Still accepted until the agent first connects with the new one: its reply may have been lost.
        batch.add_column(sa.Column("previous_cert_serial", sa.String(64), nullable=True))
        batch.add_column(sa.Column("cert_renewed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("agents") as batch:
        batch.drop_column("cert_renewed_at")
        batch.drop_column("previous_cert_serial")
