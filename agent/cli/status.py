"""`mamori-agent status`: enrollment, spool depth and policy at a glance."""

from __future__ import annotations

import argparse
import json

from agent.cli.common import identity
from agent.config import StateDir
from mamori.i18n import _
from mamori.table import render


def cmd_status(args: argparse.Namespace, state: StateDir) -> int:
    from agent.policy_cache import PolicyCache
    from agent.spool import Spool

    ident = identity(state)
    spool = Spool.open(state.spool)
    try:
        depth = spool.depth()
    finally:
        spool.close()
    eff = PolicyCache(state.policy, ident.segment).current
    data = {"agent_id": ident.agent_id, "segment": ident.segment, "department": ident.department,
            "collector": ident.telemetry_target, "spool_depth": depth, "policy_version": eff.version,
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


def register(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("status", parents=[common], help=_("show enrollment, spool and policy"))
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_status)
