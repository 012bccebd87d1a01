"""Violations in the store: open / repeat / auto-resolve as rules decide, and the staff lifecycle.

One violation per agent + rule is active (open or acknowledged) at a time: `active_key` carries
"agent:rule" until it is resolved, under a unique constraint.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, case, func, or_, select, update

from collector.forward import outbox
from collector.store import audit
from collector.store.models import agents, exceptions, violations
from mamori.events import SEVERITY_RANK
from mamori.i18n import render_stored

SYSTEM_ACTOR = "mamori"  # who resolves a violation whose state cleared by itself


class LifecycleError(Exception):
    """A staff action not allowed in the violation's state; reason is "unknown", "resolved" or "acknowledged"."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ViolationRow:
    id: int
    agent_id: str
    rule_id: str
    segment: str
    department: str
    severity: str
    status: str
    active_key: str | None
    first_seen: datetime
    last_seen: datetime
    count: int
    event_id: str | None
    last_event_id: str | None
    detail: str
    evidence: dict[str, Any]
    exception_id: int | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    ack_note: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    resolution_note: str | None
    resolution_evidence: dict[str, Any] | None
    detail_message: dict[str, Any] | None = None  # the detail's msgid + params; None on rows written before
    hostname: str = ""


@dataclass(slots=True)
class Finding:
    """One or more consecutive flags of a rule on an agent, merged before they are written."""

    rule_id: str
    severity: str
    first_at: datetime
    last_at: datetime
    count: int
    event_id: str | None
    last_event_id: str | None
    detail: str
    evidence: dict[str, Any]
    message: dict[str, Any] | None = None  # detail as msgid + params (mamori.i18n.Message), shown translated


def detail_text(v: Any, lang: str | None = None) -> str:
    """The 検知内容 in lang (None: the process's language); a row without its message shows its stored text."""
    return render_stored(v.detail_message, v.detail, lang)


def resolution_text(v: Any, lang: str | None = None) -> str:
    """How it was resolved: staff's note as written, the rule's clearing message (beside its evidence) in lang."""
    stored = (v.resolution_evidence or {}).get("message") if v.resolved_by == SYSTEM_ACTOR else None
    return render_stored(stored, v.resolution_note or "", lang)


def active_key(agent_id: str, rule_id: str) -> str:
    return f"{agent_id}:{rule_id}"


def higher(a: str, b: str) -> str:
    return a if SEVERITY_RANK[a] >= SEVERITY_RANK[b] else b


_ADD_TO = (
    update(violations).where(violations.c.id == bindparam("vid")).values(count=violations.c.count + bindparam("added"))
)


def raise_finding(
    conn: Connection, *, agent_id: str, segment: str, department: str, finding: Finding, exception_id: int | None
) -> int:
    """Open a violation, or add to the active one (count, last seen, severity only rises); returns its id."""
    key = active_key(agent_id, finding.rule_id)
    row = conn.execute(
        select(
            violations.c.id,
            violations.c.severity,
            violations.c.last_seen,
            violations.c.last_event_id,
            violations.c.exception_id,
        ).where(violations.c.active_key == key)
    ).one_or_none()
    if row is None:
        new_id = conn.execute(
            violations.insert()
            .values(
                agent_id=agent_id,
                rule_id=finding.rule_id,
                segment=segment,
                department=department,
                severity=finding.severity,
                status="open",
                active_key=key,
                first_seen=finding.first_at,
                last_seen=finding.last_at,
                count=max(1, finding.count),
                event_id=finding.event_id,
                last_event_id=finding.last_event_id,
                detail=finding.detail[:500],
                evidence=finding.evidence,
                detail_message=finding.message,
                exception_id=exception_id,
            )
            .returning(violations.c.id)
        ).scalar_one()
        outbox.enqueue_violation(conn, "opened", new_id, finding.last_at)  # same transaction: never lost
        return new_id
    severity = higher(row.severity, finding.severity)
    values: dict[str, Any] = {"severity": severity, "exception_id": exception_id}
    if finding.last_at >= row.last_seen:
        values.update(last_seen=finding.last_at, detail=finding.detail[:500], detail_message=finding.message)
        if finding.last_event_id and finding.last_event_id != row.last_event_id:
            # The evidence follows the latest occurring event, as the detail does (the first stays as event_id);
            # the scheduler's re-check of the same event rewrites nothing.
            values.update(last_event_id=finding.last_event_id, evidence=finding.evidence)
    # Values as execution parameters, not .values(): SQLAlchemy coerces a literal evidence dict there at ~0.1 ms,
    # and this runs for every batch that flags, inside the ingest transaction.
    conn.execute(
        _ADD_TO.values({c: bindparam(f"new_{c}") for c in values}),
        {"vid": row.id, "added": finding.count, **{f"new_{c}": v for c, v in values.items()}},
    )
    if severity != row.severity:
        outbox.enqueue_violation(conn, "escalated", row.id, finding.last_at)
    return row.id


