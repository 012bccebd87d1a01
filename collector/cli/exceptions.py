"""`mamori-collector exceptions add|list|revoke`: 例外措置 — a rule waived for an agent or a 所属 until a date."""

from __future__ import annotations

import argparse
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
    parse_until,
    parse_when,
    print_json,
    rule_id_arg,
)
from collector.config import DataDir
from mamori import clock
from mamori.i18n import _
from mamori.labels import label
from mamori.table import render


def exception_dict(e, now: datetime) -> dict[str, Any]:
    return {
        "id": e.id,
        "agent_id": e.agent_id,
        "department": e.department,
        "rule_id": e.rule_id,
        "valid_from": iso(e.valid_from),
        "until": iso(e.until),
        "reason": e.reason,
        "approved_by": e.approved_by,
        "created_at": iso(e.created_at),
        "created_by": e.created_by,
        "revoked_at": iso(e.revoked_at),
        "revoked_by": e.revoked_by,
        "state": e.state(now),
        "used_after_expiry_at": iso(e.expiry_reported_at),
    }


def _state_label(state: str) -> str:
    return label("exception", state)


def cmd_add(args: argparse.Namespace, datadir: DataDir) -> int:
    from collector.store import exceptions as xstore

    now = clock.now()
    db = engine(datadir)
    rule_id = rule_id_arg(args.rule)
    until = parse_until(args.until)
    valid_from = parse_when(args.valid_from, "--from") if args.valid_from else now
    if until <= max(valid_from, now):
        raise CliError(_("--until must be in the future (and after --from)"))
    if not args.reason.strip() or not args.approved_by.strip():
        raise CliError(_("--reason and --approved-by must not be empty"))
    agent_id = find_agent(db, args.agent).id if args.agent else None
    known_department(db, args.department)
    with db.begin() as conn:
        exc, marked = xstore.add(
            conn,
            agent_id=agent_id,
            department=args.department,
            rule_id=rule_id,
            valid_from=valid_from,
            until=until,
            reason=args.reason.strip(),
            approved_by=args.approved_by.strip(),
            by=actor(args),
            at=now,
        )
    if args.json:
        print_json({**exception_dict(exc, now), "violations_marked": marked})
        return 0
    print(
        _("Exception #{id} added for {rule} until {until}; {n} open violation(s) now marked.").format(
            id=exc.id, rule=rule_id, until=display.stamp(until), n=marked
        )
    )
    return 0


def cmd_list(args: argparse.Namespace, datadir: DataDir) -> int:
    from collector.store import exceptions as xstore
    from collector.store.db import read_only

    now = clock.now()
    with read_only(engine(datadir).connect()) as conn:
        rows = xstore.list_all(conn, in_force_at=now if args.active else None)
    if args.json:
        print_json([exception_dict(e, now) for e in rows])
        return 0
    if not rows:
        print(_("No exceptions."))
        return 0
    headers = [_("No."), _("Rule"), _("Scope"), display.header(_("Until")), _("State"), _("Approved by"), _("Reason")]
    table = [
        [
            str(e.id),
            e.rule_id,
            e.department or (e.agent_id or "")[:8],
            local(e.until)[:10],
            _state_label(e.state(now)),
            e.approved_by,
            e.reason,
        ]
        for e in rows
    ]
    print(render(headers, table, [4, 7, 12, 16, 8, 10, 16]))
    return 0


def cmd_revoke(args: argparse.Namespace, datadir: DataDir) -> int:
    from collector.store import exceptions as xstore

    try:
        with engine(datadir).begin() as conn:
            unmarked = xstore.revoke(conn, args.id, by=actor(args), at=clock.now(), note=args.note)
    except LookupError:
        raise CliError(
            _("no exception #{id} in force; see `mamori-collector exceptions list`").format(id=args.id)
        ) from None
    print(_("Exception #{id} revoked; {n} violation(s) count again.").format(id=args.id, n=unmarked))
    return 0


def register(sub, common: argparse.ArgumentParser) -> None:
    xp = sub.add_parser("exceptions", parents=[common], help=_("exceptions (例外措置) to rules")).add_subparsers(
        dest="action", required=True
    )
    p = xp.add_parser("add", parents=[common], help=_("add an approved exception"))
    scope = p.add_mutually_exclusive_group(required=True)
    scope.add_argument("--agent", help=_("agent ID (or its first 8+ characters)"))
    scope.add_argument("--department", help=_("department (所属)"))
    p.add_argument("--rule", required=True, help=_("rule ID, e.g. MED-001"))
    p.add_argument("--until", required=True, help=_("last day of the exception, e.g. 2027-03-31"))
    p.add_argument("--from", dest="valid_from", help=_("first day (default: now)"))
    p.add_argument("--reason", required=True, help=_("why the exception is needed"))
    p.add_argument("--approved-by", required=True, help=_("who approved it"))
    p.add_argument("--by", help=_("name of the staff member (default: login name)"))
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_add)
    p = xp.add_parser("list", parents=[common], help=_("list exceptions"))
    p.add_argument("--active", action="store_true", help=_("only those in force now"))
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)
    p = xp.add_parser("revoke", parents=[common], help=_("revoke an exception"))
    p.add_argument("id", type=int)
    p.add_argument("--note", help=_("note"))
    p.add_argument("--by", help=_("name of the staff member (default: login name)"))
    p.set_defaults(func=cmd_revoke)
