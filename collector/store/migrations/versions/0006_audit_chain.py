"""Audit log: the operator's login name and a hash chain; enrollment tokens can be revoked.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("enrollment_tokens") as batch:
        batch.add_column(sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("revoked_by", sa.String(100), nullable=True))
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("os_user", sa.String(100), nullable=True))
        batch.add_column(sa.Column("chain_hash", sa.String(64), nullable=True))
    _chain_existing_entries()


def _chain_existing_entries() -> None:
    """Entries written before the chain are chained now, so verify covers the whole log from here on."""
    from collector.store.audit import GENESIS, entry_hash
    from collector.store.models import audit_log

    conn = op.get_bind()
    previous = GENESIS
    rows = conn.execute(sa.select(audit_log).order_by(audit_log.c.id)).all()
    for row in rows:
        previous = entry_hash(
            previous,
            at=row.at,
            actor=row.actor,
            os_user=None,
            action=row.action,
            target=row.target,
            details=row.details,
        )
        conn.execute(audit_log.update().where(audit_log.c.id == row.id).values(chain_hash=previous))


def downgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("chain_hash")
        batch.drop_column("os_user")
    with op.batch_alter_table("enrollment_tokens") as batch:
        batch.drop_column("revoked_by")
        batch.drop_column("revoked_at")
