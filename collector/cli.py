"""mamori-collector: the security staff's command line (Japanese by default, --lang en for English)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import os
import shutil
import sys
from datetime import UTC, datetime
from typing import Any

from collector import pki
from collector.config import DataDir, render_config, resolve_data_dir
from mamori import i18n
from mamori.durations import parse_duration
from mamori.i18n import _
from mamori.keys import write_private
from mamori.policy import SEGMENTS
from mamori.table import render
from mamori.tomlconf import ConfigError, host_port


class CliError(Exception):
    """An error shown to staff as one line, with what to do next; exit status 2."""


def _actor(args: argparse.Namespace) -> str:
    return getattr(args, "by", None) or os.environ.get("SUDO_USER") or getpass.getuser()


def _local(ts: datetime | None) -> str:
    return ts.astimezone().strftime("%Y-%m-%d %H:%M:%S") if ts else "-"


def _iso(ts: datetime | None) -> str | None:
    return ts.astimezone(UTC).isoformat() if ts else None


def _print_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True))


def _engine(datadir: DataDir):
    from collector.store.db import make_engine

    return make_engine(datadir.database_url(datadir.load_settings()))


# ---- init ---------------------------------------------------------------------------------------


def cmd_init(args: argparse.Namespace, datadir: DataDir) -> int:
    from collector.store.db import upgrade

    hosts = [h.strip() for h in args.host.split(",") if h.strip()]
    if not hosts:
        raise CliError(_("--host needs at least one host name or address"))
    for addr in filter(None, (args.listen, args.enroll_listen)):
        if host_port(addr):
            raise CliError(_("invalid address {addr}: use HOST:PORT").format(addr=addr))
    if datadir.root.exists() and any(datadir.root.iterdir()):
        raise CliError(_("{path} is already initialised; nothing was changed").format(path=datadir.root))
    # Build everything in a sibling folder and rename it into place, so a failure leaves nothing behind.
    staging = DataDir(datadir.root.with_name(datadir.root.name + ".init-tmp"))
    shutil.rmtree(staging.root, ignore_errors=True)
    staging.root.mkdir(parents=True, mode=0o700)
    try:
        ca_key, ca_cert = pki.create_ca()
        server_key, server_cert = pki.issue_server_cert(ca_key, ca_cert, hosts)
        values: dict[str, Any] = {"pki.hosts": hosts}
        if args.listen:
            values["server.listen"] = args.listen
            if not args.enroll_listen:
                host, _sep, port = args.listen.rpartition(":")
                values["server.enroll_listen"] = f"{host}:{int(port) + 1}" if int(port) else f"{host}:0"
        if args.enroll_listen:
            values["server.enroll_listen"] = args.enroll_listen
        if args.database_url:
            values["database.url"] = args.database_url
        write_private(staging.ca_key, ca_key)
        staging.ca_cert.write_bytes(ca_cert)
        write_private(staging.server_key, server_key)
        staging.server_cert.write_bytes(server_cert)
        staging.config.write_text(render_config(values), encoding="utf-8")
        upgrade(staging.database_url(staging.load_settings()))
        if datadir.root.exists():
            datadir.root.rmdir()
        staging.root.rename(datadir.root)
    except BaseException:
        shutil.rmtree(staging.root, ignore_errors=True)
        raise
    print(_("Initialised collector data folder {path}").format(path=datadir.root))
    print(_("  CA certificate for agents: {path}").format(path=datadir.ca_cert))
    print(_("  configuration:             {path}").format(path=datadir.config))
    print(_("Next: mamori-collector token create --segment lgwan --department NAME, then serve"))
    return 0


# ---- tokens -------------------------------------------------------------------------------------


def cmd_token_create(args: argparse.Namespace, datadir: DataDir) -> int:
    from collector.store import queries

    if args.uses < 1:
        raise CliError(_("--uses must be 1 or more"))
    try:
        lifetime = parse_duration(args.expires)
    except ValueError:
        raise CliError(_("invalid --expires {value}: use e.g. 30m, 24h or 7d").format(value=args.expires)) from None
    engine = _engine(datadir)
    token = pki.new_token()
    now = datetime.now(UTC)
    queries.create_token(
        engine, token_hash=pki.hash_token(token), segment=args.segment, department=args.department,
        uses=args.uses, expires_at=now + lifetime, created_by=_actor(args), created_at=now,
    )
    if args.json:
        _print_json({"token": token, "segment": args.segment, "department": args.department,
                     "uses": args.uses, "expires_at": _iso(now + lifetime)})
    else:
        print(token)
        print(_("segment {segment}, department {department}, uses {uses}, expires {expires}").format(
            segment=args.segment, department=args.department, uses=args.uses, expires=_local(now + lifetime)),
            file=sys.stderr)
    return 0


# ---- serve --------------------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace, datadir: DataDir) -> int:
    from collector.server import serve
    from collector.store.db import upgrade

    settings = datadir.load_settings()
    if args.listen:
        settings["server.listen"] = args.listen
    if args.enroll_listen:
        settings["server.enroll_listen"] = args.enroll_listen
    upgrade(datadir.database_url(settings))  # a new release's migrations apply on start
    asyncio.run(serve(datadir, settings))
    return 0


# ---- agents -------------------------------------------------------------------------------------


def _agent_dict(row) -> dict[str, Any]:
    return {
        "id": row.id, "hostname": row.hostname, "segment": row.segment, "department": row.department,
        "os": row.os, "os_version": row.os_version, "agent_version": row.agent_version,
        "enrolled_at": _iso(row.enrolled_at), "last_seen_at": _iso(row.last_seen_at),
        "last_seq": row.last_seq, "policy_version": row.policy_version,
        "status": "revoked" if row.revoked_at else "active", "revoked_at": _iso(row.revoked_at),
        "revoked_by": row.revoked_by, "cert_serial": row.cert_serial,
        "cert_not_after": _iso(row.cert_not_after),
    }


def _status_label(row) -> str:
    return _("revoked") if row.revoked_at else _("active")


def cmd_agents_list(args: argparse.Namespace, datadir: DataDir) -> int:
    from collector.store import queries

    rows = queries.list_agents(_engine(datadir))
    if args.json:
        _print_json([_agent_dict(r) for r in rows])
        return 0
    if not rows:
        print(_("No agents enrolled yet. Create a token with `mamori-collector token create`."))
        return 0
    headers = [_("ID"), _("Terminal"), _("Segment"), _("Department"), _("Last seen"), _("Status")]
    table = [[r.id[:8], r.hostname, r.segment, r.department, _local(r.last_seen_at), _status_label(r)]
             for r in rows]
    print(render(headers, table, [8, 16, 8, 12, 19, 8]))
    return 0


def _find_agent(engine, agent_id: str):
    from collector.store import queries

    try:
        row = queries.get_agent(engine, agent_id)
    except queries.AmbiguousId:
        raise CliError(_("{id} matches several agents; give more of the ID").format(id=agent_id)) from None
    if row is None:
        raise CliError(_("no agent {id}; see `mamori-collector agents list`").format(id=agent_id))
    return row


def cmd_agents_show(args: argparse.Namespace, datadir: DataDir) -> int:
    row = _find_agent(_engine(datadir), args.id)
    data = _agent_dict(row)
    if args.json:
        _print_json(data)
        return 0
    labels = [
        ("id", _("ID")), ("hostname", _("Terminal")), ("segment", _("Segment")),
        ("department", _("Department")), ("os", _("OS")), ("os_version", _("OS version")),
        ("agent_version", _("Agent version")), ("enrolled_at", _("Enrolled")),
        ("last_seen_at", _("Last seen")), ("last_seq", _("Last sequence")),
        ("policy_version", _("Policy version")), ("status", _("Status")),
        ("cert_serial", _("Certificate serial")), ("cert_not_after", _("Certificate expires")),
    ]
    shown = dict(data)
    shown["status"] = _status_label(row)
    for key in ("enrolled_at", "last_seen_at", "cert_not_after"):
        shown[key] = _local(getattr(row, key))
    print(render([_("Item"), _("Value")], [[label, str(shown[k] if shown[k] is not None else "-")]
                                             for k, label in labels]))
    return 0


def cmd_agents_revoke(args: argparse.Namespace, datadir: DataDir) -> int:
    from collector.store import queries

    engine = _engine(datadir)
    row = _find_agent(engine, args.id)
    if row.revoked_at:
        raise CliError(_("agent {id} is already revoked").format(id=row.id))
    queries.revoke_agent(engine, row.id, by=_actor(args), at=datetime.now(UTC))
    print(_("Revoked agent {id} ({host}); its connections are closed and refused from now on.").format(
        id=row.id, host=row.hostname))
    return 0


# ---- events -------------------------------------------------------------------------------------


def _summary(payload: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in payload.items() if v not in ("", [], 0, None))


def cmd_events_list(args: argparse.Namespace, datadir: DataDir) -> int:
    from collector.store import queries

    engine = _engine(datadir)
    agent_id = _find_agent(engine, args.agent).id if args.agent else None
    since = None
    if args.since:
        try:
            since = datetime.now(UTC) - parse_duration(args.since)
        except ValueError:
            raise CliError(_("invalid --since {value}: use e.g. 30m, 1h or 7d").format(value=args.since)) from None
    if args.limit < 1:
        raise CliError(_("--limit must be 1 or more"))
    rows = queries.list_events(engine, agent_id=agent_id, kind=args.kind, since=since, limit=args.limit)
    if args.json:
        _print_json([
            {"event_id": r.event_id, "agent_id": r.agent_id, "seq": r.seq, "kind": r.kind,
             "severity": r.severity, "occurred_at": _iso(r.occurred_at), "received_at": _iso(r.received_at),
             "payload": r.payload}
            for r in rows
        ])
        return 0
    if not rows:
        print(_("No events match."))
        return 0
    headers = [_("Time"), _("Agent"), _("Seq"), _("Kind"), _("Severity"), _("Details")]
    table = [[_local(r.occurred_at), r.agent_id[:8], str(r.seq if r.seq is not None else "-"), r.kind,
              r.severity, _summary(r.payload)] for r in rows]
    print(render(headers, table, [19, 8, 6, 14, 8, 14]))
    return 0


# ---- parser -------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    # Options valid before or after the subcommand; SUPPRESS keeps a subparser from resetting a value
    # given before it to None.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", default=argparse.SUPPRESS,
                        help=_("collector data folder (default: $MAMORI_DATA_DIR)"))
    common.add_argument("--lang", choices=["ja", "en"], default=argparse.SUPPRESS, help=_("language of messages"))
    parser = argparse.ArgumentParser(prog="mamori-collector", parents=[common],
                                     description=_("Mamori collector: agents, events and enrollment"))
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("init", parents=[common], help=_("create a data folder, CA and database"))
    p.add_argument("--host", required=True, help=_("host names/addresses for the server certificate"))
    p.add_argument("--listen", help=_("telemetry address HOST:PORT (default 0.0.0.0:7443)"))
    p.add_argument("--enroll-listen", help=_("enrollment address HOST:PORT (default: telemetry port + 1)"))
    p.add_argument("--database-url", help=_("PostgreSQL URL instead of the embedded SQLite"))
    p.set_defaults(func=cmd_init)

    tok = sub.add_parser("token", parents=[common], help=_("enrollment tokens")).add_subparsers(
        dest="action", required=True)
    p = tok.add_parser("create", parents=[common], help=_("create an enrollment token"))
    p.add_argument("--segment", required=True, choices=SEGMENTS)
    p.add_argument("--department", required=True, help=_("department (所属) of the terminals"))
    p.add_argument("--uses", type=int, default=1, help=_("how many enrollments the token allows"))
    p.add_argument("--expires", default="24h", help=_("lifetime, e.g. 24h or 7d"))
    p.add_argument("--by", help=_("name of the staff member (default: login name)"))
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_token_create)

    p = sub.add_parser("serve", parents=[common], help=_("run the collector"))
    p.add_argument("--listen", help=_("override server.listen"))
    p.add_argument("--enroll-listen", help=_("override server.enroll_listen"))
    p.set_defaults(func=cmd_serve)

    ag = sub.add_parser("agents", parents=[common], help=_("enrolled agents")).add_subparsers(
        dest="action", required=True)
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

    evp = sub.add_parser("events", parents=[common], help=_("stored events")).add_subparsers(
        dest="action", required=True)
    p = evp.add_parser("list", parents=[common], help=_("list events, newest first"))
    p.add_argument("--agent", help=_("agent ID (or its first 8+ characters)"))
    p.add_argument("--kind", help=_("event kind, e.g. usb.blocked"))
    p.add_argument("--since", help=_("only events newer than this, e.g. 1h"))
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_events_list)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    i18n.setup(i18n.lang_from_argv(argv))
    args = build_parser().parse_args(argv)
    args.data_dir = getattr(args, "data_dir", None)
    logging.basicConfig(level=logging.INFO if args.command == "serve" else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        datadir = resolve_data_dir(args.data_dir)
        return args.func(args, datadir)
    except (CliError, ConfigError) as exc:
        print(_("error: {message}").format(message=exc), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
