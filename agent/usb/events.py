"""The platform-neutral usb.* event body: one device, the decision for it, shared by every OS backend."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agent.usb.policy import Decision
from mamori.usbrules import Device, rule_line


@dataclass
class Tracked:
    """A device a backend sees attached now, with the decision in force for it."""

    device: Device
    decision: Decision
    vendor_name: str


def payload(device: Device, decision: Decision, vendor_name: str = "") -> dict[str, Any]:
    """The UsbDevice event payload (proto/mamori/v1/events.proto)."""
    return {
        "vendor_id": device.vendor_id,
        "product_id": device.product_id,
        "vendor_name": vendor_name,
        "product_name": device.name,
        "serial": device.serial,
        "interface_classes": list(device.interfaces),
        "port": device.port,
        "decided_by": decision.decided_by,
        "mode": decision.mode,
        "rule": rule_line(device),
    }
