"""MED-003: removable storage that is not in the 許可デバイス台帳 used on an LGWAN / internet terminal."""

from collector.rules.base import N_, Flag, Rule, device_label, event, is_storage
from mamori.usbrules import parse_basis

# decided_by names what let the device in (agent/usb/policy.py): "rule N: allow ..." (an allowlist entry
# of the register, USBGuard syntax) or "temporary ID until TIME" (一時許可). Anything else — "mode:audit",
# a default — means the device is not in the register.
# HOOK: when the collector keeps the device approvals register, check the device against it here too.


def evaluate(s, params):
    if s.kind != "usb.allowed" or not is_storage(s.payload):
        return None
    decided_by = str(s.payload.get("decided_by", ""))
    basis = parse_basis(decided_by)
    if (
        basis.kind == "temporary"
        or (basis.kind == "rule" and basis.target == "allow")
        or decided_by.startswith(("allow", "approval:"))
    ):
        return None
    return Flag(
        N_(
            "{device} allowed without an approval (decided by {decided_by})",
            device=device_label(s.payload),
            decided_by=decided_by or "-",
        ),
        {"device": s.payload, "decided_by": decided_by},
    )


RULE = Rule(
    id="MED-003",
    title_text=N_("Removable storage not in the approved-device register used"),
    severity={"lgwan": "high", "internet": "high"},
    clause_bp=("BP6(4)",),
    clause_g=("4.4",),
    evidence_text=N_("usb.allowed events whose deciding rule is not an approved-device entry"),
    remediation_text=N_(
        "Stop using the device; register it as an approved device if needed; set the terminal to allowlist."
    ),
    evaluate=evaluate,
    kinds=("usb.allowed",),
)

_DEV = {"vendor_id": "0781", "product_id": "5581", "serial": "4C53", "interface_classes": ["08:06:50"]}
FLAGS = [event("lgwan", "usb.allowed", {**_DEV, "mode": "audit", "decided_by": "default"})]
FLAGS.append(event("internet", "usb.allowed", {**_DEV, "mode": "audit", "decided_by": "mode:audit"}))
PASSES = [
    event(
        "lgwan", "usb.allowed", {**_DEV, "mode": "allowlist", "decided_by": 'rule 3: allow id 0781:5581 serial "4C53"'}
    ),
    event(
        "lgwan",
        "usb.allowed",
        {**_DEV, "mode": "allowlist", "decided_by": "temporary 12 until 2026-11-30T08:00:00+00:00"},
    ),
    event("internet", "usb.blocked", {**_DEV, "mode": "allowlist", "decided_by": "default"}),
]
