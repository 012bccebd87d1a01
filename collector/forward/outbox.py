"""The forwarding outbox: records written in the caller's transaction, read, leased and removed by the sender.

What the process forwards is set once (configure(), from collector.toml) by `serve` and by the staff CLI, so a
violation acknowledged from the CLI is forwarded as surely as one opened by ingest. Without it nothing is queued.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, select, update

from collector.forward.settings import AlertSettings, ForwardSettings, alert_settings, forward_settings
from collector.store.db import dialect_insert
from collector.store.models import agents, forward_leases, forward_outbox, violations
from mamori.events import SEVERITY_RANK

SYSLOG, MAIL = "syslog", "mail"
DESTINATIONS = (SYSLOG, MAIL)
# Changes of a violation that are forwarded; a repeat of an open violation (count + 1) is not.
CHANGES = ("opened", "escalated", "acknowledged", "resolved")
MAILED = ("opened", "escalated")  # staff are mailed when a violation reaches the threshold, not when it ends


@dataclass(frozen=True, slots=True)
class Routes:
    forward: ForwardSettings | None = None
    alerts: AlertSettings | None = None


_routes = Routes()


def configure(values: dict[str, Any]) -> Routes:
    """Take this process's forwarding from loaded collector.toml settings; returns the routes in force."""
    global _routes
    fwd = forward_settings(values)
    _routes = Routes(forward=fwd if fwd.syslog else None, alerts=alert_settings(values))
    return _routes


def routes() -> Routes:
    return _routes


def set_routes(value: Routes) -> None:
    global _routes
    _routes = value


@dataclass(frozen=True, slots=True)
class ViolationRecord:
    """A violation change as it was at the time: later changes do not rewrite what was already forwarded."""

    change: str
    at: str  # ISO 8601 UTC
    violation_id: int
    rule_id: str
    severity: str
    status: str
    segment: str
    department: str
    agent_id: str
    terminal: str
    detail: str
    detail_message: dict[str, Any] | None
    exception_id: int | None = None  # an exception (例外措置) in force covers it: forwarded, not mailed
    type: str = "violation"


@dataclass(frozen=True, slots=True)
class EventRecord:
    """A stored agent event; its payload is agent-sent text (untrusted, escaped by each format)."""

    event_id: str
    kind: str
    at: str
    severity: str
    segment: str
    department: str
    agent_id: str
    terminal: str
    payload: dict[str, Any]
    type: str = "event"


def record_from(data: dict[str, Any]) -> ViolationRecord | EventRecord:
    return ViolationRecord(**data) if data.get("type") == "violation" else EventRecord(**data)


def _insert(conn: Connection, destination: str, at: datetime, record: ViolationRecord | EventRecord) -> None:
    conn.execute(forward_outbox.insert().values(destination=destination, created_at=at, record=asdict(record)))


def enqueue_violation(conn: Connection, change: str, violation_id: int, at: datetime) -> None:
    """Queue a violation change for syslog (and mail when it is new at or above the threshold)."""
    r = _routes
    wants_syslog = r.forward is not None and r.forward.violations
    if not wants_syslog and r.alerts is None:
        return
    v = conn.execute(
        select(*violations.c, agents.c.hostname)
        .join(agents, agents.c.id == violations.c.agent_id)
        .where(violations.c.id == violation_id)
    ).one()
    record = ViolationRecord(
        change=change,
        at=at.isoformat(),
        violation_id=v.id,
        rule_id=v.rule_id,
        severity=v.severity,
        status=v.status,
        segment=v.segment,
        department=v.department,
        agent_id=v.agent_id,
        terminal=v.hostname,
        detail=v.detail,
        detail_message=v.detail_message,
        exception_id=v.exception_id,
    )
    if wants_syslog:
        _insert(conn, SYSLOG, at, record)
    mailed = r.alerts is not None and change in MAILED and v.exception_id is None
    if mailed and r.alerts is not None and SEVERITY_RANK[v.severity] >= SEVERITY_RANK[r.alerts.min_severity]:
        _insert(conn, MAIL, at, record)


def forwards_events() -> bool:
    return _routes.forward is not None and bool(_routes.forward.event_kinds)


def wanted_events(evs: Sequence[Any]) -> list[Any]:
    fwd = _routes.forward
    return [ev for ev in evs if fwd.wants_event(ev.kind)] if fwd is not None and fwd.event_kinds else []


