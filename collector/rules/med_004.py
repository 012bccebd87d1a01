"""MED-004: an approved device used outside its terminal, user or period (一時許可 expired)."""

from collector.rules.base import N_, Flag, Rule, device_label, event
from mamori.usbrules import parse_basis

# The agent's guard reports a registered device it refused (or, in audit mode, let through) because
# its approval does not cover this use with decided_by "approval-expired:<id>", "approval-terminal:<id>"
# or "approval-user:<id>" (UsbDevice has no other field for it). A device let in as
# "temporary ID until TIME" (agent/usb/policy.py) after that time — the terminal's clock or policy lagging —
# is a use outside the period too.
# HOOK: with the approvals register (approved_devices, migration 0003 on main) the collector can also look
# the device up itself: registered for another terminal or user, or its 一時許可 expired.
_OUTSIDE = ("approval-expired:", "approval-terminal:", "approval-user:")


def evaluate(s, params):
    decided_by = str(s.payload.get("decided_by", ""))
    until = parse_basis(decided_by).until
    if decided_by.startswith(_OUTSIDE) or (s.kind == "usb.allowed" and until is not None and s.at > until):
        return Flag(
            N_(
                "{device} used outside its approval (decided by {decided_by})",
                device=device_label(s.payload),
                decided_by=decided_by,
            ),
            {"device": s.payload, "decided_by": decided_by},
        )
    return None


RULE = Rule(
    id="MED-004",
    title_text=N_("Approved device used outside its terminal, user or period"),
    severity={"lgwan": "medium", "internet": "medium"},
    clause_bp=("BP6(4)",),
    clause_g=("4.4",),
    evidence_text=N_("usb.blocked / usb.allowed events judged outside the approval"),
    remediation_text=N_("Check the approval's period and scope; renew it if the use is legitimate."),
    evaluate=evaluate,
    kinds=("usb.blocked", "usb.allowed"),
)

_DEV = {"vendor_id": "0781", "product_id": "5581", "serial": "4C53", "interface_classes": ["08:06:50"]}
FLAGS = [
    event("lgwan", "usb.blocked", {**_DEV, "decided_by": "approval-expired:12"}),
    event("internet", "usb.allowed", {**_DEV, "mode": "audit", "decided_by": "approval-user:12"}),
]
FLAGS.append(event("lgwan", "usb.allowed", {**_DEV, "decided_by": "temporary 7 until 2026-11-01T00:00:00+00:00"}))
PASSES = [
    event("lgwan", "usb.allowed", {**_DEV, "decided_by": "approval:12"}),
    event("lgwan", "usb.allowed", {**_DEV, "decided_by": "temporary 7 until 2026-11-30T00:00:00+00:00"}),
    event("lgwan", "usb.blocked", {**_DEV, "decided_by": "default"}),
]
