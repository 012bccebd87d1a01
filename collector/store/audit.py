"""The audit log: every staff action with who, when, what and on which target."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from collector.store.models import audit_log


@dataclass(frozen=True, slots=True)
class AuditRow:
    id: int
    at: datetime
    actor: str
    action: str
    target: str
    details: dict[str, Any]


def record(conn: Connection, *, at: datetime, actor: str, action: str, target: str,
           details: dict[str, Any] | None = None) -> None:
    """Write one entry, inside the caller's transaction: the action and its record commit together."""
    conn.execute(audit_log.insert().values(at=at, actor=actor[:100], action=action, target=target[:200],
                                           details=details or {}))


def list_entries(conn: Connection, *, since: datetime | None = None, action: str | None = None,
                 actor: str | None = None, limit: int = 100) -> list[AuditRow]:
    """Newest first."""
    query = select(audit_log).order_by(audit_log.c.at.desc(), audit_log.c.id.desc()).limit(limit)
    if since is not None:
        query = query.where(audit_log.c.at >= since)
    if action is not None:
        query = query.where(audit_log.c.action.startswith(action, autoescape=True))
    if actor is not None:
        query = query.where(audit_log.c.actor == actor)
    return [AuditRow(**r._mapping) for r in conn.execute(query)]
