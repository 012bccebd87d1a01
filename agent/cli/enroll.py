"""`mamori-agent enroll`: obtain this terminal's certificate from a collector with a token."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from agent import host as hostmod
from agent.cli.common import CliError
from agent.config import StateDir
from agent.identity import EnrollmentError, NotEnrolled, certificate_sha256, enroll, load_identity
from mamori.i18n import _


def cmd_enroll(args: argparse.Namespace, state: StateDir) -> int:
    from agent import reenroll
    from agent.spool import Spool

    if state.identity.exists() and not args.force:
        raise CliError(
            _("this terminal is already enrolled ({path}); use --force to enroll again").format(path=state.identity)
        )
    try:
        previous = load_identity(state).agent_id
    except NotEnrolled:
        previous = ""
    if previous:
        # Claim the spool for the old id before it changes, so a spool from before owner files still re-stamps.
        with Spool.open(state.spool) as spool:
            reenroll.adopt(spool, state.spool, previous)
    try:
        identity, cert_pem = enroll(
            state, hostmod.current(), args.collector, args.token, Path(args.ca_cert), previous_agent_id=previous
        )
    except EnrollmentError as exc:
        if exc.code in ("PERMISSION_DENIED", "UNAUTHENTICATED"):
            advice = _("Ask security staff for a new token if it was used or expired.")
        elif exc.code == "RESOURCE_EXHAUSTED":
            advice = _(
                "Too many failed attempts from this terminal's address: wait about ten minutes, then "
                "enroll with a valid token."
            )
        elif exc.code in ("UNAVAILABLE", "DEADLINE_EXCEEDED"):
            advice = _(
                "Check the collector address, that the collector is running, and that the CA "
                "certificate is the collector's."
            )
        else:
            advice = ""
        raise CliError(_("enrollment failed: {reason}.").format(reason=exc) + " " + advice) from None
    spool = Spool.open(state.spool)
    try:
        # Unsent events of the old id move into the new id's sequence, ahead of agent.enrolled (README).
        reenroll.adopt(spool, state.spool, identity.agent_id)
        spool.append(
            "agent.enrolled",
            {
                "agent_id": identity.agent_id,
                "segment": identity.segment,
                "department": identity.department,
                "collector": f"{identity.collector_host}:{identity.telemetry_port}",
                "certificate_sha256": certificate_sha256(cert_pem),
            },
        )
    finally:
        spool.close()
    if args.json:
        print(
            json.dumps(
                {
                    "agent_id": identity.agent_id,
                    "segment": identity.segment,
                    "department": identity.department,
                    "previous_agent_id": previous or None,
                    "restart_required": bool(previous),
                },
                ensure_ascii=False,
            )
        )
    else:
        print(
            _("Enrolled as agent {id} (segment {segment}, department {department}).").format(
                id=identity.agent_id, segment=identity.segment, department=identity.department
            )
        )
    if previous:
        # The running service still holds the old identity and its check state: only a restart puts the
        # new one fully in force (and sends its full posture). With --json on stderr, so stdout stays parseable.
        print(
            _(
                "This terminal was enrolled before as {old}. Restart the agent service so the new enrollment "
                "takes effect (as root or administrator: mamori-agent service stop, then mamori-agent service "
                "start)."
            ).format(old=previous),
            file=sys.stderr if args.json else sys.stdout,
        )
    return 0


def register(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("enroll", parents=[common], help=_("enroll this terminal with a collector"))
    p.add_argument("--collector", required=True, help=_("collector enrollment address HOST:PORT"))
    p.add_argument("--token", required=True, help=_("enrollment token from security staff"))
    p.add_argument("--ca-cert", required=True, help=_("the collector's CA certificate file"))
    p.add_argument("--force", action="store_true", help=_("replace an existing enrollment"))
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_enroll)
