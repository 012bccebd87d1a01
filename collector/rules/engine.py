"""Running the rules: event rules inside the ingest transaction, state rules on the scheduler's tick."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select, update

from collector.rules import RULES
from collector.rules.base import Clear, Flag, Outcome, Rule, Subject, typed_evidence
from collector.rules.params import params_for
from collector.store import violations as vstore
from collector.store.db import dialect_insert
from collector.store.models import check_state, events, exceptions, policies, violations
from mamori import evidence as schemas
from mamori import policy as policy_doc

STATE_KINDS = {"heartbeat": "state.heartbeat", "exception": "exception.used", "certificate": "state.certificate"}
BY_KIND: dict[str, list[Rule]] = defaultdict(list)
for _rule in RULES.values():
    for _kind in _rule.kinds:
        BY_KIND[_kind].append(_rule)


@dataclass(frozen=True, slots=True)
class AgentInfo:
    id: str
    segment: str
    department: str


def applies(rule: Rule, subject: Subject) -> bool:
    """Whether the rule looks at this subject at all (segment, kind, check id)."""
    if subject.segment not in rule.severity:
        return False
    if rule.state:
        return subject.kind == STATE_KINDS[rule.state]
    if subject.kind not in rule.kinds:
        return False
    return rule.check_id is None or subject.payload.get("check_id") == rule.check_id


def judge(rule: Rule, subject: Subject, params: dict[str, Any] | None = None) -> Outcome:
    """The rule's verdict on a subject; None when it does not apply or has nothing to say."""
    if not applies(rule, subject):
        return None
    return rule.evaluate(subject, rule.defaults() if params is None else params)


def policy_document(conn: Connection, segment: str) -> dict[str, Any]:
    stored = conn.execute(select(policies.c.document).where(policies.c.segment == segment)).scalar()
    return policy_doc.upgrade(stored) if isinstance(stored, dict) else policy_doc.DEFAULTS[segment]


def with_check(outcome: Outcome, subject: Subject) -> Outcome:
    """A flag on a check result keeps the check's own evidence beside the rule's findings: the violation is
    proven by what the terminal reported (for AUT-001 the PAM stacks, their modules and lines), not by a status."""
    if not isinstance(outcome, Flag) or subject.kind != "check.result":
        return outcome
    p = subject.payload
    check = {"check_id": p.get("check_id"), "status": p.get("status"), "summary": p.get("summary", ""),
             "evidence": schemas.stored(p)}
    return replace(outcome, evidence={**outcome.evidence, "check": check})


def _subject(agent: AgentInfo, ev: Any, facts: dict[str, Any] | None = None) -> Subject:
    evidence = typed_evidence(ev.payload) if ev.kind == "check.result" else None
    return Subject(segment=agent.segment, kind=ev.kind, payload=ev.payload, at=ev.occurred_at,
                   event_id=ev.event_id, evidence=evidence, facts=facts or {})


def _save_check_state(conn: Connection, agent_id: str, evs: Iterable[Any]) -> None:
    latest: dict[str, Any] = {}
    for ev in evs:
        cid = str(ev.payload.get("check_id", ""))[:40]
        if cid and (cid not in latest or ev.occurred_at >= latest[cid].occurred_at):
            latest[cid] = ev
    for cid, ev in latest.items():
        insert = dialect_insert(conn, check_state).values(
            agent_id=agent_id, check_id=cid, status=str(ev.payload.get("status", ""))[:20],
            occurred_at=ev.occurred_at, event_id=ev.event_id, payload=ev.payload)
        # A late-arriving older result never replaces a newer one.
        conn.execute(insert.on_conflict_do_update(
            index_elements=["agent_id", "check_id"],
            set_={k: insert.excluded[k] for k in ("status", "occurred_at", "event_id", "payload")},
            where=check_state.c.occurred_at <= insert.excluded.occurred_at))


def _recent_blocks(conn: Connection, agent_id: str, at: datetime, hours: int, enough: int) -> int:
    """usb.blocked events of the agent in the window, counted only up to `enough` (all escalation needs)."""
    found = (select(events.c.id).where(
        events.c.agent_id == agent_id, events.c.kind == "usb.blocked",
        events.c.occurred_at > at - timedelta(hours=hours), events.c.occurred_at <= at).limit(enough).subquery())
    return conn.execute(select(func.count()).select_from(found)).scalar_one()


