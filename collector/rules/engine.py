"""Running the rules: event rules judged before the ingest transaction and written in it, state rules on ticks."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from collector.rules import RULES
from collector.rules.base import Clear, Flag, Outcome, Rule, Subject, typed_evidence
from collector.rules.params import params_for
from collector.store import facts
from collector.store import violations as vstore
from mamori import evidence as schemas

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


def with_check(outcome: Outcome, subject: Subject) -> Outcome:
    """A flag on a check result keeps the check's own evidence beside the rule's findings: the violation is
    proven by what the terminal reported (for AUT-001 the PAM stacks, their modules and lines), not by a status."""
    if not isinstance(outcome, Flag) or subject.kind != "check.result":
        return outcome
    p = subject.payload
    check = {
        "check_id": p.get("check_id"),
        "status": p.get("status"),
        "summary": p.get("summary", ""),
        "evidence": schemas.stored(p),
    }
    return replace(outcome, evidence={**outcome.evidence, "check": check})


def _subject(agent: AgentInfo, ev: Any, facts: dict[str, Any] | None = None) -> Subject:
    evidence = typed_evidence(ev.payload) if ev.kind == "check.result" else None
    return Subject(
        segment=agent.segment,
        kind=ev.kind,
        payload=ev.payload,
        at=ev.occurred_at,
        event_id=ev.event_id,
        evidence=evidence,
        facts=facts or {},
    )


@dataclass(slots=True)
class Judgement:
    """A batch's events judged before its transaction: the pure rules' verdicts, and what waits for facts.

    Built outside the serialized write (prepare); settle() then writes it, with the facts only the store
    knows at that moment (Rule.facts) and the open violations, inside the ingest transaction.
    """

    agent: AgentInfo
    document: dict[str, Any]
    outcomes: list[tuple[str, Outcome, Any]]  # (rule id, verdict, event), in event order
    deferred: list[tuple[Rule, dict[str, Any], Any]]  # (rule, its parameters, event): the rule declares facts
    checks: list[Any]  # check results, whose latest state is kept
    exceptions: list[Any] | None = None  # covering exceptions, read with the facts before (None: read in settle)

    def flaggable(self) -> set[str]:
        """Rules that may flag: the exceptions that can mark a finding are those of these rules."""
        return {rid for rid, o, _ in self.outcomes if isinstance(o, Flag)} | {r.id for r, _, _ in self.deferred}

    def keep(self, evs: Sequence[Any]) -> Judgement:
        """The judgement of only these of its events (the batch minus replays of stored ones)."""
        ids = {id(ev) for ev in evs}
        return Judgement(
            self.agent,
            self.document,
            [o for o in self.outcomes if id(o[2]) in ids],
            [d for d in self.deferred if id(d[2]) in ids],
            [e for e in self.checks if id(e) in ids],
            self.exceptions,
        )


def prepare(agent: AgentInfo, document: dict[str, Any], evs: Sequence[Any]) -> Judgement:
    """Evaluate the events (kinds with rules only) by the rules that need no stored facts: no database."""
    outcomes: list[tuple[str, Outcome, Any]] = []
    deferred: list[tuple[Rule, dict[str, Any], Any]] = []
    # Which rules (with their parameters) look at a kind / check id: worked out once per batch.
    chosen: dict[tuple[str, str], list[tuple[Rule, dict[str, Any]]]] = {}
    for ev in evs:
        rules = BY_KIND.get(ev.kind)
        if not rules:
            continue
        key = (ev.kind, str(ev.payload.get("check_id", "")))
        todo = chosen.get(key)
        if todo is None:
            probe = Subject(agent.segment, ev.kind, ev.payload, ev.occurred_at)
            todo = chosen[key] = [
                (r, p) for r in rules if applies(r, probe) and (p := params_for(document, r)) is not None
            ]
        if not todo:
            continue
        subject = None
        for rule, params in todo:
            if rule.facts:
                deferred.append((rule, params, ev))
                continue
            subject = subject or _subject(agent, ev)
            outcome = with_check(rule.evaluate(subject, params), subject)
            if outcome is not None:
                outcomes.append((rule.id, outcome, ev))
    return Judgement(agent, document, outcomes, deferred, [ev for ev in evs if ev.kind == "check.result"])


def settle(conn: Connection, judgement: Judgement) -> None:
    """Write a judgement in the caller's transaction: check state, the fact rules' verdicts, violations."""
    agent = judgement.agent
    if judgement.checks:
        facts.save_check_state(conn, agent.id, judgement.checks)
    outcomes: dict[str, list[tuple[Outcome, Any]]] = defaultdict(list)
    for rule_id, outcome, ev in judgement.outcomes:
        outcomes[rule_id].append((outcome, ev))
    waiting: dict[str, list[tuple[Rule, dict[str, Any], Any]]] = defaultdict(list)
    for item in judgement.deferred:
        waiting[item[0].id].append(item)
    for rule_id, items in waiting.items():
        rule, params = items[0][0], items[0][1]
        evs = [ev for _, _, ev in items]
        # Read now, in the transaction that just stored the batch: the batch's own events count.
        known = {name: facts.FACT_READERS[name](conn, agent.id, evs, params) for name in rule.facts}
        for ev in evs:
            subject = _subject(agent, ev, known)
            outcome = with_check(rule.evaluate(subject, params), subject)
            if outcome is not None:
                outcomes[rule_id].append((outcome, ev))
    if outcomes:
        apply_outcomes(conn, agent, outcomes, candidates=judgement.exceptions, document=judgement.document)


def evaluate_events(conn: Connection, agent: AgentInfo, evs: Sequence[Any]) -> None:
    """Evaluate newly stored events (kinds with rules only) and write violations, in the caller's transaction."""
    settle(conn, prepare(agent, facts.policy_document(conn, agent.segment), evs))


