"""State rules on a schedule: heartbeat (OPS-002), time-dependent checks, expired exceptions (OPS-005),
certificate expiry (OPS-006).

run_tick() claims (job, tick) in rule_ticks and does the tick's work in the same transaction, so with
several collectors on one database each tick runs exactly once: a concurrent claim of the same tick
waits for the first transaction and then finds the row; a failed tick rolls its claim back.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, delete, or_, select, update

from collector.rules import RULES
from collector.rules.base import SEGMENTS, Subject, typed_evidence
from collector.rules.engine import (
    STATE_KINDS,
    AgentInfo,
    _exception_used,
    applies,
    apply_outcomes,
    with_check,
)
from collector.rules.params import params_for
from collector.store.db import dialect_insert
from collector.store.facts import policy_document
from collector.store.models import agents, check_state, exceptions, rule_ticks, violations
from mamori import clock

log = logging.getLogger("mamori.collector.rules")
JOB = "state-rules"
KEEP_TICKS = timedelta(days=7)


class _Ev:
    """The minimal event shape apply_outcomes needs, for findings that come from state."""

    __slots__ = ("event_id", "occurred_at")

    def __init__(self, event_id: str | None, occurred_at: datetime):
        self.event_id, self.occurred_at = event_id, occurred_at


def tick_of(now: datetime, interval: float) -> datetime:
    """The start of the tick `now` falls in: ticks are aligned so every collector computes the same one."""
    epoch = int(now.timestamp() // interval * interval)
    return datetime.fromtimestamp(epoch, UTC)


def run_tick(engine: Engine, now: datetime, interval: float, collector: str | None = None) -> bool:
    """Run the state rules for the tick containing `now` unless some collector already did; True if we ran it."""
    tick = tick_of(now, interval)
    with engine.begin() as conn:
        claimed = conn.execute(
            dialect_insert(conn, rule_ticks)
            .values(job=JOB, tick=tick, collector=(collector or socket.gethostname())[:100], finished_at=now)
            .on_conflict_do_nothing(index_elements=["job", "tick"])
            .returning(rule_ticks.c.job)
        ).scalar()
        if claimed is None:
            return False
        evaluate_state(conn, now)
        conn.execute(delete(rule_ticks).where(rule_ticks.c.tick < tick - KEEP_TICKS))
    return True


def evaluate_state(conn: Connection, now: datetime) -> None:
    documents = {seg: policy_document(conn, seg) for seg in SEGMENTS}
    # Expired exceptions first: a re-evaluated state would otherwise drop the mark before OPS-005 saw it.
    _expired_exceptions(conn, now)
    _heartbeats(conn, now, documents)
    _certificates(conn, now, documents)
    _rechecks(conn, now, documents)


def _lock(conn: Connection, agent_id: str) -> None:
    # Serialises with store_batch of the same agent on PostgreSQL (it holds this row lock).
    conn.execute(select(agents.c.id).where(agents.c.id == agent_id).with_for_update())


def _open_agents(conn: Connection, rule_id: str) -> set[str]:
    """Agents with a violation of rule_id open: a state rule looks at them each tick to clear what has ended."""
    query = select(violations.c.agent_id).where(violations.c.rule_id == rule_id, violations.c.active_key.is_not(None))
    return set(conn.execute(query).scalars())


def _heartbeats(conn: Connection, now: datetime, documents: dict[str, dict[str, Any]]) -> None:
    rule = RULES["OPS-002"]
    open_ids = _open_agents(conn, rule.id)
    for segment in rule.segments:
        params = params_for(documents[segment], rule)
        if params is None:
            continue
        cutoff = now - timedelta(minutes=params["minutes"])
        # Only silent terminals and those with OPS-002 open need a look: not the whole fleet every tick.
        stale = or_(
            agents.c.last_seen_at < cutoff, and_(agents.c.last_seen_at.is_(None), agents.c.enrolled_at < cutoff)
        )
        rows = conn.execute(
            select(
                agents.c.id, agents.c.department, agents.c.segment, agents.c.last_seen_at, agents.c.enrolled_at
            ).where(
                agents.c.segment == segment,
                agents.c.revoked_at.is_(None),
                agents.c.superseded_by.is_(None),
                or_(stale, agents.c.id.in_(sorted(open_ids))),
            )
        )
        for r in rows:
            seen = r.last_seen_at or r.enrolled_at
            subject = Subject(segment, STATE_KINDS["heartbeat"], {"last_seen_at": seen.isoformat()}, now)
            outcome = rule.evaluate(subject, params) if applies(rule, subject) else None
            if outcome is not None:
                _lock(conn, r.id)
                apply_outcomes(
                    conn, AgentInfo(r.id, r.segment, r.department), {rule.id: [(outcome, _Ev(None, now))]}, state=True
                )


def _certificates(conn: Connection, now: datetime, documents: dict[str, dict[str, Any]]) -> None:
    """OPS-006 on agents whose certificate on record is near its end, and clears once it was renewed."""
    rule = RULES["OPS-006"]
    open_ids = _open_agents(conn, rule.id)
    for segment in rule.segments:
        params = params_for(documents[segment], rule)
        if params is None:
            continue
        # Only certificates inside the window and open findings need a look: not the whole fleet every tick.
        near = agents.c.cert_not_after < now + timedelta(days=params["days"])
        rows = conn.execute(
            select(
                agents.c.id, agents.c.department, agents.c.segment, agents.c.cert_not_after, agents.c.cert_serial
            ).where(
                agents.c.segment == segment,
                agents.c.revoked_at.is_(None),
                agents.c.superseded_by.is_(None),
                or_(near, agents.c.id.in_(sorted(open_ids))),
            )
        )
        for r in rows:
            subject = Subject(
                segment,
                STATE_KINDS["certificate"],
                {"not_after": r.cert_not_after.isoformat(), "serial": r.cert_serial},
                now,
            )
            outcome = rule.evaluate(subject, params) if applies(rule, subject) else None
            if outcome is not None:
                _lock(conn, r.id)
                apply_outcomes(
                    conn, AgentInfo(r.id, r.segment, r.department), {rule.id: [(outcome, _Ev(None, now))]}, state=True
                )


def _rechecks(conn: Connection, now: datetime, documents: dict[str, dict[str, Any]]) -> None:
    rules = [r for r in RULES.values() if r.recheck]
    check_ids = sorted({r.check_id for r in rules if r.check_id})
    rows = conn.execute(
        select(check_state, agents.c.segment, agents.c.department)
        .join(agents, agents.c.id == check_state.c.agent_id)
        .where(check_state.c.check_id.in_(check_ids), agents.c.revoked_at.is_(None), agents.c.superseded_by.is_(None))
    )
    for r in rows:
        subject = Subject(
            r.segment,
            "check.result",
            r.payload,
            now,
            r.event_id,
            evidence=typed_evidence(r.payload),
            facts={"observed_at": r.occurred_at},
        )
        outcomes: dict[str, list] = defaultdict(list)
        for rule in rules:
            params = params_for(documents[r.segment], rule)
            if params is None or not applies(rule, subject):
                continue
            outcome = with_check(rule.evaluate(subject, params), subject)
            if outcome is not None:
                outcomes[rule.id].append((outcome, _Ev(r.event_id, now)))
        if outcomes:
            _lock(conn, r.agent_id)
            apply_outcomes(conn, AgentInfo(r.agent_id, r.segment, r.department), outcomes, state=True)


def _expired_exceptions(conn: Connection, now: datetime) -> None:
    """An excepted violation still active after its exception expired: OPS-005, and it is no longer excepted."""
    rows = conn.execute(
        select(
            violations.c.id,
            violations.c.agent_id,
            violations.c.last_event_id,
            agents.c.segment,
            agents.c.department,
            exceptions.c.id.label("exc_id"),
            exceptions.c.rule_id.label("exc_rule"),
            exceptions.c.until,
        )
        .join(exceptions, exceptions.c.id == violations.c.exception_id)
        .join(agents, agents.c.id == violations.c.agent_id)
        .where(violations.c.active_key.is_not(None), exceptions.c.until < now)
    ).all()
    for r in rows:
        _lock(conn, r.agent_id)
        _exception_used(
            conn,
            AgentInfo(r.agent_id, r.segment, r.department),
            _Exc(r.exc_id, r.exc_rule, r.until),
            now,
            r.last_event_id,
            r.id,
        )
        conn.execute(update(violations).where(violations.c.id == r.id).values(exception_id=None))


class _Exc:
    __slots__ = ("id", "rule_id", "until")

    def __init__(self, id: int, rule_id: str, until: datetime):
        self.id, self.rule_id, self.until = id, rule_id, until


async def run_forever(
    engine: Engine,
    interval: float,
    collector: str,
    observe: Callable[[float], None] | None = None,
    failed: Callable[[], None] | None = None,
) -> None:
    """The serve loop's task: a tick every `interval` seconds, errors logged and retried next tick.

    observe gets the duration of each tick this process ran (not those another collector claimed), failed is
    called per failed tick: the metrics hooks.
    """
    while True:
        now = clock.now()
        started = time.monotonic()
        try:
            if await asyncio.to_thread(run_tick, engine, now, interval, collector):
                log.info("state rules ran for tick %s", tick_of(now, interval).isoformat())
                if observe is not None:
                    observe(time.monotonic() - started)
        except Exception:  # a store hiccup must not stop the schedule for good
            log.exception("state rule tick failed; retrying next tick")
            if failed is not None:
                failed()
        next_tick = tick_of(now, interval) + timedelta(seconds=interval)
        await asyncio.sleep(max(0.5, (next_tick - clock.now()).total_seconds()))
