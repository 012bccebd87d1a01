"""`mamori-agent debug emit`: record test events to prove the path to the collector."""

from __future__ import annotations

import argparse

from agent.cli.common import CliError, identity
from agent.config import StateDir
from mamori.i18n import _
from mamori.labels import SEVERITIES


def cmd_debug_emit(args: argparse.Namespace, state: StateDir) -> int:
    """Record test events in the spool: staff use it to prove the path to the collector works."""
    from agent.spool import Spool
    from mamori.events import KINDS

    identity(state)
    spec = KINDS.get(args.kind)
    if spec is None or spec.collector_only or args.kind.startswith(("spool.", "agent.")):
        raise CliError(_("cannot emit events of kind {kind}").format(kind=args.kind))
    payload = {"check_result": {"check_id": "mamori.test_event", "status": "pass", "summary": "test event"}}
    spool = Spool.open(state.spool)
    try:
        spool.append_many([(args.kind, payload.get(spec.payload_field, {}), args.severity)] * args.count)
    finally:
        spool.close()
    print(_("Recorded {count} test events.").format(count=args.count))
    return 0


def register(sub, common: argparse.ArgumentParser) -> None:
    dbg = sub.add_parser("debug", parents=[common], help=_("diagnostics")).add_subparsers(
        dest="action", required=True)
    p = dbg.add_parser("emit", parents=[common], help=_("record test events to check delivery"))
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--kind", default="check.result")
    p.add_argument("--severity", choices=SEVERITIES)
    p.set_defaults(func=cmd_debug_emit)
