"""Enrollment attempts in the audit log: who enrolled from where, who was refused and why, and the throttle."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine, func, select

from collector.store import audit
from collector.store.models import audit_log
from collector.store.violations import SYSTEM_ACTOR

REFUSED = "agent.enroll_refused"
ENROLLED = "agent.enroll"


def peer_target(address: str) -> str:
    # Refusals are targeted at the address: the throttle counts them with the (action, target, at) columns
    # every backend compares alike, instead of reaching into the JSON details.
    return f"peer:{address}"[:200]


def record_refusal(
    engine: Engine, *, at: datetime, address: str, reason: str, token_id: int | None, hostname: str
) -> None:
    with engine.begin() as conn:
        audit.record(
            conn,
            at=at,
            actor=SYSTEM_ACTOR,
            action=REFUSED,
            target=peer_target(address),
            details={"peer": address, "reason": reason, "token_id": token_id, "hostname": hostname},
        )


def recent_refusals(engine: Engine, address: str, since: datetime) -> int:
    """Refusals of this address since a moment: shared by every collector on the database, kept over restarts."""
    query = (
        select(func.count())
        .select_from(audit_log)
        .where(audit_log.c.action == REFUSED, audit_log.c.target == peer_target(address), audit_log.c.at >= since)
    )
    with engine.connect() as conn:
        return conn.execute(query).scalar_one()


def throttled(engine: Engine, address: str, now: datetime, max_failures: int, window: timedelta) -> bool:
    """Whether this address has failed max_failures times within the window (then it waits the window out)."""
    return recent_refusals(engine, address, now - window) >= max_failures
