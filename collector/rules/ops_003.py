"""OPS-003: a gap in an agent's event sequence, spool overflow or corruption, or agent / policy tampering."""

from collector.rules.base import Flag, Rule, event


def evaluate(s, params):
    p = s.payload
    if s.kind == "sequence.gap":
        detail = f"events {p.get('first_missing')}..{p.get('last_missing')} missing"
    elif s.kind == "spool.overflow":
        detail = f"spool overflow: {p.get('dropped', '?')} events dropped"
    elif s.kind == "spool.corrupt":
        detail = f"spool corrupt: {p.get('error', '')}"
    else:
        detail = f"tamper: {p.get('what', '?')} {p.get('detail', '')}".strip()
    return Flag(detail, {"kind": s.kind, **p})


RULE = Rule(
    id="OPS-003",
    title_ja="イベントの欠落、スプール溢れ、またはエージェント・ポリシーの改ざん",
    title_en="Event sequence gap, spool overflow, or agent/policy tampering",
    severity={"mynumber": "high", "lgwan": "high", "internet": "high"},
    clause_bp=("BP6(7)",), clause_g=("7.1",),
    evidence_ja="sequence.gap (収集サーバが記録)、spool.overflow、spool.corrupt、agent.tamper イベント",
    evidence_en="sequence.gap (recorded by the collector), spool.overflow, spool.corrupt, agent.tamper events",
    remediation_ja="端末のエージェントとログを調査し、改ざんの有無を確認してください。",
    remediation_en="Examine the terminal's agent and logs for tampering.",
    evaluate=evaluate, kinds=("sequence.gap", "spool.overflow", "spool.corrupt", "agent.tamper"),
)

FLAGS = [event("lgwan", "sequence.gap", {"first_missing": 5, "last_missing": 9}),
         event("mynumber", "agent.tamper", {"what": "policy_cache", "detail": "signature mismatch"}),
         event("internet", "spool.overflow", {"dropped": 120, "capacity": 100000})]
PASSES = [event("lgwan", "agent.started", {"previous_exit": "clean"})]
