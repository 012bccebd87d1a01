"""`mamori-collector violations list|show|ack|resolve`: the violations the rules found, and their 是正."""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from typing import Any

from collector import display
from collector.cli.common import (
    CliError,
    actor,
    engine,
    find_agent,
    iso,
    known_department,
    local,
    parse_when,
    print_json,
    rule_id_arg,
)
from collector.config import DataDir
from mamori import clock
from mamori.i18n import _, language
from mamori.labels import SEGMENTS, SEVERITIES, VIOLATION_STATUSES, label
from mamori.table import render


def violation_dict(v) -> dict[str, Any]:
    """The stable JSON form of a violation (documented in README.md)."""
    from collector.rules import RULES
    from collector.store import violations as vstore

    rule = RULES.get(v.rule_id)
    return {
        "id": v.id,
        "agent_id": v.agent_id,
        "hostname": v.hostname,
        "segment": v.segment,
        "department": v.department,
        "rule_id": v.rule_id,
        "rule_title": rule.title(language()) if rule else "",
        "clause": rule.clause if rule else "",
        "severity": v.severity,
        "status": v.status,
        "first_seen": iso(v.first_seen),
        "last_seen": iso(v.last_seen),
        "count": v.count,
        "event_id": v.event_id,
        "last_event_id": v.last_event_id,
        "detail": vstore.detail_text(v),
        "detail_message": v.detail_message,
        "evidence": v.evidence,
        "exception_id": v.exception_id,
        "excepted": v.exception_id is not None,
        "acknowledged_at": iso(v.acknowledged_at),
        "acknowledged_by": v.acknowledged_by,
        "ack_note": v.ack_note,
        "resolved_at": iso(v.resolved_at),
        "resolved_by": v.resolved_by,
        "resolution_note": v.resolution_note,
        "resolution_evidence": v.resolution_evidence,
    }


def _short_time(ts: datetime) -> str:
    return local(ts, "%m-%d %H:%M")


def cmd_list(args: argparse.Namespace, datadir: DataDir) -> int:
    from collector.store import violations as vstore
    from collector.store.db import read_only

    if args.limit < 1:
        raise CliError(_("--limit must be 1 or more"))
    db = engine(datadir)
    agent_id = find_agent(db, args.agent).id if args.agent else None
    known_department(db, args.department)
    since = parse_when(args.since, "--since") if args.since else None
    rule_id = rule_id_arg(args.rule) if args.rule else None
    with read_only(db.connect()) as conn:
        rows = vstore.list_violations(
            conn,
            status=args.status,
            segment=args.segment,
            severity=args.severity,
            department=args.department,
            agent_id=agent_id,
            rule_id=rule_id,
            since=since,
            limit=args.limit,
        )
    if args.json:
        print_json([violation_dict(v) for v in rows])
        return 0
    if not rows:
        print(_("No violations match."))
        return 0
    headers = [
        _("ID"),
        _("Severity"),
        _("Status"),
        _("Rule"),
        _("Terminal"),
        _("Department"),
        display.header(_("Latest")),
        _("Count"),
    ]
    table = [
        [
            str(v.id),
            label("severity", v.severity),
            label("status", v.status) + ("*" if v.exception_id else ""),
            v.rule_id,
            v.hostname,
            v.department,
            _short_time(v.last_seen),
            str(v.count),
        ]
        for v in rows
    ]
    print(render(headers, table, [7, 8, 8, 7, 13, 10, 11, 5]))
    if any(v.exception_id for v in rows):
        print(_("* covered by an exception (例外措置)"))
    return 0


def _get(conn, violation_id: int):
    from collector.store import violations as vstore

    row = vstore.get_violation(conn, violation_id)
    if row is None:
        raise CliError(_("no violation {id}; see `mamori-collector violations list`").format(id=violation_id))
    return row


