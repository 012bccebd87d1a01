"""PAT-001: security updates pending longer than policy (default 30 days; critical ones 14)."""

from collector.rules.base import N_, Clear, Flag, Rule, aged, check
from mamori.thresholds import PARAMS

# Reads mamori.evidence.Patch: pending_security (capped list), pending_security_count, oldest_security_days,
# oldest_critical_days (ages when reported; the scheduler adds the time since).


def evaluate(s, params):
    ev = s.evidence
    if ev.pending_security is None:
        return None  # the check could not list updates: nothing to judge (its other findings are PAT-002/003's)
    pending = ev.pending_security_count if ev.pending_security_count is not None else len(ev.pending_security)
    if pending == 0:
        return Clear(N_("no pending security updates"), {"pending_security": 0})
    oldest, critical = aged(ev.oldest_security_days, s), aged(ev.oldest_critical_days, s)
    if critical is not None and critical > params["critical_days"]:
        return Flag(
            N_("{pending} security updates, a critical one pending {days} days", pending=pending, days=round(critical)),
            {"pending_security": pending, "oldest_critical_days": round(critical, 1)},
        )
    if oldest is not None and oldest > params["days"]:
        return Flag(
            N_("{pending} security updates, oldest {days} days", pending=pending, days=round(oldest)),
            {"pending_security": pending, "oldest_days": round(oldest, 1)},
        )
    if oldest is not None:
        return Clear(
            N_("{pending} pending updates within policy ({days} days)", pending=pending, days=round(oldest)),
            {"pending_security": pending},
        )
    return None


RULE = Rule(
    id="PAT-001",
    title_text=N_("Security updates pending longer than policy"),
    severity={"mynumber": "high", "lgwan": "high", "internet": "high"},
    clause_bp=("BP6(6)",),
    clause_g=("6.6",),
    evidence_text=N_("check.result (patch): pending security updates and the oldest one's date"),
    remediation_text=N_("Apply the pending updates (apt, dnf, Windows Update)."),
    evaluate=evaluate,
    kinds=("check.result",),
    check_id="patch",
    recheck=True,
    params=PARAMS["PAT-001"],
)

_CRITICAL = [{"name": "openssl", "critical": True, "age_days": 20.0}]
FLAGS = [
    check(
        "lgwan",
        "patch",
        "fail",
        {
            "backend": "apt",
            "pending_security": [{"name": "openssl"}],
            "pending_security_count": 1,
            "oldest_security_days": 41.5,
        },
    ),
    check(
        "lgwan",
        "patch",
        "fail",
        {
            "backend": "dnf",
            "pending_security": _CRITICAL,
            "pending_security_count": 1,
            "oldest_security_days": 20.0,
            "oldest_critical_days": 20.0,
        },
    ),
]
PASSES = [
    check("lgwan", "patch", "pass", {"backend": "apt", "pending_security": [], "pending_security_count": 0}),
    check(
        "lgwan",
        "patch",
        "pass",
        {
            "backend": "apt",
            "pending_security": [{"name": "openssl"}],
            "pending_security_count": 1,
            "oldest_security_days": 8.0,
        },
    ),
    check("lgwan", "patch", "error", {"error": "apt-get failed"}),
]
