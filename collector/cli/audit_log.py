"""`mamori-collector audit-log list|verify`: who did what and when (every staff action), and its hash chain."""

from __future__ import annotations

import argparse
import json

from collector import display
from collector.cli.common import CliError, engine, iso, local, parse_when, print_json
from collector.config import DataDir
from mamori.i18n import _
from mamori.table import render


def cmd_list(args: argparse.Namespace, datadir: DataDir) -> int:
    from collector.store import audit
    from collector.store.db import read_only

    if args.limit < 1:
        raise CliError(_("--limit must be 1 or more"))
    since = parse_when(args.since, "--since") if args.since else None
    with read_only(engine(datadir).connect()) as conn:
        rows = audit.list_entries(conn, since=since, action=args.action, actor=args.actor, limit=args.limit)
    if args.json:
        print_json(
            [
                {
                    "id": r.id,
                    "at": iso(r.at),
                    "actor": r.actor,
                    "os_user": r.os_user,
                    "action": r.action,
                    "target": r.target,
                    "details": r.details,
                }
                for r in rows
            ]
        )
        return 0
    if not rows:
        print(_("No audit log entries match."))
        return 0
    # The login name in brackets after the --by name (`佐藤 (sato)`): one column, so the table fits 80 columns.
    table = [
        [
            local(r.at),
            f"{r.actor} ({r.os_user})" if r.os_user else r.actor,
            r.action,
            r.target,
            json.dumps({k: v for k, v in r.details.items() if v not in (None, "")}, ensure_ascii=False),
        ]
        for r in rows
    ]
    headers = [display.header(_("Time")), _("Who"), _("Action"), _("Target"), _("Details")]
    print(render(headers, table, [19, 20, 17, 14, 14]))
    return 0


def cmd_verify(args: argparse.Namespace, datadir: DataDir) -> int:
    from collector.store import audit
    from collector.store.db import read_only

    with read_only(engine(datadir).connect()) as conn:
        checked, broken = audit.verify(conn)
    if broken is not None:
        # The entry after an edited or deleted one no longer follows from its predecessor: it is named.
        print(
            _(
                "Tampering detected: audit log entry {id} ({at}, {action}) does not follow from the entries "
                "before it; {checked} entries before it are intact."
            ).format(id=broken.id, at=local(broken.at), action=broken.action, checked=checked)
        )
        return 1
    print(_("No tampering detected"))
    return 0


def register(sub, common: argparse.ArgumentParser) -> None:
    ap = sub.add_parser("audit-log", parents=[common], help=_("record of staff actions")).add_subparsers(
        dest="action_name", required=True
    )
    p = ap.add_parser("list", parents=[common], help=_("list staff actions, newest first"))
    p.add_argument("--since", help=_("only entries after this: a date (2026-11-01) or a duration (7d)"))
    p.add_argument("--action", help=_("action, or its prefix, e.g. violation or exception.add"))
    p.add_argument("--actor", help=_("only this staff member"))
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)
    p = ap.add_parser(
        "verify", parents=[common], help=_("check the audit log's hash chain for edited or deleted entries")
    )
    p.set_defaults(func=cmd_verify)
