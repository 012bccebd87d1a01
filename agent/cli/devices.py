"""`mamori-agent devices`: the USB devices attached now, the decision of the policy in force and a rule line each.

Like `usbguard list-devices` and `generate-policy`: the rule line is USBGuard's (its hash and parent-hash),
so it can go into a USBGuard rules file or `mamori-collector devices import`. An unenrolled terminal, or one
whose cached policy is not in force, is shown under the strictest policy, which is what it enforces.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from agent.cli.common import CliError
from agent.config import StateDir
from agent.usb.policy import compile_usb, decide
from mamori import clock
from mamori import policy as policy_doc
from mamori.i18n import _
from mamori.safetext import safe
from mamori.table import render
from mamori.usbconditions import Context
from mamori.usbrules import rule_line


def _policy_in_force(state: StateDir) -> tuple[dict[str, Any], str]:
    """(policy document, its source) as the agent enforces it; strictest when not enrolled or not trusted."""
    from agent.cli.status import _enforced
    from agent.identity import NotEnrolled, load_identity
    from agent.policy_cache import PolicyCache

    try:
        segment = load_identity(state).segment
    except NotEnrolled:
        return policy_doc.strictest(""), "strictest"
    source = _enforced(state, segment, {})["policy_source"]
    if source == "strictest":
        return policy_doc.strictest(segment), source
    return PolicyCache(state.policy, segment).current.document, source


def collect(state: StateDir, sysfs_root: Path) -> dict[str, Any]:
    from agent.host import attached_usb

    try:
        attached = attached_usb(sysfs_root)
    except FileNotFoundError as exc:
        message = _("no USB devices folder under {root} (is this Linux with sysfs?)")
        raise CliError(message.format(root=exc.filename)) from None
    document, source = _policy_in_force(state)
    usb = compile_usb(document)
    now = clock.now()
    decided = [(d, decide(d, usb, now)) for d in attached]
    allowed = [d for d, dec in decided if dec.device_allowed]
    # allowed-matches() sees the devices this listing allows (the guard's view of what is attached).
    ctx = Context(now=now, present=lambda: allowed)
    out = []
    for device, decision in decided:
        rule = next((r for r in usb.rules if r.matches(device, ctx)), None)
        out.append(
            {
                "port": device.port,
                "id": device.id,
                "name": device.name,
                "serial": device.serial,
                "interfaces": list(device.interface_types or device.interfaces),
                "hash": device.hash,
                "parent_hash": device.parent_hash,
                "storage": decision.storage,
                "device_allowed": decision.device_allowed,
                "decided_by": decision.decided_by,
                "matching_rule": rule.label() if rule else "",
                "rule": rule_line(device),
            }
        )
    return {"policy_source": source, "usb_mode": usb.mode, "devices": out}


def cmd_devices(args: argparse.Namespace, state: StateDir) -> int:
    data = collect(state, Path(args.sysfs_root))
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
    p.add_argument("--sysfs-root", default="/", help=_("read sysfs below this folder, e.g. a copy (default: /)"))
    p.set_defaults(func=cmd_devices)
