"""mamori-agent: enroll this terminal, run the agent, show its state (Japanese by default)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from agent import host as hostmod
from agent.config import StateDir, load_settings
from agent.identity import EnrollmentError, NotEnrolled, certificate_sha256, enroll, load_identity
from mamori import i18n
from mamori.i18n import _
from mamori.table import render
from mamori.tomlconf import ConfigError


class CliError(Exception):
    """Shown to staff as one line with what to do next; exit status 2."""


def cmd_enroll(args: argparse.Namespace, state: StateDir) -> int:
    from agent.spool import Spool

    if state.identity.exists() and not args.force:
        raise CliError(_("this terminal is already enrolled ({path}); use --force to enroll again").format(
            path=state.identity))
    try:
        identity, cert_pem = enroll(state, hostmod.current(), args.collector, args.token, Path(args.ca_cert))
    except EnrollmentError as exc:
        if exc.code in ("PERMISSION_DENIED", "UNAUTHENTICATED"):
            advice = _("Ask security staff for a new token if it was used or expired.")
        elif exc.code in ("UNAVAILABLE", "DEADLINE_EXCEEDED"):
            advice = _("Check the collector address, that the collector is running, and that the CA "
                       "certificate is the collector's.")
        else:
            advice = ""
        raise CliError(_("enrollment failed: {reason}.").format(reason=exc) + " " + advice) from None
    spool = Spool.open(state.spool)
    try:
        spool.append("agent.enrolled", {
            "agent_id": identity.agent_id, "segment": identity.segment, "department": identity.department,
            "collector": f"{identity.collector_host}:{identity.telemetry_port}",
            "certificate_sha256": certificate_sha256(cert_pem),
        })
    finally:
        spool.close()
    if args.json:
        print(json.dumps({"agent_id": identity.agent_id, "segment": identity.segment,
                          "department": identity.department}, ensure_ascii=False))
    else:
        print(_("Enrolled as agent {id} (segment {segment}, department {department}).").format(
            id=identity.agent_id, segment=identity.segment, department=identity.department))
    return 0


def _identity(state: StateDir):
    try:
        return load_identity(state)
    except NotEnrolled as exc:
        raise CliError(_("this terminal is not enrolled ({what}); run `mamori-agent enroll` first").format(
            what=exc)) from None


def cmd_run(args: argparse.Namespace, state: StateDir) -> int:
    from agent.runner import run

    settings = load_settings(state, Path(args.config) if args.config else None)
    logging.getLogger().setLevel(settings["log.level"].upper())
    return run(state, _identity(state), hostmod.current(), settings)


def cmd_status(args: argparse.Namespace, state: StateDir) -> int:
    from agent.policy_cache import PolicyCache
    from agent.spool import Spool

    identity = _identity(state)
    spool = Spool.open(state.spool)
    try:
        depth = spool.depth()
    finally:
        spool.close()
    eff = PolicyCache(state.policy, identity.segment).current
    data = {"agent_id": identity.agent_id, "segment": identity.segment, "department": identity.department,
            "collector": identity.telemetry_target, "spool_depth": depth, "policy_version": eff.version,
            "policy_source": eff.source, "usb_mode": eff.document["usb"]["mode"]}
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return 0
    labels = {"agent_id": _("Agent ID"), "segment": _("Segment"), "department": _("Department"),
              "collector": _("Collector"), "spool_depth": _("Events waiting to be sent"),
              "policy_version": _("Policy version"), "policy_source": _("Policy source"),
              "usb_mode": _("Removable media mode")}
    print(render([_("Item"), _("Value")], [[labels[k], str(v) or "-"] for k, v in data.items()]))
    return 0


def cmd_debug_emit(args: argparse.Namespace, state: StateDir) -> int:
    """Record test events in the spool: staff use it to prove the path to the collector works."""
    from agent.spool import Spool
    from mamori.events import KINDS

    _identity(state)
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


def build_parser() -> argparse.ArgumentParser:
    # Options valid before or after the subcommand; SUPPRESS keeps a subparser from resetting a value
    # given before it to None.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--state-dir", default=argparse.SUPPRESS, help=_("agent state folder (default: per OS)"))
    common.add_argument("--lang", choices=["ja", "en"], default=argparse.SUPPRESS, help=_("language of messages"))
    parser = argparse.ArgumentParser(prog="mamori-agent", parents=[common],
                                     description=_("Mamori endpoint agent"))
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("enroll", parents=[common], help=_("enroll this terminal with a collector"))
    p.add_argument("--collector", required=True, help=_("collector enrollment address HOST:PORT"))
    p.add_argument("--token", required=True, help=_("enrollment token from security staff"))
    p.add_argument("--ca-cert", required=True, help=_("the collector's CA certificate file"))
    p.add_argument("--force", action="store_true", help=_("replace an existing enrollment"))
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_enroll)
    p = sub.add_parser("run", parents=[common], help=_("run the agent in the foreground"))
    p.add_argument("--config", help=_("configuration file (default: agent.toml in the state folder)"))
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("status", parents=[common], help=_("show enrollment, spool and policy"))
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_status)
    dbg = sub.add_parser("debug", parents=[common], help=_("diagnostics")).add_subparsers(
        dest="action", required=True)
    p = dbg.add_parser("emit", parents=[common], help=_("record test events to check delivery"))
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--kind", default="check.result")
    p.add_argument("--severity", choices=["info", "low", "medium", "high", "critical"])
    p.set_defaults(func=cmd_debug_emit)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    i18n.setup(i18n.lang_from_argv(argv))
    args = build_parser().parse_args(argv)
    args.state_dir = getattr(args, "state_dir", None)
    logging.basicConfig(level=logging.INFO if args.command == "run" else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    state = StateDir(Path(args.state_dir).expanduser().resolve() if args.state_dir
                     else hostmod.current().default_state_dir())
    try:
        return args.func(args, state)
    except (CliError, ConfigError) as exc:
        print(_("error: {message}").format(message=exc), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
