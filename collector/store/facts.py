"""What the rule engine reads and writes in the store: policies, fact providers, check state, open rules."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, func, select, update

from collector.store.db import dialect_insert
from collector.store.models import check_state, events, exceptions, policies, violations
from mamori import policy as policy_doc

# Built once: per batch SQLAlchemy then only looks the compiled form up in its cache (no construct per call).
_POLICY = select(policies.c.document).where(policies.c.segment == bindparam("segment"))
_ACTIVE_RULES = select(violations.c.rule_id).where(
    violations.c.agent_id == bindparam("agent_id"), violations.c.active_key.is_not(None)
)
_RECENT_BLOCKS = select(func.count()).select_from(
    select(events.c.id)
    .where(
        events.c.agent_id == bindparam("agent_id"),
        events.c.kind == "usb.blocked",
        events.c.occurred_at > bindparam("since"),
        events.c.occurred_at <= bindparam("at"),
    )
    .limit(bindparam("enough"))
    .subquery()
)


def policy_document(conn: Connection, segment: str) -> dict[str, Any]:
    """The segment's policy as stored (upgraded to the current schema), else the built-in default."""
    stored = conn.execute(_POLICY, {"segment": segment}).scalar()
    return policy_doc.upgrade(stored) if isinstance(stored, dict) else policy_doc.DEFAULTS[segment]


def active_rules(conn: Connection, agent_id: str) -> set[str]:
    """Rules with an open (or acknowledged) violation on the agent."""
    return set(conn.execute(_ACTIVE_RULES, {"agent_id": agent_id}).scalars())


def recent_blocks(conn: Connection, agent_id: str, evs: Sequence[Any], params: dict[str, Any]) -> int:
    """MED-005's fact: usb.blocked events of the agent in the window before the batch's latest block (stored
    ones, the batch's own included), counted only up to escalate_count (all escalation needs)."""
    at = max(e.occurred_at for e in evs)
    return conn.execute(
        _RECENT_BLOCKS,
        {
            "agent_id": agent_id,
            "since": at - timedelta(hours=params["window_hours"]),
            "at": at,
            "enough": params["escalate_count"],
        },
    ).scalar_one()


# A fact a rule declares (Rule.facts): read inside the ingest transaction, after the batch's events are stored,
# from the rule's events of the batch and its parameters.
FACT_READERS: dict[str, Callable[[Connection, str, Sequence[Any], dict[str, Any]], Any]] = {
    "recent_blocks": recent_blocks,
}


def save_check_state(conn: Connection, agent_id: str, evs: Iterable[Any]) -> None:
    """Keep the latest result of each check of the agent; a late-arriving older result never replaces a newer one."""
    latest: dict[str, Any] = {}
    for ev in evs:
        cid = str(ev.payload.get("check_id", ""))[:40]
        if cid and (cid not in latest or ev.occurred_at >= latest[cid].occurred_at):
            latest[cid] = ev
    if latest:
        conn.execute(
            _check_state_upsert(conn),
            [
                {
                    "agent_id": agent_id,
                    "check_id": cid,
                    "status": str(ev.payload.get("status", ""))[:20],
                    "occurred_at": ev.occurred_at,
                    "event_id": ev.event_id,
                    "payload": ev.payload,
                }
                for cid, ev in latest.items()
            ],
        )


_UPSERTS: dict[str, Any] = {}


def _check_state_upsert(conn: Connection) -> Any:
    """The upsert, built once per dialect with its values as parameters: SQLAlchemy coerced a payload given to
    .values() as a literal, at ~0.1 ms a statement (most of the rules' time in the write transaction)."""
    stmt = _UPSERTS.get(conn.dialect.name)
    if stmt is None:
        insert = dialect_insert(conn, check_state)
        stmt = _UPSERTS[conn.dialect.name] = insert.on_conflict_do_update(
            index_elements=["agent_id", "check_id"],
            set_={k: insert.excluded[k] for k in ("status", "occurred_at", "event_id", "payload")},
            # A late-arriving older result never replaces a newer one.
            where=check_state.c.occurred_at <= insert.excluded.occurred_at,
        )
    return stmt


def expiry_reported(conn: Connection, exception_id: int, at: datetime) -> None:
    """OPS-005 reported the exception's use after expiry: it is reported once."""
    conn.execute(
        update(exceptions)
        .where(exceptions.c.id == exception_id, exceptions.c.expiry_reported_at.is_(None))
        .values(expiry_reported_at=at)
    )
