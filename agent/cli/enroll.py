"""`mamori-agent enroll`: obtain this terminal's certificate from a collector with a token."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from agent import host as hostmod
from agent.cli.common import CliError
from agent.config import StateDir
from agent.identity import EnrollmentError, certificate_sha256, enroll
from mamori.i18n import _


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


def register(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("enroll", parents=[common], help=_("enroll this terminal with a collector"))
    p.add_argument("--collector", required=True, help=_("collector enrollment address HOST:PORT"))
    p.add_argument("--token", required=True, help=_("enrollment token from security staff"))
    p.add_argument("--ca-cert", required=True, help=_("the collector's CA certificate file"))
    p.add_argument("--force", action="store_true", help=_("replace an existing enrollment"))
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_enroll)
