"""The attached USB devices with the decision of a policy for each and USBGuard's rule line (`mamori-agent devices`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agent.control.protocol import DeviceRow, DevicesReply
from agent.usb.policy import compile_usb, decide
from mamori import clock
from mamori.usbconditions import Context
from mamori.usbrules import rule_line


class NoSysfs(Exception):
    """No USB devices folder under the root: not Linux, or sysfs not mounted."""


def listing(document: dict[str, Any], source: str, sysfs_root: Path) -> DevicesReply:
    from agent.host import attached_usb

    try:
        attached = attached_usb(sysfs_root)
    except FileNotFoundError as exc:
        raise NoSysfs(str(exc.filename)) from None
    usb = compile_usb(document)
    now = clock.now()
    decided = [(d, decide(d, usb, now)) for d in attached]
    allowed = [d for d, dec in decided if dec.device_allowed]
    # allowed-matches() sees the devices this listing allows (the guard's view of what is attached).
    ctx = Context(now=now, present=lambda: allowed)
    rows = []
    for device, decision in decided:
        rule = next((r for r in usb.rules if r.matches(device, ctx)), None)
        rows.append(
            DeviceRow(
                port=device.port,
                id=device.id,
                name=device.name,
                serial=device.serial,
                interfaces=[str(i) for i in (device.interface_types or device.interfaces)],
                hash=device.hash,
                parent_hash=device.parent_hash,
                storage=decision.storage,
                device_allowed=decision.device_allowed,
                decided_by=decision.decided_by,
                matching_rule=rule.label() if rule else "",
                rule=rule_line(device),
            )
        )
    return DevicesReply(policy_source=source, usb_mode=usb.mode, devices=rows)
