"""MED-001: removable storage attached and not blocked on a マイナンバー利用事務系 terminal."""

from collector.rules.base import N_, Flag, Rule, device_label, event, is_storage


def evaluate(s, params):
    if not is_storage(s.payload):
        return None
    # usb.allowed always means it was let through; usb.attached reports the mode in force.
    if s.kind == "usb.allowed" or (s.kind == "usb.attached" and s.payload.get("mode", "block") != "block"):
        return Flag(
            N_("{device} allowed in mode {mode}", device=device_label(s.payload), mode=s.payload.get("mode", "")),
            {"device": s.payload, "decided_by": s.payload.get("decided_by", "")},
        )
    return None


RULE = Rule(
    id="MED-001",
    title_text=N_("Removable storage not blocked on a My Number terminal"),
    severity={"mynumber": "critical"},
    clause_bp=("BP6(3)①",),
    clause_g=("4.4",),
    evidence_text=N_("usb.attached / usb.allowed events (device, deciding rule, mode)"),
    remediation_text=N_(
        "Remove the device, confirm the terminal enforces mode block, and investigate any data taken out."
    ),
    evaluate=evaluate,
    kinds=("usb.attached", "usb.allowed"),
)

STORAGE = {"vendor_id": "0781", "product_id": "5581", "product_name": "Cruzer", "interface_classes": ["08:06:50"]}
FLAGS = [
    event("mynumber", "usb.allowed", {**STORAGE, "mode": "audit", "decided_by": "default"}),
    event("mynumber", "usb.attached", {**STORAGE, "mode": "read_only"}),
]
PASSES = [
    event("mynumber", "usb.blocked", {**STORAGE, "mode": "block"}),
    event("mynumber", "usb.attached", {**STORAGE, "mode": "block"}),
    event("mynumber", "usb.allowed", {"vendor_id": "046d", "interface_classes": ["03:01:01"]}),
]
