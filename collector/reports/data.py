"""The report's figures, built once from the store and rendered by every format (the JSON schema is this dict)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, or_, select

from collector import display
from collector.reports.labels import wording as t
from collector.reports.period import Period, PeriodError, show_date
from collector.rules import RULES
from collector.store import exceptions as xstore
from collector.store import violations as vstore
from collector.store.models import agents, events, temporary_permissions, violations
from mamori import clock, labels
from mamori.labels import SEGMENTS, SEVERITIES
from mamori.usbrules import parse_basis

SCHEMA = 1


def mark(targets: int, violations_: int, unresolved: int) -> str:
    """○ no violations, △ violations all corrected, × uncorrected ones remain, − no target terminals."""
    if targets == 0:
        return "−"
    if violations_ == 0:
        return "○"
    return "△" if unresolved == 0 else "×"


def _open_at(row: Any, when: datetime) -> bool:
    """未是正 at `when`: not resolved by then (a violation corrected after the period was open at its end)."""
    return row.status != "resolved" or row.resolved_at is None or row.resolved_at >= when


def _clauses(rule_id: str) -> tuple[str, ...]:
    rule = RULES.get(rule_id)
    return rule.clause_bp if rule else ("?",)


def _row(targets: set[str], bad: set[str], count: int, unresolved: int) -> dict[str, Any]:
    n = len(targets)
    return {
        "targets": n,
        "compliant": n - len(bad & targets),
        "compliance_rate": round((n - len(bad & targets)) / n, 4) if n else None,
        "violations": count,
        "unresolved": unresolved,
        "mark": mark(n, count, unresolved),
    }


def build(
    conn: Connection,
    period: Period,
    *,
    department: str | None = None,
    segment: str | None = None,
    lang: str = "ja",
    now: datetime | None = None,
) -> dict[str, Any]:
    now = now or clock.now()
    if now < period.start:
        raise PeriodError(t("future_period", lang))
    label = f"{show_date(period.start.date(), lang)} – {show_date(period.last_day, lang)}"
    if now < period.end:  # the figures can still change: say so wherever the period is shown
        label += t("not_ended", lang).format(when=show_date(now, lang, with_time=True))
    # Terminals in scope: enrolled before the period ended and not revoked before it began.
    aq = select(agents.c.id, agents.c.segment, agents.c.department, agents.c.hostname).where(
        agents.c.enrolled_at < period.end, or_(agents.c.revoked_at.is_(None), agents.c.revoked_at >= period.start)
    )
    vq = (
        select(violations, agents.c.hostname)
        .join(agents, agents.c.id == violations.c.agent_id)
        # In the period: open at any time in it, however long ago it was first seen.
        .where(
            violations.c.first_seen < period.end,
            or_(violations.c.resolved_at.is_(None), violations.c.resolved_at >= period.start),
        )
        .order_by(violations.c.first_seen, violations.c.id)
    )
    if department:
        aq = aq.where(agents.c.department == department)
        vq = vq.where(violations.c.department == department)
    if segment:
        aq = aq.where(agents.c.segment == segment)
        vq = vq.where(violations.c.segment == segment)
    fleet = list(conn.execute(aq))
    rows = list(conn.execute(vq))

    by_dept: dict[str, set[str]] = defaultdict(set)
    by_seg: dict[str, set[str]] = defaultdict(set)
    for a in fleet:
        by_dept[a.department].add(a.id)
        by_seg[a.segment].add(a.id)
    all_ids = {a.id for a in fleet}
    host_of = {a.id: a.hostname for a in fleet}
    seg_of = {a.id: a.segment for a in fleet}

    # Counting: an excepted violation is listed in the detail but does not count against compliance.
    counted = [r for r in rows if r.exception_id is None]
    agg: dict[tuple[str, str], list[Any]] = defaultdict(lambda: [set(), 0, 0])
    for r in counted:
        keys = [("dept", r.department), ("seg", r.segment)] + [("clause", c) for c in _clauses(r.rule_id)]
        for key in keys:
            entry = agg[key]
            entry[0].add(r.agent_id)
            entry[1] += 1
            entry[2] += _open_at(r, period.end)

    def figures(key: tuple[str, str], targets: set[str]) -> dict[str, Any]:
        bad, count, unresolved = agg.get(key, (set(), 0, 0))
        return _row(targets, bad, count, unresolved)

    departments = sorted(set(by_dept) | {r.department for r in counted})
    summary_dept = [{"department": d, **figures(("dept", d), by_dept.get(d, set()))} for d in departments]
    summary_seg = [
        {"segment": s, "segment_name": labels.label("segment", s, lang), **figures(("seg", s), by_seg.get(s, set()))}
        for s in SEGMENTS
        if not segment or s == segment
    ]
    clause_rules: dict[str, list[str]] = defaultdict(list)
    for rule in RULES.values():
        for c in rule.clause_bp:
            clause_rules[c].append(rule.id)
    summary_clause = []
    for clause in sorted(clause_rules, key=_clause_sort):
        segs = {s for rid in clause_rules[clause] for s in RULES[rid].segments}
        targets = {aid for aid in all_ids if seg_of[aid] in segs}
        summary_clause.append(
            {
                "clause": clause,
                "rules": clause_rules[clause],
                "guideline": sorted({g for rid in clause_rules[clause] for g in RULES[rid].clause_g}),
                **figures(("clause", clause), targets),
            }
        )
    total = _row(all_ids, {r.agent_id for r in counted}, len(counted), sum(_open_at(r, period.end) for r in counted))

    detail = [_detail(r, lang) for r in rows]
    weekly = _weekly(counted, period)
    exc_rows = xstore.list_all(conn, overlapping=(period.start, period.end))
    if department:
        exc_rows = [e for e in exc_rows if e.department == department or (e.agent_id in all_ids)]
    return {
        "schema": SCHEMA,
        "title": t("title", lang),
        "lang": lang,
        "period": {
            "text": period.text,
            "from": period.start.date().isoformat(),
            "to": period.last_day.isoformat(),
            "label": label,
            "ended": now >= period.end,
        },
        "filters": {"department": department, "segment": segment},
        "generated_at": now.astimezone(UTC).isoformat(),
        "generated_label": f"{show_date(now, lang, with_time=True)} {display.label(now)}",
        "timezone": display.label(now),  # of every *_label time; the header of each time column says it too
        "total": total,
        "by_department": summary_dept,
        "by_clause": summary_clause,
        "by_segment": summary_seg,
        "weekly": weekly,
        "violations": detail,
        # 状態 as of the period's end (or now, for a period still running).
        "exceptions": [_exception(e, lang, host_of.get(e.agent_id or ""), min(now, period.end)) for e in exc_rows],
        "device_approvals": {"available": True, "items": _approvals_used(conn, period, all_ids, host_of, lang)},
    }


def _approvals_used(
    conn: Connection, period: Period, agent_ids: set[str], host_of: dict[str, str], lang: str
) -> list[dict[str, Any]]:
    """Approved devices used in the period: per approval (register rule or 一時許可) and terminal, how often.

    The agent names what allowed a device in usb.allowed's decided_by: "rule N: <rule text>" for the register,
    "temporary <id> until <time>" for a 一時許可; "mode:audit" is no approval and is left out.
    """
    rows = conn.execute(
        select(events.c.agent_id, events.c.occurred_at, events.c.payload)
        .where(
            events.c.kind == "usb.allowed",
            events.c.occurred_at >= period.start,
            events.c.occurred_at < period.end,
        )
        .order_by(events.c.occurred_at)
    ).all()
    used: dict[tuple[str, str], dict[str, Any]] = {}
    for agent_id, at, payload in rows:
        basis = parse_basis((payload or {}).get("decided_by", ""))
        if agent_id not in agent_ids or basis.kind not in ("rule", "temporary"):
            continue
        approval = f"temporary {basis.ref}" if basis.kind == "temporary" else basis.ref
        item = used.get((approval, agent_id))
        if item is None:
            item = used[(approval, agent_id)] = {
                "approval": approval,
                "agent_id": agent_id,
                "terminal": host_of.get(agent_id, ""),
                "serial": payload.get("serial", ""),
                "device": " ".join(
                    x
                    for x in (
                        f"{payload.get('vendor_id', '')}:{payload.get('product_id', '')}",
                        payload.get("product_name", ""),
                    )
                    if x.strip(":")
                ),
                "approval_label": _approval_label(basis, lang),
                "uses": 0,
                "first": at,
                "last": at,
                "reason": "",
                "approved_by": "",
                "permission_id": basis.ref if basis.kind == "temporary" else None,
            }
        item["uses"] += 1
        item["last"] = at
    temps = {r.id: r for r in conn.execute(select(temporary_permissions)).all()}
    items = []
    for item in used.values():
        temp = temps.get(item.pop("permission_id"))
        if temp is not None:
            item["reason"], item["approved_by"] = temp.reason, temp.created_by
        first, last = item.pop("first"), item.pop("last")
        items.append(
            {
                **item,
                "first": first.astimezone(UTC).isoformat(),
                "last": last.astimezone(UTC).isoformat(),
                "first_label": show_date(first, lang, with_time=True),
                "last_label": show_date(last, lang, with_time=True),
            }
        )
    return items


def _approval_label(basis: Any, lang: str) -> str:
    if basis.kind == "temporary":
        return t("temporary_approval", lang).format(ref=basis.ref)
    return t("register_rule", lang).format(ref=basis.ref.removeprefix("rule").lstrip())


def _clause_sort(clause: str) -> tuple:
    import re

    return tuple(int(n) if n.isdigit() else n for n in re.findall(r"\d+|\D+", clause))


def _detail(r: Any, lang: str) -> dict[str, Any]:
    rule = RULES.get(r.rule_id)
    checked_by = r.resolved_by or r.acknowledged_by
    checked_at = r.resolved_at or r.acknowledged_at
    user = r.evidence.get("user") if isinstance(r.evidence, dict) else None
    status = labels.label("status", r.status, lang)
    return {
        "id": r.id,
        "rule_id": r.rule_id,
        "rule_title": rule.title(lang) if rule else "",
        "clause": rule.clause if rule else "",
        "segment": r.segment,
        "segment_name": labels.label("segment", r.segment, lang),
        "department": r.department,
        "terminal": r.hostname,
        "agent_id": r.agent_id,
        "user": user or "",
        "occurred_at": r.first_seen.astimezone(UTC).isoformat(),
        "occurred_label": show_date(r.first_seen, lang, with_time=True),
        "last_seen": r.last_seen.astimezone(UTC).isoformat(),
        "count": r.count,
        "detected": vstore.detail_text(r, lang),
        "severity": r.severity,
        "severity_name": labels.label("severity", r.severity, lang),
        "evidence_id": r.event_id or "",
        "exception_id": r.exception_id,
        "status": r.status,
        "status_name": status,
        "checked_by": checked_by or "",
        "checked_on": checked_at.astimezone(UTC).isoformat() if checked_at else None,
        "checked_label": show_date(checked_at, lang) if checked_at else "",
    }


def _exception(e: Any, lang: str, hostname: str | None, as_of: datetime) -> dict[str, Any]:
    state = e.state(as_of)
    return {
        "id": e.id,
        "state": state,
        "state_name": labels.label("exception", state, lang),
        "rule_id": e.rule_id,
        "agent_id": e.agent_id,
        "hostname": hostname,
        "department": e.department,
        "from": e.valid_from.astimezone(UTC).isoformat(),
        "until": e.until.astimezone(UTC).isoformat(),
        "from_label": show_date(e.valid_from, lang),
        "until_label": show_date(e.until, lang),
        "reason": e.reason,
        "approved_by": e.approved_by,
        "revoked_at": e.revoked_at.astimezone(UTC).isoformat() if e.revoked_at else None,
    }


def _weekly(rows: list[Any], period: Period) -> list[dict[str, Any]]:
    """Violations per week (weeks start on Monday, display zone) and severity, every week of the period listed."""
    first = period.start.date() - timedelta(days=period.start.weekday())
    weeks: dict[str, dict[str, int]] = {}
    day = first
    while day < period.end.date():
        weeks[day.isoformat()] = dict.fromkeys(reversed(SEVERITIES), 0)
        day += timedelta(days=7)
    for r in rows:
        local = r.first_seen.astimezone(display.zone()).date()
        week = (local - timedelta(days=local.weekday())).isoformat()
        if week in weeks:
            weeks[week][r.severity] += 1
    return [{"week": w, **counts} for w, counts in weeks.items()]