def _groups(rule: Rule, segment: str, seq: list[tuple[Outcome, Any]]):
    """Merge runs of consecutive flags into one Finding; clears pass through, in order."""
    run: vstore.Finding | None = None
    for outcome, ev in seq:
        if isinstance(outcome, Flag):
            severity = outcome.severity or rule.severity[segment]
            if run is None:
                run = vstore.Finding(
                    rule.id,
                    severity,
                    ev.occurred_at,
                    ev.occurred_at,
                    1,
                    ev.event_id or None,
                    ev.event_id or None,
                    outcome.detail,
                    outcome.evidence,
                    outcome.message.stored(),
                )
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


def apply_outcomes(
    conn: Connection,
    agent: AgentInfo,
    outcomes: dict[str, list[tuple[Outcome, Any]]],
    state: bool = False,
    candidates: list[Any] | None = None,
    document: dict[str, Any] | None = None,
) -> None:
    """Write flags and clears; exceptions mark a finding, an expired one raises OPS-005.

    candidates: the covering exceptions if the caller read them already; document: the segment's policy.
    """
    if candidates is None:
        flagged = {rid for rid, seq in outcomes.items() if any(isinstance(o, Flag) for o, _ in seq)}
        candidates = vstore.covering_exceptions(conn, agent.id, agent.department, flagged) if flagged else []
    # Most results pass and nothing is open: one look-up spares an UPDATE per passing check.
    active = facts.active_rules(conn, agent.id)
    for rule_id, seq in outcomes.items():
        rule = RULES[rule_id]
        for item in _groups(rule, agent.segment, seq):
            if isinstance(item, vstore.Finding):
                in_force, expired = vstore.pick_exception(candidates, rule_id, item.last_at)
                if state:
                    item.count = 0  # the same state seen again on a tick is not a new occurrence
                vstore.raise_finding(
                    conn,
                    agent_id=agent.id,
                    segment=agent.segment,
                    department=agent.department,
                    finding=item,
                    exception_id=in_force.id if in_force else None,
                )
                active.add(rule_id)
                if expired is not None and not state:
                    _exception_used(conn, agent, expired, item.last_at, item.last_event_id, None, document)
            else:
                outcome, ev = item
                if rule_id not in active:
                    continue
                active.discard(rule_id)
                # The note is stored in English; its message beside the clearing event, to show it translated.
                vstore.clear(
                    conn,
                    agent_id=agent.id,
                    rule_id=rule_id,
                    at=ev.occurred_at,
                    detail=outcome.detail,
                    evidence={"event_id": ev.event_id or None, **outcome.evidence, "message": outcome.message.stored()},
                )


def _exception_used(
    conn: Connection,
    agent: AgentInfo,
    exc: Any,
    at: datetime,
    event_id: str | None,
    violation_id: int | None,
    document: dict[str, Any] | None = None,
) -> None:
    """OPS-005: the excepted rule broke after the exception's expiry (the expired exception is its fact)."""
    rule = RULES["OPS-005"]
    if agent.segment not in rule.severity:
        return
    params = params_for(document or facts.policy_document(conn, agent.segment), rule)
    if params is None:
        return
    payload = {
        "exception_id": exc.id,
        "rule_id": exc.rule_id,
        "until": exc.until.isoformat(),
        "violation_id": violation_id,
        "event_id": event_id,
    }
    outcome = judge(rule, Subject(agent.segment, STATE_KINDS["exception"], payload, at, event_id or ""), params)
    if isinstance(outcome, Flag):
        finding = vstore.Finding(
            rule.id,
            outcome.severity or rule.severity[agent.segment],
            at,
            at,
            1,
            event_id,
            event_id,
            outcome.detail,
            outcome.evidence,
            outcome.message.stored(),
        )
        vstore.raise_finding(
            conn,
            agent_id=agent.id,
            segment=agent.segment,
            department=agent.department,
            finding=finding,
            exception_id=None,
        )
        facts.expiry_reported(conn, exc.id, at)
