"""MED-006: removable-media control not in force on the terminal (no USB control, guard failed, policy not applied)."""

from collector.rules.base import N_, Clear, Flag, Rule, check, check_fallback

# Reads mamori.evidence.MediaControl (sent by the agent at start and when it changes, agent/usb/state.py):
# active, mode, reason, host.


def evaluate(s, params):
    ev = s.evidence
    if ev.active is False:
        reason = ev.reason or ""
        return Flag(
            N_("removable-media control not in force: {reason}", reason=reason[:400])
            if reason
            else N_("removable-media control not in force (no reason given)"),
            {"active": False, "mode": ev.mode or "", "reason": reason, "host": ev.host or ""},
        )
    if ev.active is True:
        return Clear(
            N_("removable-media control in force (mode {mode})", mode=ev.mode or ""),
            {"active": True, "mode": ev.mode or ""},
        )
    return check_fallback(s, N_("removable-media control state unknown"))


RULE = Rule(
    id="MED-006",
    title_text=N_("Removable-media control not in force on the terminal"),
    severity={"mynumber": "critical", "lgwan": "high", "internet": "high"},
    clause_bp=("BP6(3)①",),
    clause_g=("4.4",),
    evidence_text=N_(
        "check.result (media_control): active or not, mode, reason (no USB control, guard failed, policy not applied)"
    ),
    remediation_text=N_(
        "Remove the reason shown (run the agent as its service with administrator rights on an "
        "OS where it can control USB), restart it, and investigate media use in the meantime."
    ),
    evaluate=evaluate,
    kinds=("check.result",),
    check_id="media_control",
)

_OFF = {"active": False, "mode": "block", "reason": "no USB sysfs (/sys/bus/usb/devices)", "host": "LinuxHost"}
FLAGS = [
    check("mynumber", "media_control", "fail", _OFF),
    check("internet", "media_control", "fail", {**_OFF, "reason": "USB guard failed: OSError"}),
    check("lgwan", "media_control", "fail"),
]
PASSES = [
    check("mynumber", "media_control", "pass", {"active": True, "mode": "block", "reason": ""}),
    check("lgwan", "media_control", "error"),
]
