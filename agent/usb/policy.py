"""The media decision: a device descriptor and the policy in force -> allow, block or read-only per interface."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mamori import clock
from mamori import policy as policy_doc
from mamori.usbconditions import Context, RuleHistory
from mamori.usbrules import Device, Rule, RuleError, RuleErrors, first_match, parse_rule, temporary_basis

# Interface classes that carry removable storage: mass storage (SD readers and optical drives too)
# and still image (PTP/MTP, the WPD devices of Windows). Everything else - HID, smart card, hub, audio,
# video, communications - is never touched, so a composite device loses only its storage interface.
STORAGE_CLASSES = frozenset({"08", "06"})

# Interfaces that make a network adapter: CDC ECM/NCM/MBIM and EEM, RNDIS (as communications, wireless
# controller or miscellaneous class). Vendor-class adapters are caught when their netdev appears (guard backstop).
NETWORK_CLASSES = ("02:06:", "02:0c:", "02:0d:", "02:0e:", "02:02:ff", "e0:01:03", "ef:04:01")

ALLOW, BLOCK, READ_ONLY = "allow", "block", "read_only"


@dataclass(frozen=True)
class Temporary:
    """A 一時許可: one serial number allowed until a moment, for a stated reason."""

    id: str
    serial: str
    until: datetime
    reason: str = ""
    vendor_id: str = ""
    product_id: str = ""

    def covers(self, device: Device, now: datetime) -> bool:
        return (
            now < self.until
            and device.serial == self.serial
            and bool(self.serial)
            and (not self.vendor_id or self.vendor_id == device.vendor_id)
            and (not self.product_id or self.product_id == device.product_id)
        )


@dataclass(frozen=True)
class UsbPolicy:
    """The usb part of a policy document, compiled: mode, approved-device rules, temporary permissions."""

    mode: str
    rules: tuple[Rule, ...] = ()
    temporary: tuple[Temporary, ...] = ()
    network: str = "block"  # usb.network: block | audit
    # When each rule was last evaluated/applied in this process: USBGuard's rule-applied / rule-evaluated.
    history: RuleHistory = field(default_factory=RuleHistory, compare=False, repr=False)

    def next_expiry(self, now: datetime) -> datetime | None:
        """When the next still-valid temporary permission runs out (the guard re-decides then)."""
        pending = [t.until for t in self.temporary if t.until > now]
        return min(pending) if pending else None


@dataclass(frozen=True)
class Decision:
    """What to do with a device: one verdict per interface and the rule (or default) that decided."""

    storage: str  # allow | block | read_only - the verdict for the storage interfaces
    decided_by: str
    mode: str
    interfaces: tuple[tuple[str, str], ...]  # (interface class triple, verdict)
    # Triples of other classes that the running kernel's storage drivers would still claim (unusual_devs).
    kernel_storage: frozenset[str] = frozenset()
    network: str = "audit"  # usb.network in force: block refuses network interfaces

    @property
    def network_refused(self) -> bool:
        return self.network == BLOCK and any(is_network(i) for i, _ in self.interfaces)

    def stores(self, interface: str) -> bool:
        return is_storage(interface) or interface in self.kernel_storage

    @property
    def has_storage(self) -> bool:
        return any(self.stores(i) for i, _ in self.interfaces)

    @property
    def event_kind(self) -> str:
        """usb.blocked when storage (or a device whose interfaces are unknown) is refused, else usb.allowed."""
        refused = self.storage == BLOCK and (self.has_storage or not self.interfaces)
        return "usb.blocked" if refused or self.network_refused else "usb.allowed"

    @property
    def device_allowed(self) -> bool:
        """The device itself is authorized unless every interface it has is refused."""
        if not self.interfaces:
            return True  # nothing known yet: each interface is judged by its configured class (guard)
        return any(verdict != BLOCK for _, verdict in self.interfaces)


def is_storage(interface: str) -> bool:
    return interface[:2].lower() in STORAGE_CLASSES


def is_network(interface: str) -> bool:
    return interface.lower().startswith(NETWORK_CLASSES)


def parse_until(value: str) -> datetime:
    when = datetime.fromisoformat(value)
    if when.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone")
    return when.astimezone(UTC)


def compile_usb(document: dict[str, Any]) -> UsbPolicy:
    """Compile a validated policy document's usb part; a bad rule raises PolicyError (the policy is refused)."""
    usb = document.get("usb", {})
    rules: list[Rule] = []
    errors: list[RuleError] = []
    for number, text in enumerate(usb.get("allow", []), start=1):
        try:
            rules.append(parse_rule(text, number))
        except RuleError as exc:
            errors.append(exc)
    if errors:
        raise policy_doc.PolicyError(f"usb.allow: {RuleErrors(errors)}")
    temporary = tuple(
        Temporary(
            str(t["id"]),
            t["serial"],
            parse_until(t["until"]),
            t.get("reason", ""),
            t.get("vendor_id", "").lower(),
            t.get("product_id", "").lower(),
        )
        for t in usb.get("temporary", [])
    )
    return UsbPolicy(usb.get("mode", "block"), tuple(rules), temporary, policy_doc.usb_network(document))


def strictest() -> UsbPolicy:
    return UsbPolicy("block")


def decide(
    device: Device, pol: UsbPolicy, now: datetime | None = None, kernel_storage: frozenset[str] = frozenset()
) -> Decision:
    """Decide for one device; pure, so every mode and rule combination is tested without hardware.

    kernel_storage: interface triples the running kernel's storage drivers would bind (agent/host/linux/modalias).
    """
    now = now or clock.now()
    mode = pol.mode if pol.mode in policy_doc.USB_MODES else "block"
    storage, decided_by = _storage_verdict(device, pol, mode, now)
    stored = frozenset(kernel_storage)
    network = BLOCK if pol.network == BLOCK else "audit"

    def verdict(i: str) -> str:
        if is_storage(i) or i in stored:
            return storage
        return BLOCK if network == BLOCK and is_network(i) else ALLOW

    verdicts = tuple((i, verdict(i)) for i in device.interfaces)
    decision = Decision(storage, decided_by, mode, verdicts, stored, network)
    if decision.network_refused and not (decision.has_storage and storage == BLOCK):
        return Decision(storage, "usb.network: block", mode, verdicts, stored, network)
    return decision


def _storage_verdict(device: Device, pol: UsbPolicy, mode: str, now: datetime) -> tuple[str, str]:
    granted = READ_ONLY if mode == "read_only" else ALLOW
    for temp in pol.temporary:
        if temp.covers(device, now):
            return granted, temporary_basis(temp.id, temp.until)
    if mode == "block":
        return BLOCK, "mode:block"
    rule = first_match(pol.rules, device, Context(now=now, history=pol.history))
    if mode == "audit":
        return ALLOW, rule.label() if rule else "mode:audit"
    if rule is None:
        return BLOCK, f"mode:{mode} (no rule matched)"
    if rule.target == "allow":
        return granted, rule.label()
    return BLOCK, rule.label()
