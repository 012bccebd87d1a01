"""PAT-001: security updates pending longer than policy (default 30 days; critical ones 14)."""

from collector.rules.base import Clear, Flag, Param, Rule, check, check_fallback, days_since

# Check "patch" evidence: {"pending_security": int, "oldest_pending_since": ISO time,
#   "critical_pending_since": ISO time or absent, "last_refresh": ISO time, "reboot_required_since": ISO time}.


def evaluate(s, params):
    ev = s.evidence
    if ev.get("pending_security") == 0:
        return Clear("no pending security updates", {"pending_security": 0})
    oldest = days_since(ev.get("oldest_pending_since"), s.at)
    critical = days_since(ev.get("critical_pending_since"), s.at)
    if critical is not None and critical > params["critical_days"]:
        return Flag(f"critical update pending {critical:.0f} days", {"pending_security": ev.get("pending_security"),
                    "critical_pending_since": ev.get("critical_pending_since")})
    if oldest is not None and oldest > params["days"]:
        return Flag(f"{ev.get('pending_security', '?')} security updates, oldest {oldest:.0f} days",
                    {"pending_security": ev.get("pending_security"),
                     "oldest_pending_since": ev.get("oldest_pending_since")})
    if oldest is not None:
        return Clear(f"pending updates within policy ({oldest:.0f} days)",
                     {"pending_security": ev.get("pending_security")})
    return check_fallback(s, "patch check failed")


RULE = Rule(
    id="PAT-001",
    title_ja="セキュリティ修正プログラムが期限を超えて未適用",
    title_en="Security updates pending longer than policy",
    severity={"mynumber": "high", "lgwan": "high", "internet": "high"},
    clause_bp=("BP6(6)",), clause_g=("6.6 [?]",),
    evidence_ja="check.result (patch): 未適用のセキュリティ更新と最古の公開日",
    evidence_en="check.result (patch): pending security updates and the oldest one's date",
    remediation_ja="修正プログラムを適用してください (apt / dnf / Windows Update)。",
    remediation_en="Apply the pending updates (apt, dnf, Windows Update).",
    evaluate=evaluate, kinds=("check.result",), check_id="patch", recheck=True,
    params={"days": Param(30, "days a security update may stay pending", 1, 365),
            "critical_days": Param(14, "days a critical update may stay pending", 1, 365)},
)

FLAGS = [check("lgwan", "patch", "fail", {"pending_security": 3, "oldest_pending_since": "2026-09-01T00:00:00Z"}),
         check("lgwan", "patch", "fail", {"pending_security": 1, "oldest_pending_since": "2026-10-10T00:00:00Z",
                                          "critical_pending_since": "2026-10-10T00:00:00Z"})]
PASSES = [check("lgwan", "patch", "pass", {"pending_security": 0}),
          check("lgwan", "patch", "fail", {"pending_security": 2, "oldest_pending_since": "2026-10-25T00:00:00Z"})]