def evaluate_events(conn: Connection, agent: AgentInfo, evs: Sequence[Any]) -> None:
    """Evaluate newly stored events (kinds with rules only) and write violations, in the caller's transaction."""
    document = policy_document(conn, agent.segment)
    checks = [ev for ev in evs if ev.kind == "check.result"]
    if checks:
        _save_check_state(conn, agent.id, checks)
    facts: dict[str, Any] = {}
    blocks = [ev for ev in evs if ev.kind == "usb.blocked"]
    med005 = RULES["MED-005"]
    if blocks and agent.segment in med005.severity:
        p = params_for(document, med005)
        if p is not None:
            facts["recent_blocks"] = _recent_blocks(conn, agent.id, max(e.occurred_at for e in blocks),
                                                    p["window_hours"], p["escalate_count"])
    outcomes: dict[str, list[tuple[Outcome, Any]]] = defaultdict(list)
    # Which rules (with their parameters) look at a kind / check id: worked out once per batch.
    chosen: dict[tuple[str, str], list[tuple[Rule, dict[str, Any]]]] = {}
    for ev in evs:
        key = (ev.kind, str(ev.payload.get("check_id", "")))
        todo = chosen.get(key)
        if todo is None:
            probe = Subject(agent.segment, ev.kind, ev.payload, ev.occurred_at)
            todo = chosen[key] = [(r, p) for r in BY_KIND.get(ev.kind, ()) if applies(r, probe)
                                  and (p := params_for(document, r)) is not None]
        if not todo:
            continue
        subject = _subject(agent, ev, facts)
        for rule, params in todo:
            outcome = with_check(rule.evaluate(subject, params), subject)
            if outcome is not None:
                outcomes[rule.id].append((outcome, ev))
    if outcomes:
        apply_outcomes(conn, agent, outcomes)


def _groups(rule: Rule, segment: str, seq: list[tuple[Outcome, Any]]):
    """Merge runs of consecutive flags into one Finding; clears pass through, in order."""
    run: vstore.Finding | None = None
    for outcome, ev in seq:
        if isinstance(outcome, Flag):
            severity = outcome.severity or rule.severity[segment]
            if run is None:
                run = vstore.Finding(rule.id, severity, ev.occurred_at, ev.occurred_at, 1, ev.event_id or None,
                                     ev.event_id or None, outcome.detail, outcome.evidence, outcome.message.stored())
            else:
                run.count += 1
                run.severity = vstore.higher(run.severity, severity)
                if ev.occurred_at >= run.last_at:
                    run.last_at, run.last_event_id, run.detail = ev.occurred_at, ev.event_id or None, outcome.detail
                    run.message = outcome.message.stored()
                    run.evidence = outcome.evidence
                run.first_at = min(run.first_at, ev.occurred_at)
        elif isinstance(outcome, Clear):
            if run is not None:
                yield run
                run = None
            yield (outcome, ev)
    if run is not None:
        yield run


def apply_outcomes(conn: Connection, agent: AgentInfo, outcomes: dict[str, list[tuple[Outcome, Any]]],
                   state: bool = False) -> None:
    """Write flags and clears; exceptions mark a finding, an expired one raises OPS-005."""
    flagged = {rid for rid, seq in outcomes.items() if any(isinstance(o, Flag) for o, _ in seq)}
    candidates = vstore.covering_exceptions(conn, agent.id, agent.department, flagged) if flagged else []
    # Most results pass and nothing is open: one look-up spares an UPDATE per passing check.
    active = set(conn.execute(select(violations.c.rule_id).where(
        violations.c.agent_id == agent.id, violations.c.active_key.is_not(None))).scalars())
    for rule_id, seq in outcomes.items():
        rule = RULES[rule_id]
        for item in _groups(rule, agent.segment, seq):
            if isinstance(item, vstore.Finding):
                in_force, expired = vstore.pick_exception(candidates, rule_id, item.last_at)
                if state:
                    item.count = 0  # the same state seen again on a tick is not a new occurrence
                vstore.raise_finding(conn, agent_id=agent.id, segment=agent.segment, department=agent.department,
                                     finding=item, exception_id=in_force.id if in_force else None)
                active.add(rule_id)
                if expired is not None and not state:
                    _exception_used(conn, agent, expired, item.last_at, item.last_event_id, None)
            else:
                outcome, ev = item
                if rule_id not in active:
                    continue
                active.discard(rule_id)
                # The note is stored in English; its message beside the clearing event, to show it translated.
                vstore.clear(conn, agent_id=agent.id, rule_id=rule_id, at=ev.occurred_at, detail=outcome.detail,
                             evidence={"event_id": ev.event_id or None, **outcome.evidence,
                                       "message": outcome.message.stored()})


def _exception_used(conn: Connection, agent: AgentInfo, exc: Any, at: datetime, event_id: str | None,
                    violation_id: int | None) -> None:
    """OPS-005: the excepted rule broke after the exception's expiry."""
    rule = RULES["OPS-005"]
    if agent.segment not in rule.severity:
        return
    params = params_for(policy_document(conn, agent.segment), rule)
    if params is None:
        return
    payload = {"exception_id": exc.id, "rule_id": exc.rule_id, "until": exc.until.isoformat(),
               "violation_id": violation_id, "event_id": event_id}
    outcome = judge(rule, Subject(agent.segment, STATE_KINDS["exception"], payload, at, event_id or ""), params)
    if isinstance(outcome, Flag):
        finding = vstore.Finding(rule.id, outcome.severity or rule.severity[agent.segment], at, at, 1, event_id,
                                 event_id, outcome.detail, outcome.evidence, outcome.message.stored())
        vstore.raise_finding(conn, agent_id=agent.id, segment=agent.segment, department=agent.department,
                             finding=finding, exception_id=None)
        conn.execute(update(exceptions).where(exceptions.c.id == exc.id, exceptions.c.expiry_reported_at.is_(None))
                     .values(expiry_reported_at=at))
