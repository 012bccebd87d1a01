"""NET-002: a マイナンバー系 terminal can reach a destination outside its segment (isolation probe succeeded)."""

from collector.rules.base import N_, Clear, Flag, Rule, check

# Reads mamori.evidence.NetworkSegment.probes: [{"target": "203.0.113.1:443", "result": "connected" | "refused" |
# "timeout" | ...}].


def evaluate(s, params):
    probes = [p for p in s.evidence.probes or [] if isinstance(p, dict)]
    if not probes:
        return None
    reached = [p for p in probes if p.get("result") == "connected"]
    if reached:
        targets = ", ".join(str(p.get("target")) for p in reached)
        return Flag(N_("isolated targets reachable: {targets}", targets=targets), {"reachable": reached})
    return Clear(N_("all {count} isolation probes failed as required", count=len(probes)), {"probes": len(probes)})


RULE = Rule(
    id="NET-002",
    title_text=N_("My Number terminal can reach a destination outside its segment"),
    severity={"mynumber": "critical"},
    clause_bp=("BP6(3)①",),
    clause_g=(),
    evidence_text=N_("check.result (network_segment): isolation probe targets and whether they answered"),
    remediation_text=N_("Check routing and firewalls at once and cut every path to other segments."),
    evaluate=evaluate,
    kinds=("check.result",),
    check_id="network_segment",
)

FLAGS = [check("mynumber", "network_segment", "fail", {"probes": [{"target": "10.20.0.1:443", "result": "connected"}]})]
PASSES = [
    check("mynumber", "network_segment", "pass", {"probes": [{"target": "10.20.0.1:443", "result": "timeout"}]}),
    check("internet", "network_segment", "fail", {"probes": [{"target": "198.51.100.1:443", "result": "connected"}]}),
]
