"""OPS-001: clock offset above policy (default 60 s) or no time synchronisation."""

from collector.rules.base import Clear, Flag, Param, Rule, check, check_fallback

# Check "time_sync" evidence: {"synchronised": bool, "offset_seconds": float, "source": str}.


def evaluate(s, params):
    synced = s.evidence.get("synchronised", s.evidence.get("synchronized"))
    offset = s.evidence.get("offset_seconds")
    if synced is False:
        return Flag("no time synchronisation", {"synchronized": False})
    if isinstance(offset, int | float):
        facts = {"offset_seconds": offset, "source": s.evidence.get("source", "")}
        if abs(offset) > params["max_offset_seconds"]:
            return Flag(f"clock offset {offset:+.1f}s", facts)
        return Clear(f"clock offset {offset:+.1f}s", facts)
    return check_fallback(s, "time sync check failed")


RULE = Rule(
    id="OPS-001",
    title_ja="時刻同期がされていない、または時刻のずれがポリシーを超えている",
    title_en="Clock offset above policy or no time sync",
    severity={"mynumber": "medium", "lgwan": "medium", "internet": "medium"},
    clause_bp=("BP6(7)",), clause_g=(),
    evidence_ja="check.result (time_sync): 同期状態、ずれ (秒)、時刻源",
    evidence_en="check.result (time_sync): synchronised, offset (s), source",
    remediation_ja="時刻同期 (NTP / w32time) の設定と時刻源への到達性を確認してください。",
    remediation_en="Check the NTP / w32time configuration and that the time source is reachable.",
    evaluate=evaluate, kinds=("check.result",), check_id="time_sync",
    params={"max_offset_seconds": Param(60.0, "largest allowed clock offset, seconds", 0.1, 3600)},
)

FLAGS = [check("lgwan", "time_sync", "fail", {"synchronized": True, "offset_seconds": 125.0}),
         check("lgwan", "time_sync", "fail", {"synchronized": False})]
PASSES = [check("lgwan", "time_sync", "pass", {"synchronized": True, "offset_seconds": 0.2})]
FLAGS.append(check("lgwan", "time_sync", "fail", {"synchronised": False, "offset_seconds": None}))
PASSES.append(check("lgwan", "time_sync", "pass", {"synchronised": True, "offset_seconds": -0.004}))
