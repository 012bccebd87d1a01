"""`mamori-collector forward status`: what waits in the forwarding outbox, per destination, and since when."""

from __future__ import annotations

import argparse

from collector.cli.common import engine, print_json
from collector.config import DataDir
from mamori import clock
from mamori.i18n import _
from mamori.table import render


def _key(destination: str, settings: dict) -> str:
    return settings["forward.syslog" if destination == "syslog" else "alerts.smtp"]


def _target(destination: str, settings: dict) -> str:
    return _key(destination, settings) or _("(off)")


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def cmd_status(args: argparse.Namespace, datadir: DataDir) -> int:
    from collector.forward import outbox
    from collector.store.db import read_only

    settings = datadir.load_settings()
    with read_only(engine(datadir).connect()) as conn:
        rows = outbox.status(conn, clock.now())
    if args.json:
        print_json(
            [
                {
                    "destination": r.destination,
                    "target": _key(r.destination, settings) or None,
                    "depth": r.depth,
                    "oldest_age_seconds": r.oldest_age_seconds,
                    "attempts": r.attempts,
                    "last_error": r.last_error,
                }
                for r in rows
            ]
        )
        return 0
    names = {"syslog": _("Syslog (SIEM)"), "mail": _("Mail alerts")}
    table = [
        [
            names[r.destination],
            _target(r.destination, settings),
            str(r.depth),
            _age(r.oldest_age_seconds),
            str(r.attempts),
            r.last_error or "-",
        ]
        for r in rows
    ]
    print(
        render(
            [_("Destination"), _("Target"), _("Waiting"), _("Oldest (h:mm:ss)"), _("Failed attempts"), _("Last error")],
            table,
            [14, 22, 6, 10, 6, 30],
        )
    )
    return 0


def register(sub, common: argparse.ArgumentParser) -> None:
    fp = sub.add_parser("forward", parents=[common], help=_("forwarding to the SIEM and mail alerts")).add_subparsers(
        dest="action_name", required=True
    )
    p = fp.add_parser("status", parents=[common], help=_("records waiting per destination and the oldest one's age"))
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_status)