def cmd_show(args: argparse.Namespace, datadir: DataDir) -> int:
    from collector.rules import RULES
    from collector.store import violations as vstore
    from collector.store.db import read_only

    with read_only(engine(datadir).connect()) as conn:
        v = _get(conn, args.id)
    data = violation_dict(v)
    if args.json:
        print_json(data)
        return 0
    rule = RULES.get(v.rule_id)
    lang = language()
    rows = [
        (_("ID"), str(v.id)),
        (_("Rule"), f"{v.rule_id} {data['rule_title']}"),
        (_("Clause"), data["clause"]),
        (_("Severity"), label("severity", v.severity)),
        (_("Status"), label("status", v.status)),
        (_("Terminal"), f"{v.hostname} ({v.agent_id})"),
        (_("Segment"), v.segment),
        (_("Department"), v.department),
        (display.header(_("First detected")), local(v.first_seen)),
        (display.header(_("Last detected")), local(v.last_seen)),
        (_("Count"), str(v.count)),
        (_("Detected"), data["detail"]),
        (_("Evidence ID"), v.event_id or "-"),
        (_("Latest evidence ID"), v.last_event_id or "-"),
        (_("Exception"), f"#{v.exception_id}" if v.exception_id else "-"),
    ]
    if v.acknowledged_at:
        rows.append(
            (display.header(_("Acknowledged")), f"{local(v.acknowledged_at)} {v.acknowledged_by} {v.ack_note or ''}")
        )
    if v.resolved_at:
        rows.append(
            (display.header(_("Resolved")), f"{local(v.resolved_at)} {v.resolved_by} {vstore.resolution_text(v)}")
        )
    if rule:
        rows.append((_("Remediation"), rule.remediation(lang)))
    print(render([_("Item"), _("Value")], [list(r) for r in rows]))
    print()
    print(_("Evidence:"))
    print(json.dumps(v.evidence, ensure_ascii=False, indent=2, sort_keys=True))
    if v.resolution_evidence:
        print(_("Evidence of the clearing:"))
        print(json.dumps(v.resolution_evidence, ensure_ascii=False, indent=2, sort_keys=True))
    return 0


def _lifecycle(args: argparse.Namespace, datadir: DataDir, action: str) -> int:
    from collector.store import violations as vstore

    now = clock.now()
    by = actor(args)
    try:
        with engine(datadir).begin() as conn:
            if action == "ack":
                vstore.acknowledge(conn, args.id, by=by, at=now, note=args.note)
            else:
                vstore.resolve(conn, args.id, by=by, at=now, note=args.note)
    except vstore.LifecycleError as exc:
        if exc.reason == "unknown":
            raise CliError(_("no violation {id}; see `mamori-collector violations list`").format(id=args.id)) from None
        raise CliError(
            _("violation {id} is already {status}").format(id=args.id, status=label("status", exc.reason))
        ) from None
    if action == "ack":
        print(_("Violation {id} acknowledged by {by}.").format(id=args.id, by=by))
    else:
        print(_("Violation {id} resolved by {by}.").format(id=args.id, by=by))
    return 0


def register(sub, common: argparse.ArgumentParser) -> None:
    vp = sub.add_parser("violations", parents=[common], help=_("violations found by the rules")).add_subparsers(
        dest="action", required=True
    )
    p = vp.add_parser("list", parents=[common], help=_("list violations, newest first"))
    p.add_argument("--status", choices=VIOLATION_STATUSES)
    p.add_argument("--segment", choices=SEGMENTS)
    p.add_argument("--severity", choices=SEVERITIES)
    p.add_argument("--department", help=_("department (所属)"))
    p.add_argument("--agent", help=_("agent ID (or its first 8+ characters)"))
    p.add_argument("--rule", help=_("rule ID, e.g. MED-001"))
    p.add_argument("--since", help=_("first seen after this: a date (2026-11-01) or a duration (7d)"))
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)
    p = vp.add_parser("show", parents=[common], help=_("show one violation with its evidence"))
    p.add_argument("id", type=int)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_show)
    p = vp.add_parser("ack", parents=[common], help=_("acknowledge a violation"))
    p.add_argument("id", type=int)
    p.add_argument("--by", required=True, help=_("name of the staff member"))
    p.add_argument("--note", help=_("note"))
    p.set_defaults(func=lambda a, d: _lifecycle(a, d, "ack"))
    p = vp.add_parser("resolve", parents=[common], help=_("record the corrective action and close a violation"))
    p.add_argument("id", type=int)
    p.add_argument("--by", required=True, help=_("name of the staff member"))
    p.add_argument("--note", required=True, help=_("what was done (是正内容)"))
    p.set_defaults(func=lambda a, d: _lifecycle(a, d, "resolve"))
