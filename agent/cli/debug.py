"""`mamori-agent debug emit`: record test events to prove the path to the collector."""

from __future__ import annotations

import argparse

from agent.cli.common import CliError, ask_agent, identity, not_running
from agent.config import StateDir
from mamori.i18n import _
from mamori.labels import SEVERITIES


def _offline(args: argparse.Namespace, state: StateDir) -> None:
    """Into the spool of a stopped agent, under its run lock: the spool still has one writer at a time."""
    from agent.host import runlock
    from agent.spool import Spool

    lock = runlock.acquire(state.run_lock)
    if lock is None:
        raise CliError(_("the agent is running on {folder}: emit without --offline").format(folder=state.root))
    try:
        payload = {"check_result": {"check_id": "mamori.test_event", "status": "pass", "summary": "test event"}}
        from mamori.events import KINDS

        body = payload.get(KINDS[args.kind].payload_field, {})
        with Spool.open(state.spool) as spool:
            spool.append_many([(args.kind, body, args.severity)] * args.count)
    finally:
        lock.release()


def cmd_debug_emit(args: argparse.Namespace, state: StateDir) -> int:
    """Test events for the running agent to send: staff use it to prove the path to the collector works."""
    from agent.control.client import NotRunning
    from agent.control.protocol import MAX_EMIT, EmitRequest
    from mamori.events import KINDS

    identity(state)
    spec = KINDS.get(args.kind)
    if spec is None or spec.collector_only or args.kind.startswith(("spool.", "agent.")):
        raise CliError(_("cannot emit events of kind {kind}").format(kind=args.kind))
    if not 1 <= args.count <= MAX_EMIT:
        raise CliError(_("--count must be 1 to {most}").format(most=MAX_EMIT))
    if args.offline:
        _offline(args, state)
        print(_("Recorded {count} test events; they are sent when the agent starts.").format(count=args.count))
        return 0
    try:
        reply = ask_agent(state, EmitRequest(args.kind, args.count, args.severity))
    except NotRunning:
        raise CliError(
            not_running(state) + _("; nothing was recorded (--offline records into the spool for its next start)")
        ) from None
    print(_("Recorded {count} test events.").format(count=reply.recorded))
    return 0


def register(sub, common: argparse.ArgumentParser) -> None:
    dbg = sub.add_parser("debug", parents=[common], help=_("diagnostics")).add_subparsers(dest="action", required=True)
    p = dbg.add_parser("emit", parents=[common], help=_("have the running agent record test events to check delivery"))
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--kind", default="check.result")
    p.add_argument("--severity", choices=SEVERITIES)
    p.add_argument(
        "--offline", action="store_true", help=_("the agent is stopped: record into its spool, sent at its next start")
    )
    p.set_defaults(func=cmd_debug_emit)