def clear(
    conn: Connection, *, agent_id: str, rule_id: str, at: datetime, detail: str, evidence: dict[str, Any]
) -> int | None:
    """Resolve the active violation of agent + rule because its state cleared; returns its id (None: none open)."""
    result = conn.execute(
        update(violations)
        .where(violations.c.active_key == active_key(agent_id, rule_id))
        .values(
            status="resolved",
            active_key=None,
            resolved_at=at,
            resolved_by=SYSTEM_ACTOR,
            resolution_note=detail[:1000],
            resolution_evidence=evidence,
        )
        .returning(violations.c.id)
    ).one_or_none()
    if result is None:
        return None
    outbox.enqueue_violation(conn, "resolved", result.id, at)
    return result.id


def covering_exceptions(
    conn: Connection, agent_id: str, department: str, rule_ids: set[str] | None = None
) -> list[Any]:
    """Exceptions (not revoked, active or expired) whose scope covers the agent."""
    query = select(exceptions).where(
        exceptions.c.revoked_at.is_(None), or_(exceptions.c.agent_id == agent_id, exceptions.c.department == department)
    )
    if rule_ids is not None:
        query = query.where(exceptions.c.rule_id.in_(sorted(rule_ids)))
    return list(conn.execute(query))


def pick_exception(candidates: list[Any], rule_id: str, at: datetime) -> tuple[Any | None, Any | None]:
    """(an exception in force at `at`, else the latest one that expired before `at`) for the rule."""
    mine = [e for e in candidates if e.rule_id == rule_id and e.valid_from <= at]
    active = [e for e in mine if at <= e.until]
    if active:
        return max(active, key=lambda e: e.until), None
    expired = [e for e in mine if e.until < at]
    return None, (max(expired, key=lambda e: e.until) if expired else None)


# --- reading ------------------------------------------------------------------------------------


def _row(r: Any) -> ViolationRow:
    return ViolationRow(**r._mapping)


def _base_query():
    return select(*violations.c, agents.c.hostname).join(agents, agents.c.id == violations.c.agent_id)


def list_violations(
    conn: Connection,
    *,
    status: str | None = None,
    segment: str | None = None,
    severity: str | None = None,
    department: str | None = None,
    agent_id: str | None = None,
    rule_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = 100,
) -> list[ViolationRow]:
    """Newest first (by first_seen); `status` "active" means open or acknowledged."""
    query = _base_query().order_by(violations.c.first_seen.desc(), violations.c.id.desc())
    if status == "active":
        query = query.where(violations.c.active_key.is_not(None))
    elif status is not None:
        query = query.where(violations.c.status == status)
    for column, value in (
        (violations.c.segment, segment),
        (violations.c.severity, severity),
        (violations.c.department, department),
        (violations.c.agent_id, agent_id),
        (violations.c.rule_id, rule_id),
    ):
        if value is not None:
            query = query.where(column == value)
    if since is not None:
        query = query.where(violations.c.first_seen >= since)
    if until is not None:
        query = query.where(violations.c.first_seen < until)
    if limit is not None:
        query = query.limit(limit)
    return [_row(r) for r in conn.execute(query)]


