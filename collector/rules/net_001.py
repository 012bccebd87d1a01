"""NET-001: host firewall disabled."""

from collector.rules.base import N_, Clear, Flag, Rule, check, check_fallback

# Reads mamori.evidence.Firewall: enabled (incoming traffic denied by default), profiles (Windows).


def evaluate(s, params):
    enabled = s.evidence.enabled
    if enabled is False:
        return Flag(N_("host firewall disabled"), {"enabled": False, "profiles": s.evidence.profiles or {}})
    if enabled is True:
        return Clear(N_("host firewall enabled"), {"enabled": True})
    return check_fallback(s, N_("firewall check failed"))


RULE = Rule(
    id="NET-001",
    title_text=N_("Host firewall disabled"),
    severity={"mynumber": "medium", "lgwan": "medium", "internet": "medium"},
    clause_bp=("BP6(6)",),
    clause_g=("6.5",),
    evidence_text=N_("check.result (firewall): enabled, profiles"),
    remediation_text=N_("Enable the host firewall (Windows Defender Firewall, nftables)."),
    evaluate=evaluate,
    kinds=("check.result",),
    check_id="firewall",
)

FLAGS = [check("internet", "firewall", "fail", {"enabled": False})]
PASSES = [check("internet", "firewall", "pass", {"enabled": True}), check("internet", "firewall", "error")]
