"""`mamori-collector events list|show`: stored events, newest first, and one event with its evidence."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from collector import display
from collector.cli.common import CliError, engine, find_agent, iso, local, print_json
from collector.config import DataDir
from mamori import clock
from mamori.durations import parse_duration
from mamori.evidence import nest
from mamori.i18n import _
from mamori.labels import label
from mamori.table import render

# The payload fields that say most about each kind, shown first in the table's details column.
_DETAIL_KEYS = {
    "agent.started": ("previous_exit", "agent_version"),
    "agent.stopped": ("reason",),
    "agent.enrolled": ("segment", "department"),
    "agent.tamper": ("what", "detail"),
    "policy.applied": ("mode", "version"),
    "policy.rejected": ("reason",),
    "spool.overflow": ("dropped", "max_dropped_severity"),
    "spool.corrupt": ("error",),
    "event.oversize": ("original_kind", "field", "size"),
    "usb.attached": ("vendor_id", "product_id", "serial"),
    "usb.blocked": ("vendor_id", "product_id", "serial"),
    "usb.allowed": ("vendor_id", "product_id", "serial", "decided_by"),
    "media.write": ("path", "size"),
    "check.result": ("check_id", "status", "summary"),
    "sequence.gap": ("first_missing", "last_missing"),
}


def summary(kind: str, payload: dict[str, Any]) -> str:
    keys = _DETAIL_KEYS.get(kind) or tuple(payload)
    return " ".join(str(payload[k]) for k in keys if payload.get(k) not in (None, "", [], 0))


def event_dict(r) -> dict[str, Any]:
    """The stable JSON form of a stored event; a check's evidence is an object even in rows stored as text."""
    payload = nest(r.payload) if r.kind == "check.result" else r.payload
    return {
        "event_id": r.event_id,
        "agent_id": r.agent_id,
        "seq": r.seq,
        "kind": r.kind,
        "severity": r.severity,
        "occurred_at": iso(r.occurred_at),
        "received_at": iso(r.received_at),
        "payload": payload,
    }


def cmd_events_show(args: argparse.Namespace, datadir: DataDir) -> int:
    from collector.store import queries

    db = engine(datadir)
    row = queries.get_event(db, args.id) or _archived(datadir, args.id)
    if row is None:
        raise CliError(_("no event {id}; see `mamori-collector events list`").format(id=args.id))
    data = event_dict(row)
    if args.json:
        print_json(data)
        return 0
    agent = queries.get_agent(db, row.agent_id)
    payload = dict(data["payload"])
    rows = [
        (_("Evidence ID"), row.event_id),
        (_("Terminal"), f"{agent.hostname if agent else '-'} ({row.agent_id})"),
        (_("Seq"), str(row.seq if row.seq is not None else "-")),
        (_("Kind"), row.kind),
        (_("Severity"), label("severity", row.severity)),
        (display.header(_("Time")), local(row.occurred_at)),
        (display.header(_("Received")), local(row.received_at)),
    ]
    if row.kind == "check.result":
        rows += [
            (_("Check"), str(payload.pop("check_id", ""))),
            (_("Status"), str(payload.pop("status", ""))),
            (_("Summary"), str(payload.pop("summary", ""))),
        ]
    evidence = payload.pop("evidence", None)
    print(render([_("Item"), _("Value")], [list(r) for r in rows]))
    for title, value in ((_("Payload:"), payload), (_("Evidence:"), evidence)):
        if value:
            print()
            print(title)
            print(json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True))
    return 0


def _archived(datadir: DataDir, event_id: str):
    """An event retention moved out of the database, read back from its verified monthly archive."""
    from datetime import datetime

    from collector import archive
    from collector.store.queries import EventRow

    try:
        found = archive.find(datadir.archive(datadir.load_settings()), event_id)
    except archive.ArchiveError as exc:
        raise CliError(_("archive not verified: {problem}").format(problem=exc)) from None
    if found is None:
        return None
    month, r = found
    print(_("From the archive of {month} (verified).").format(month=month), file=sys.stderr)
    return EventRow(
        id=0,
        agent_id=r["agent_id"],
        seq=r["seq"],
        event_id=r["event_id"],
        kind=r["kind"],
        severity=r["severity"],
        occurred_at=datetime.fromisoformat(r["occurred_at"]),
        received_at=datetime.fromisoformat(r["received_at"]),
        payload=r["payload"],
    )


def cmd_events_list(args: argparse.Namespace, datadir: DataDir) -> int:
    from collector.store import queries

    db = engine(datadir)
    agent_id = find_agent(db, args.agent).id if args.agent else None
    since = None
    if args.since:
        try:
            since = clock.now() - parse_duration(args.since)
        except ValueError:
            raise CliError(_("invalid --since {value}: use e.g. 30m, 1h or 7d").format(value=args.since)) from None
    if args.limit < 1:
        raise CliError(_("--limit must be 1 or more"))
    rows = queries.list_events(db, agent_id=agent_id, kind=args.kind, since=since, limit=args.limit)
    if args.json:
        print_json([event_dict(r) for r in rows])
        return 0
    if not rows:
        print(_("No events match."))
        return 0
    headers = [display.header(_("Time")), _("Agent"), _("Seq"), _("Kind"), _("Severity"), _("Details")]
    table = [
        [
            local(r.occurred_at)[5:16],
            r.agent_id[:8],
            str(r.seq if r.seq is not None else "-"),
            r.kind,
            label("severity", r.severity),
            summary(r.kind, r.payload),
        ]
        for r in rows
    ]
    print(render(headers, table, [17, 8, 7, 14, 8, 20]))
    return 0


def register(sub, common: argparse.ArgumentParser) -> None:
    evp = sub.add_parser("events", parents=[common], help=_("stored events")).add_subparsers(
        dest="action", required=True
    )
    p = evp.add_parser("list", parents=[common], help=_("list events, newest first"))
    p.add_argument("--agent", help=_("agent ID (or its first 8+ characters)"))
    p.add_argument("--kind", help=_("event kind, e.g. usb.blocked"))
    p.add_argument("--since", help=_("only events newer than this, e.g. 1h"))
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_events_list)
    p = evp.add_parser("show", parents=[common], help=_("show one event (証跡ID) with its payload and evidence"))
    p.add_argument("id", help=_("event ID (証跡ID), as in violations and reports"))
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_events_show)