def get_violation(conn: Connection, violation_id: int) -> ViolationRow | None:
    row = conn.execute(_base_query().where(violations.c.id == violation_id)).one_or_none()
    return None if row is None else _row(row)


def open_counts(conn: Connection) -> list[tuple[str, str, int]]:
    """(rule_id, severity, count) of active, non-excepted violations."""
    query = (
        select(violations.c.rule_id, violations.c.severity, func.count())
        .where(violations.c.active_key.is_not(None), violations.c.exception_id.is_(None))
        .group_by(violations.c.rule_id, violations.c.severity)
    )
    return [tuple(r) for r in conn.execute(query)]


def excepted_count(conn: Connection) -> int:
    return conn.execute(
        select(func.count())
        .select_from(violations)
        .where(violations.c.active_key.is_not(None), violations.c.exception_id.is_not(None))
    ).scalar_one()


def top_agents(conn: Connection, limit: int = 5) -> list[tuple[str, str, str, int, str]]:
    """(agent_id, hostname, department, active violations, worst severity), most first."""
    rank = case(*((violations.c.severity == name, n) for name, n in SEVERITY_RANK.items()), else_=0)
    query = (
        select(violations.c.agent_id, agents.c.hostname, agents.c.department, func.count(), func.max(rank))
        .join(agents, agents.c.id == violations.c.agent_id)
        .where(violations.c.active_key.is_not(None), violations.c.exception_id.is_(None))
        .group_by(violations.c.agent_id, agents.c.hostname, agents.c.department)
        .order_by(func.count().desc(), violations.c.agent_id)
        .limit(limit)
    )
    names = {n: name for name, n in SEVERITY_RANK.items()}
    return [(r[0], r[1], r[2], r[3], names.get(r[4], "")) for r in conn.execute(query)]


# --- staff lifecycle ----------------------------------------------------------------------------


def acknowledge(conn: Connection, violation_id: int, *, by: str, at: datetime, note: str | None) -> None:
    """open -> acknowledged, recorded in the audit log; raises LifecycleError otherwise."""
    result = conn.execute(
        update(violations)
        .where(violations.c.id == violation_id, violations.c.status == "open")
        .values(status="acknowledged", acknowledged_at=at, acknowledged_by=by, ack_note=note)
    )
    if result.rowcount != 1:
        status = conn.execute(select(violations.c.status).where(violations.c.id == violation_id)).scalar()
        raise LifecycleError("unknown" if status is None else status)
    outbox.enqueue_violation(conn, "acknowledged", violation_id, at)
    audit.record(
        conn, at=at, actor=by, action="violation.ack", target=f"violation:{violation_id}", details={"note": note}
    )


def resolve(conn: Connection, violation_id: int, *, by: str, at: datetime, note: str) -> None:
    """open|acknowledged -> resolved by staff (是正), recorded in the audit log."""
    result = conn.execute(
        update(violations)
        .where(violations.c.id == violation_id, violations.c.status != "resolved")
        .values(status="resolved", active_key=None, resolved_at=at, resolved_by=by, resolution_note=note)
    )
    if result.rowcount != 1:
        status = conn.execute(select(violations.c.status).where(violations.c.id == violation_id)).scalar()
        raise LifecycleError("unknown" if status is None else status)
    outbox.enqueue_violation(conn, "resolved", violation_id, at)
    audit.record(
        conn, at=at, actor=by, action="violation.resolve", target=f"violation:{violation_id}", details={"note": note}
    )


def mark_excepted(conn: Connection, exc: Any) -> int:
    """Mark the active violations an exception now covers; returns how many."""
    scope = violations.c.agent_id == exc.agent_id if exc.agent_id else violations.c.department == exc.department
    return conn.execute(
        update(violations)
        .where(and_(violations.c.active_key.is_not(None), violations.c.rule_id == exc.rule_id, scope))
        .values(exception_id=exc.id)
    ).rowcount


def unmark_excepted(conn: Connection, exception_id: int) -> int:
    return conn.execute(
        update(violations)
        .where(violations.c.exception_id == exception_id, violations.c.active_key.is_not(None))
        .values(exception_id=None)
    ).rowcount