def enqueue_events(
    conn: Connection, agent_id: str, segment: str, department: str, evs: Sequence[Any], at: datetime
) -> None:
    if not evs:
        return
    terminal = conn.execute(select(agents.c.hostname).where(agents.c.id == agent_id)).scalar_one()
    conn.execute(
        forward_outbox.insert(),
        [
            {
                "destination": SYSLOG,
                "created_at": at,
                "record": asdict(
                    EventRecord(
                        event_id=ev.event_id,
                        kind=ev.kind,
                        at=ev.occurred_at.isoformat(),
                        severity=ev.severity,
                        segment=segment,
                        department=department,
                        agent_id=agent_id,
                        terminal=terminal,
                        payload=ev.payload,
                    )
                ),
            }
            for ev in evs
        ],
    )


# --- the sender's side ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pending:
    id: int
    created_at: datetime
    record: ViolationRecord | EventRecord


def pending(conn: Connection, destination: str, limit: int) -> list[Pending]:
    rows = conn.execute(
        select(forward_outbox.c.id, forward_outbox.c.created_at, forward_outbox.c.record)
        .where(forward_outbox.c.destination == destination)
        .order_by(forward_outbox.c.id)
        .limit(limit)
    )
    return [Pending(r.id, r.created_at, record_from(r.record)) for r in rows]


def remove(engine: Engine, ids: Sequence[int]) -> None:
    """The destination accepted these: they leave the outbox."""
    if ids:
        with engine.begin() as conn:
            conn.execute(delete(forward_outbox).where(forward_outbox.c.id.in_(list(ids))))


def note_failure(engine: Engine, ids: Sequence[int], error: str) -> None:
    if ids:
        with engine.begin() as conn:
            conn.execute(
                update(forward_outbox)
                .where(forward_outbox.c.id.in_(list(ids)))
                .values(attempts=forward_outbox.c.attempts + 1, last_error=error[:500])
            )


def take_lease(engine: Engine, destination: str, holder: str, now: datetime, seconds: float) -> bool:
    """Hold (or renew) the right to send this destination; False while another live collector holds it."""
    until = now + timedelta(seconds=seconds)
    with engine.begin() as conn:
        conn.execute(
            dialect_insert(conn, forward_leases)
            .values(destination=destination, holder=holder[:100], leased_until=now)
            .on_conflict_do_nothing(index_elements=["destination"])
        )
        # One UPDATE decides: the row lock makes two collectors' attempts take turns, the second sees the first's.
        taken = conn.execute(
            update(forward_leases)
            .where(
                forward_leases.c.destination == destination,
                (forward_leases.c.holder == holder[:100]) | (forward_leases.c.leased_until <= now),
            )
            .values(holder=holder[:100], leased_until=until)
        ).rowcount
    return taken == 1


def release_lease(engine: Engine, destination: str, holder: str, now: datetime) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(forward_leases)
            .where(forward_leases.c.destination == destination, forward_leases.c.holder == holder[:100])
            .values(leased_until=now)
        )


@dataclass(frozen=True, slots=True)
class DestinationStatus:
    """What a metrics module or `forward status` reads: queue depth and the age of the oldest record."""

    destination: str
    depth: int
    oldest_age_seconds: float | None
    attempts: int  # failed attempts on the oldest record
    last_error: str | None


def status(conn: Connection, now: datetime) -> list[DestinationStatus]:
    counts: dict[str, int] = dict(
        conn.execute(select(forward_outbox.c.destination, func.count()).group_by(forward_outbox.c.destination)).all()
    )
    result = []
    for destination in DESTINATIONS:
        oldest = conn.execute(
            select(forward_outbox.c.created_at, forward_outbox.c.attempts, forward_outbox.c.last_error)
            .where(forward_outbox.c.destination == destination)
            .order_by(forward_outbox.c.id)
            .limit(1)
        ).one_or_none()
        result.append(
            DestinationStatus(
                destination=destination,
                depth=counts.get(destination, 0),
                oldest_age_seconds=None if oldest is None else max(0.0, (now - oldest.created_at).total_seconds()),
                attempts=0 if oldest is None else oldest.attempts,
                last_error=None if oldest is None else oldest.last_error,
            )
        )
    return result
