"""MED-005: a device blocked (attempted use of unapproved media); escalated when repeated."""

from collector.rules.base import N_, Flag, Param, Rule, device_label, event


def evaluate(s, params):
    # The fact provider counts this agent's usb.blocked events in the window, this one included.
    recent = int(s.facts.get("recent_blocks", 1))
    escalate = recent >= params["escalate_count"]
    return Flag(
        N_(
            "{device} blocked ({count} times in {hours} h)",
            device=device_label(s.payload),
            count=f"{recent}{'+' if escalate else ''}",
            hours=params["window_hours"],
        ),
        {"device": s.payload, "recent_blocks": recent},
        severity="high" if escalate else None,
    )


RULE = Rule(
    id="MED-005",
    title_text=N_("Attempted use of unapproved media (device blocked)"),
    severity={"mynumber": "medium", "lgwan": "medium", "internet": "medium"},
    clause_bp=("BP3(2)",),
    clause_g=("4.4",),
    evidence_text=N_("usb.blocked events (severity raised to high when repeated)"),
    remediation_text=N_("Talk to the user; if the device is needed for work, have it registered."),
    evaluate=evaluate,
    kinds=("usb.blocked",),
    facts=("recent_blocks",),
    params={
        "escalate_count": Param(3, "blocks within the window that raise the severity to high", 1, 1000),
        "window_hours": Param(24, "window for counting repeated blocks, in hours", 1, 24 * 30),
    },
)

_DEV = {"vendor_id": "0781", "product_id": "5581", "interface_classes": ["08:06:50"], "mode": "block"}
FLAGS = [event("lgwan", "usb.blocked", _DEV), event("mynumber", "usb.blocked", _DEV, facts={"recent_blocks": 3})]
PASSES = [event("lgwan", "usb.allowed", {**_DEV, "mode": "allowlist", "decided_by": "allow id 0781:5581"})]
