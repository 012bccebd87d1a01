"""PAT-001: security updates pending longer than policy (default 30 days; critical ones 14)."""

from collector.rules.base import Clear, Flag, Param, Rule, aged, check, check_fallback, days_since

# Check "patch" evidence: {"pending_security": [updates, capped at 100] (or a count), "pending_security_count": int,
#   "oldest_security_days": float (or "oldest_pending_since": ISO time), "oldest_critical_days": float or None}.


def evaluate(s, params):
    ev = s.evidence
    pending = ev.get("pending_security")
    if pending == 0 or pending == []:
        return Clear("no pending security updates", {"pending_security": 0})
    if isinstance(pending, list):  # the patch check: a list of updates (capped), the count beside it
        pending = ev.get("pending_security_count", len(pending))
    oldest = days_since(ev.get("oldest_pending_since"), s.at)
    if oldest is None:
        oldest = aged(ev.get("oldest_security_days"), s)
    critical = aged(ev.get("oldest_critical_days"), s)
    if critical is not None and critical > params["critical_days"]:
        return Flag(f"{pending} security updates, a critical one pending {critical:.0f} days",
                    {"pending_security": pending, "oldest_critical_days": round(critical, 1)})
    if oldest is not None and oldest > params["days"]:
        return Flag(f"{pending} security updates, oldest {oldest:.0f} days",
                    {"pending_security": pending, "oldest_days": round(oldest, 1)})
    if oldest is not None:
        return Clear(f"pending updates within policy ({oldest:.0f} days)",
                     {"pending_security": pending})
    return check_fallback(s, "patch check failed")


RULE = Rule(
    id="PAT-001",
    title_ja="セキュリティ修正プログラムが期限を超えて未適用",
    title_en="Security updates pending longer than policy",
    severity={"mynumber": "high", "lgwan": "high", "internet": "high"},
    clause_bp=("BP6(6)",), clause_g=("6.6",),
    evidence_ja="check.result (patch): 未適用のセキュリティ更新と最古の公開日",
    evidence_en="check.result (patch): pending security updates and the oldest one's date",
    remediation_ja="修正プログラムを適用してください (apt / dnf / Windows Update)。",
    remediation_en="Apply the pending updates (apt, dnf, Windows Update).",
    evaluate=evaluate, kinds=("check.result",), check_id="patch", recheck=True,
    params={"days": Param(30, "days a security update may stay pending", 1, 365),
            "critical_days": Param(14, "days a critical update may stay pending", 1, 365)},
)

FLAGS = [check("lgwan", "patch", "fail", {"pending_security": 3, "oldest_pending_since": "2026-09-01T00:00:00Z"}),
         check("lgwan", "patch", "fail", {"pending_security": [{"name": "openssl", "critical": True}],
                                          "oldest_security_days": 20.0, "oldest_critical_days": 20.0})]
PASSES = [check("lgwan", "patch", "pass", {"pending_security": 0}),
          check("lgwan", "patch", "fail", {"pending_security": 2, "oldest_pending_since": "2026-10-25T00:00:00Z"})]
# As the patch check reports it (apt backend): a list of updates and the oldest one's age.
FLAGS.append(check("lgwan", "patch", "fail", {"backend": "apt", "pending_security": [{"name": "openssl"}],
                                              "oldest_security_days": 41.5}))
PASSES.append(check("lgwan", "patch", "pass", {"backend": "apt", "pending_security": [], "oldest_security_days": None}))
