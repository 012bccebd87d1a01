"""例外措置 in the store: add (marks the violations it covers), list, revoke — each recorded in the audit log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, or_, select, update

from collector.store import audit
from collector.store import violations as vstore
from collector.store.models import exceptions


@dataclass(frozen=True, slots=True)
class ExceptionRow:
    id: int
    agent_id: str | None
    department: str | None
    rule_id: str
    valid_from: datetime
    until: datetime
    reason: str
    approved_by: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None
    revoked_by: str | None
    expiry_reported_at: datetime | None

    def state(self, now: datetime) -> str:
        """ "revoked", "expired", "pending" (not yet valid) or "active"."""
        if self.revoked_at is not None and self.revoked_at <= now:
            return "revoked"
        if self.until < now:
            return "expired"
        return "pending" if self.valid_from > now else "active"


def add(
    conn: Connection,
    *,
    agent_id: str | None,
    department: str | None,
    rule_id: str,
    valid_from: datetime,
    until: datetime,
    reason: str,
    approved_by: str,
    by: str,
    at: datetime,
) -> tuple[ExceptionRow, int]:
    """Create an exception; returns it and how many active violations it now marks."""
    row = conn.execute(
        exceptions.insert()
        .values(
            agent_id=agent_id,
            department=department,
            rule_id=rule_id,
            valid_from=valid_from,
            until=until,
            reason=reason,
            approved_by=approved_by,
            created_at=at,
            created_by=by,
        )
        .returning(*exceptions.c)
    ).one()
    exc = ExceptionRow(**row._mapping)
    marked = vstore.mark_excepted(conn, exc) if valid_from <= at else 0
    audit.record(
        conn,
        at=at,
        actor=by,
        action="exception.add",
        target=f"exception:{exc.id}",
        details={
            "agent_id": agent_id,
            "department": department,
            "rule_id": rule_id,
            "until": until.isoformat(),
            "reason": reason,
            "approved_by": approved_by,
            "violations_marked": marked,
        },
    )
    return exc, marked


def get(conn: Connection, exception_id: int) -> ExceptionRow | None:
    row = conn.execute(select(exceptions).where(exceptions.c.id == exception_id)).one_or_none()
    return None if row is None else ExceptionRow(**row._mapping)


def list_all(
    conn: Connection, *, in_force_at: datetime | None = None, overlapping: tuple[datetime, datetime] | None = None
) -> list[ExceptionRow]:
    """Newest first; in_force_at: only those active then; overlapping: those valid at some time in [from, to)."""
    query = select(exceptions).order_by(exceptions.c.id.desc())
    if in_force_at is not None:
        query = query.where(
            exceptions.c.revoked_at.is_(None), exceptions.c.valid_from <= in_force_at, exceptions.c.until >= in_force_at
        )
    if overlapping is not None:
        start, end = overlapping
        query = query.where(
            exceptions.c.valid_from < end,
            exceptions.c.until >= start,
            or_(exceptions.c.revoked_at.is_(None), exceptions.c.revoked_at >= start),
        )
    return [ExceptionRow(**r._mapping) for r in conn.execute(query)]


def revoke(conn: Connection, exception_id: int, *, by: str, at: datetime, note: str | None) -> int:
    """Revoke an exception (the violations it marked count again); returns how many were unmarked."""
    result = conn.execute(
        update(exceptions)
        .where(exceptions.c.id == exception_id, exceptions.c.revoked_at.is_(None))
        .values(revoked_at=at, revoked_by=by)
    )
    if result.rowcount != 1:
        raise LookupError(exception_id)
    unmarked = vstore.unmark_excepted(conn, exception_id)
    audit.record(
        conn,
        at=at,
        actor=by,
        action="exception.revoke",
        target=f"exception:{exception_id}",
        details={"note": note, "violations_unmarked": unmarked},
    )
    return unmarked
