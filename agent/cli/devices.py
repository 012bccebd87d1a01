"""`mamori-agent devices`: the USB devices attached now, the decision of the policy in force and a rule line each.

Like `usbguard list-devices` and `generate-policy`: the rule line is USBGuard's (its hash and parent-hash),
so it can go into a USBGuard rules file or `mamori-collector devices import`. An unenrolled terminal, or one
whose cached policy is not in force, is shown under the strictest policy, which is what it enforces.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from agent.cli.common import CliError, ask_agent, not_running
from agent.config import StateDir
from mamori import policy as policy_doc
from mamori.i18n import _
from mamori.safetext import safe
from mamori.table import render


def _policy_in_force(state: StateDir) -> tuple[dict[str, Any], str]:
    """(policy document, its source) as the agent enforces it; strictest when not enrolled or not trusted."""
    from agent.cli.status import _enforced
    from agent.identity import NotEnrolled, load_identity
    from agent.policy_cache import PolicyCache

    try:
        segment = load_identity(state).segment
    except NotEnrolled:
        return policy_doc.strictest(""), "strictest"
    source = _enforced(state, segment)["policy_source"]
    if source == "strictest":
        return policy_doc.strictest(segment), source
    return PolicyCache(state.policy, segment).current.document, source


def collect(state: StateDir, sysfs_root: Path | None) -> dict[str, Any]:
    """From the running agent (its policy in force, its view of sysfs); with sysfs_root, from a copy on disk."""
    from agent.control.client import NotRunning
    from agent.control.protocol import DevicesRequest
    from agent.usb.listing import NoSysfs, listing

    if sysfs_root is None:
        try:
            return asdict(ask_agent(state, DevicesRequest()))
        except NotRunning:
            raise CliError(not_running(state) + _("; --sysfs-root / lists the devices without it")) from None
    document, source = _policy_in_force(state)
    try:
        return asdict(listing(document, source, sysfs_root))
    except NoSysfs as exc:
        raise CliError(_("no USB devices folder under {root} (is this Linux with sysfs?)").format(root=exc)) from None


def cmd_devices(args: argparse.Namespace, state: StateDir) -> int:
    data = collect(state, Path(args.sysfs_root) if args.sysfs_root else None)
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return 0
    verdicts = {"allow": _("allowed"), "block": _("blocked"), "read_only": _("read-only")}
    print(
        _("Removable media mode: {mode} (policy: {source})").format(mode=data["usb_mode"], source=data["policy_source"])
    )
    if not data["devices"]:
        print(_("No USB device is attached."))
        return 0
    print(
        render(
            [_("Port"), _("Device"), _("Serial"), _("Storage"), _("Decided by")],
            [
                [
                    d["port"],
                    safe(f"{d['id']} {d['name']}"),
                    safe(d["serial"]),
                    verdicts.get(d["storage"], ""),
                    safe(d["decided_by"]),
                ]
                for d in data["devices"]
            ],
            [8, 30, 20, 10, 40],
        )
    )
    print()
    print(_("Rule lines (USBGuard language, for `mamori-collector devices import`):"))
    for d in data["devices"]:
        print(d["rule"])
    return 0


def register(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "devices",
        parents=[common],
        help=_("list the attached USB devices, the decision for each and a ready rule line"),
    )
    p.add_argument("--json", action="store_true")
    p.add_argument(
        "--sysfs-root",
        help=_(
            "read sysfs below this folder, e.g. a copy, instead of asking the running agent (/: this machine's own)"
        ),
    )
    p.set_defaults(func=cmd_devices)
