"""OPS-001: clock offset above policy (default 60 s) or no time synchronisation."""

from collector.rules.base import N_, Clear, Flag, Rule, check, check_fallback
from mamori.thresholds import PARAMS

# Reads mamori.evidence.TimeSync: synchronised, offset_seconds, service / source.


def evaluate(s, params):
    ev = s.evidence
    if ev.synchronised is False:
        return Flag(N_("no time synchronisation"), {"synchronised": False, "service": ev.service})
    if ev.offset_seconds is not None:
        facts = {"offset_seconds": ev.offset_seconds, "source": ev.source or ev.service or ""}
        if abs(ev.offset_seconds) > params["max_offset_seconds"]:
            return Flag(N_("clock offset {offset:+.1f}s", offset=ev.offset_seconds), facts)
        return Clear(N_("clock offset {offset:+.1f}s", offset=ev.offset_seconds), facts)
    return check_fallback(s, N_("time sync check failed"))


RULE = Rule(
    id="OPS-001",
    title_text=N_("Clock offset above policy or no time sync"),
    severity={"mynumber": "medium", "lgwan": "medium", "internet": "medium"},
    clause_bp=("BP6(7)",),
    clause_g=(),
    evidence_text=N_("check.result (time_sync): synchronised, offset (s), source"),
    remediation_text=N_("Check the NTP / w32time configuration and that the time source is reachable."),
    evaluate=evaluate,
    kinds=("check.result",),
    check_id="time_sync",
    params=PARAMS["OPS-001"],
)

FLAGS = [
    check("lgwan", "time_sync", "fail", {"synchronised": True, "offset_seconds": 125.0, "service": "chrony"}),
    check("lgwan", "time_sync", "fail", {"synchronised": False, "service": "w32time"}),
    check("lgwan", "time_sync", "fail", {"tried": ["chronyc: not found"]}),
]
PASSES = [check("lgwan", "time_sync", "pass", {"synchronised": True, "offset_seconds": -0.004, "service": "chrony"})]
