"""AUT-003: screen lock off, or its timeout above policy (default 10 minutes)."""

from collector.rules.base import N_, Clear, Flag, Rule, check, check_fallback
from mamori.thresholds import PARAMS

# Reads mamori.evidence.ScreenLock: enabled, timeout_seconds (0: never locks), enforced.


def evaluate(s, params):
    ev = s.evidence
    enabled, timeout = ev.enabled, ev.timeout_seconds
    limit = params["max_minutes"] * 60
    if enabled is False:
        return Flag(N_("screen lock disabled"), {"enabled": False})
    if ev.enforced is False:  # a lock staff can switch off is no control
        return Flag(N_("screen lock can be changed by staff"), {"enforced": False, "timeout_seconds": timeout})
    if timeout is not None and enabled is not None:
        if timeout <= 0 or timeout > limit:
            return Flag(
                N_("screen lock after {timeout:g}s (policy {limit}s)", timeout=timeout, limit=limit),
                {"timeout_seconds": timeout},
            )
        return Clear(N_("screen lock after {timeout:g}s", timeout=timeout), {"timeout_seconds": timeout})
    return check_fallback(s, N_("screen lock check failed"))


RULE = Rule(
    id="AUT-003",
    title_text=N_("Screen lock off or timeout above policy"),
    severity={"mynumber": "medium", "lgwan": "medium", "internet": "medium"},
    clause_bp=("BP6(4)", "BP6(6)"),
    clause_g=("6.2",),
    evidence_text=N_("check.result (screen_lock): enabled, timeout"),
    remediation_text=N_("Enable the screen lock with a timeout within policy (default 10 minutes)."),
    evaluate=evaluate,
    kinds=("check.result",),
    check_id="screen_lock",
    params=PARAMS["AUT-003"],
)

FLAGS = [
    check("lgwan", "screen_lock", "fail", {"enabled": False}),
    check("lgwan", "screen_lock", "pass", {"enabled": True, "timeout_seconds": 1800, "enforced": True}),
]
PASSES = [check("lgwan", "screen_lock", "pass", {"enabled": True, "timeout_seconds": 300, "enforced": True})]
