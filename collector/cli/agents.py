"""`mamori-collector agents list|show|revoke`."""

from __future__ import annotations

import argparse
from typing import Any

from collector import display
from collector.cli.common import CliError, actor, engine, find_agent, iso, local, print_json
from collector.config import DataDir
from mamori import clock
from mamori.i18n import _
from mamori.labels import label
from mamori.safetext import safe
from mamori.table import render


def _agent_dict(row) -> dict[str, Any]:
    return {
        "id": row.id,
        "hostname": row.hostname,
        "segment": row.segment,
        "department": row.department,
        "os": row.os,
        "os_version": row.os_version,
        "agent_version": row.agent_version,
        "enrolled_at": iso(row.enrolled_at),
        "last_seen_at": iso(row.last_seen_at),
        "last_seq": row.last_seq,
        "policy_version": row.policy_version,
        "status": row.state,
        "revoked_at": iso(row.revoked_at),
        "revoked_by": row.revoked_by,
        "cert_serial": row.cert_serial,
        "cert_not_after": iso(row.cert_not_after),
        "superseded_by": row.superseded_by,
        "superseded_at": iso(row.superseded_at),
    }


def _status_label(row) -> str:
    return label("agent", row.state)


def cmd_agents_list(args: argparse.Namespace, datadir: DataDir) -> int:
    from collector.store import queries

    rows = queries.list_agents(engine(datadir))
    if args.json:
        print_json([_agent_dict(r) for r in rows])
        return 0
    if not rows:
        print(_("No agents enrolled yet. Create a token with `mamori-collector token create`."))
        return 0
    headers = [_("ID"), _("Terminal"), _("Segment"), _("Department"), display.header(_("Last seen")), _("Status")]
    table = [[r.id[:8], r.hostname, r.segment, r.department, local(r.last_seen_at), _status_label(r)] for r in rows]
    print(render(headers, table, [8, 16, 8, 12, 19, 8]))
    return 0


def cmd_agents_show(args: argparse.Namespace, datadir: DataDir) -> int:
    row = find_agent(engine(datadir), args.id)
    data = _agent_dict(row)
    if args.json:
        print_json(data)
        return 0
    labels = [
        ("id", _("ID")),
        ("hostname", _("Terminal")),
        ("segment", _("Segment")),
        ("department", _("Department")),
        ("os", _("OS")),
        ("os_version", _("OS version")),
        ("agent_version", _("Agent version")),
        ("enrolled_at", display.header(_("Enrolled"))),
        ("last_seen_at", display.header(_("Last seen"))),
        ("last_seq", _("Last sequence")),
        ("policy_version", _("Policy version")),
        ("status", _("Status")),
        ("cert_serial", _("Certificate serial")),
        ("cert_not_after", display.header(_("Certificate expires"))),
    ]
    if row.superseded_by:  # re-enrolled: where the terminal lives on
        labels += [("superseded_by", _("Replaced by (new ID)")), ("superseded_at", _("Replaced at"))]
    shown = dict(data)
    shown["status"] = _status_label(row)
    for key in ("enrolled_at", "last_seen_at", "cert_not_after", "superseded_at"):
        shown[key] = local(getattr(row, key))
    print(
        render(
            [_("Item"), _("Value")], [[label, str(shown[k] if shown[k] is not None else "-")] for k, label in labels]
        )
    )
    return 0


def cmd_agents_revoke(args: argparse.Namespace, datadir: DataDir) -> int:
    from collector.store import audit, queries

    db = engine(datadir)
    row = find_agent(db, args.id)
    if row.revoked_at:
        raise CliError(_("agent {id} is already revoked").format(id=row.id))
    now = clock.now()
    with db.begin() as conn:
        queries.revoke_agent(conn, row.id, by=actor(args), at=now)
        audit.record(
            conn,
            at=now,
            actor=actor(args),
            action="agent.revoke",
            target=f"agent:{row.id}",
            details={"hostname": row.hostname, "department": row.department, "segment": row.segment},
        )
    print(
        _("Revoked agent {id} ({host}); its connections are closed and refused from now on.").format(
            id=row.id, host=safe(row.hostname)
        )
    )  # the agent chose its host name: no escapes to the terminal
    return 0


def register(sub, common: argparse.ArgumentParser) -> None:
    ag = sub.add_parser("agents", parents=[common], help=_("enrolled agents")).add_subparsers(
        dest="action", required=True
    )
    p = ag.add_parser("list", parents=[common], help=_("list agents"))
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_agents_list)
    p = ag.add_parser("show", parents=[common], help=_("show one agent"))
    p.add_argument("id")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_agents_show)
    p = ag.add_parser("revoke", parents=[common], help=_("revoke an agent's certificate"))
    p.add_argument("id")
    p.add_argument("--by", help=_("name of the staff member (default: login name)"))
    p.set_defaults(func=cmd_agents_revoke)
