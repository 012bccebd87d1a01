"""The audit log: every staff action with who, when, what and on which target, chained by hashes."""

from __future__ import annotations

import getpass
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select

from collector.store.models import audit_log

GENESIS = "0" * 64  # the "previous hash" of the first entry
# Any fixed key: collectors sharing one PostgreSQL serialize audit inserts on it, so the chain never forks.
_CHAIN_LOCK_KEY = 0x6D616D6F6175


@dataclass(frozen=True, slots=True)
class AuditRow:
    id: int
    at: datetime
    actor: str
    action: str
    target: str
    details: dict[str, Any]
    os_user: str | None = None
    chain_hash: str | None = None


def login_name() -> str:
    """The person at the keyboard: the login name behind sudo, else the process's user."""
    try:
        return os.environ.get("SUDO_USER") or getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers): say so rather than fail the action
        return f"uid:{os.getuid()}" if hasattr(os, "getuid") else "unknown"


def entry_hash(
    previous: str, *, at: datetime, actor: str, os_user: str | None, action: str, target: str, details: dict[str, Any]
) -> str:
    """SHA-256 over the previous hash and a canonical form of the content (what both backends give back)."""
    content = json.dumps(
        {
            "at": at.astimezone(UTC).isoformat(timespec="microseconds"),
            "actor": actor,
            "os_user": os_user,
            "action": action,
            "target": target,
            "details": details,
        },
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(f"{previous}\n{content}".encode()).hexdigest()


def _last_hash(conn: Connection) -> str:
    last = conn.execute(select(audit_log.c.chain_hash).order_by(audit_log.c.id.desc()).limit(1)).scalar()
    return last or GENESIS


def record(
    conn: Connection,
    *,
    at: datetime,
    actor: str,
    action: str,
    target: str,
    details: dict[str, Any] | None = None,
    os_user: str | None = None,
) -> None:
    """Write one entry, inside the caller's transaction: the action and its record commit together.

    os_user defaults to this process's login name: the CLI's operator, or the collector's service account.
    """
    if conn.dialect.name == "postgresql":
        # Held to commit: the next writer reads this entry's hash only once it is committed, and ids are
        # drawn under the lock, so id order is chain order. SQLite writers are serialized by BEGIN IMMEDIATE.
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_CHAIN_LOCK_KEY})")
    # Normalized as the store gives it back (UTC microseconds, JSON), so verify recomputes the same hash.
    at = at.astimezone(UTC)
    values = dict(
        at=at,
        actor=actor[:100],
        action=action,
        target=target[:200],
        details=json.loads(json.dumps(details or {})),
        os_user=(os_user or login_name())[:100],
    )
    chain = entry_hash(_last_hash(conn), **values)
    conn.execute(audit_log.insert().values(**values, chain_hash=chain))


def verify(conn: Connection) -> tuple[int, AuditRow | None]:
    """(entries checked, the first entry whose hash does not follow from its predecessor, or None)."""
    previous, count = GENESIS, 0
    for r in conn.execute(select(audit_log).order_by(audit_log.c.id)):
        row = AuditRow(**r._mapping)
        expected = entry_hash(
            previous,
            at=row.at,
            actor=row.actor,
            os_user=row.os_user,
            action=row.action,
            target=row.target,
            details=row.details,
        )
        if row.chain_hash != expected:
            return count, row
        previous, count = row.chain_hash, count + 1
    return count, None


def list_entries(
    conn: Connection,
    *,
    since: datetime | None = None,
    action: str | None = None,
    actor: str | None = None,
    limit: int = 100,
) -> list[AuditRow]:
    """Newest first."""
    query = select(audit_log).order_by(audit_log.c.at.desc(), audit_log.c.id.desc()).limit(limit)
    if since is not None:
        query = query.where(audit_log.c.at >= since)
    if action is not None:
        query = query.where(audit_log.c.action.startswith(action, autoescape=True))
    if actor is not None:
        query = query.where(audit_log.c.actor == actor)
    return [AuditRow(**r._mapping) for r in conn.execute(query)]
