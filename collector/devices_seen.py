"""Devices seen across terminals (usb.blocked / usb.allowed events): a short reference and the rule to approve each.

The rule line comes from the agent (UsbDevice.rule, what `usbguard generate-policy` writes) and is agent-sent
text, so it is used only when it is printable ASCII, parses, and names exactly the device of the event:
one concrete id equal to the event's, one serial, one name, at most one hash and the interface list.
Anything else falls back to a rule built here from the event's own fields. Location-bound attributes
(parent-hash, via-port, with-connect-type) are dropped: an approval is for the device on any port.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mamori.usbrules import Condition, RuleError, parse_rule, quote

KINDS = ("usb.blocked", "usb.allowed")
MIN_REF = 6
_HEX4 = re.compile(r"^[0-9a-f]{4}$")
_TRIPLE = re.compile(r"^[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}$")
_PORTABLE = ("id", "serial", "name", "hash", "with-interface")


@dataclass(frozen=True)
class SeenDevice:
    ref: str
    vendor_id: str
    product_id: str
    name: str
    serial: str
    rule: str  # the allow rule that approves this device on any port
    agents: tuple[str, ...]  # the terminals it was seen on, first seen first
    count: int
    last_seen: datetime
    last_kind: str  # usb.blocked | usb.allowed
    last_decided_by: str


def _text(payload: dict[str, Any], key: str) -> str:
    value = payload.get(key, "")
    return value if isinstance(value, str) else ""


def approval_rule(payload: dict[str, Any]) -> str | None:
    """The allow rule for the device of one usb.* event payload; None when its id is not usable."""
    vendor, product = _text(payload, "vendor_id").lower(), _text(payload, "product_id").lower()
    if not (_HEX4.match(vendor) and _HEX4.match(product)):
        return None
    from_agent = _checked_agent_rule(_text(payload, "rule"), f"{vendor}:{product}")
    if from_agent:
        return from_agent
    parts = [
        "allow",
        f"id {vendor}:{product}",
        f"serial {quote(_text(payload, 'serial'))}",
        f"name {quote(_text(payload, 'product_name'))}",
    ]
    classes = payload.get("interface_classes") or []
    triples = [c.lower() for c in classes if isinstance(c, str) and _TRIPLE.match(c.lower())]
    if triples and len(triples) == len(classes):
        parts.append(Condition("with-interface", "equals", tuple(triples)).text())
    return " ".join(parts)


def _checked_agent_rule(text: str, device_id: str) -> str | None:
    if not text or len(text) > 4096 or any(not 0x20 <= ord(ch) < 0x7F for ch in text):
        return None
    try:
        rule = parse_rule(text)
    except RuleError:
        return None
    by_name = {c.attribute: c for c in rule.conditions}
    if (
        rule.target != "allow"
        or rule.when
        or set(by_name) - {*_PORTABLE, "parent-hash", "via-port", "with-connect-type"}
    ):
        return None
    for attribute in ("id", "serial", "name", "hash"):
        cond = by_name.get(attribute)
        if cond is None and attribute != "hash":
            return None
        if cond is not None and (cond.operator != "equals" or len(cond.values) != 1):
            return None
    if by_name["id"].values != (device_id,):
        return None
    iface = by_name.get("with-interface")
    if iface is not None and (iface.operator != "equals" or any("*" in v for v in iface.values)):
        return None
    return " ".join(["allow", *(by_name[a].text() for a in _PORTABLE if a in by_name)])


def reference(rule: str) -> str:
    """A device's reference: the start of the SHA-256 of its approval rule (same device, same reference)."""
    return hashlib.sha256(rule.encode()).hexdigest()[:12]


def collect(rows: Iterable[tuple[str, datetime, str, dict[str, Any]]]) -> list[SeenDevice]:
    """(agent_id, occurred_at, kind, payload) rows, oldest first -> one entry per device, latest seen first."""
    acc: dict[str, dict[str, Any]] = {}
    for agent_id, at, kind, payload in rows:
        payload = payload if isinstance(payload, dict) else {}
        rule = approval_rule(payload)
        if rule is None:
            continue
        ref = reference(rule)
        item = acc.setdefault(ref, {"agents": [], "count": 0, "rule": rule, "payload": payload})
        if agent_id not in item["agents"]:
            item["agents"].append(agent_id)
        item.update(count=item["count"] + 1, last_seen=at, kind=kind, payload=payload)
    out = [
        SeenDevice(
            ref,
            _text(i["payload"], "vendor_id").lower(),
            _text(i["payload"], "product_id").lower(),
            _text(i["payload"], "product_name"),
            _text(i["payload"], "serial"),
            i["rule"],
            tuple(i["agents"]),
            i["count"],
            i["last_seen"],
            i["kind"],
            _text(i["payload"], "decided_by"),
        )
        for ref, i in acc.items()
    ]
    return sorted(out, key=lambda d: d.last_seen, reverse=True)


class AmbiguousRef(LookupError):
    def __init__(self, ref: str, matches: list[str]):
        self.ref, self.matches = ref, matches
        super().__init__(ref)


def find(devices: Iterable[SeenDevice], ref: str) -> SeenDevice | None:
    """By full reference or a unique prefix of at least MIN_REF characters."""
    ref = ref.strip().lower()
    if len(ref) < MIN_REF:
        return None
    hits = [d for d in devices if d.ref.startswith(ref)]
    if len(hits) > 1:
        raise AmbiguousRef(ref, [d.ref for d in hits])
    return hits[0] if hits else None
