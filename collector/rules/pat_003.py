"""PAT-003: reboot pending after updates for longer than policy (default 7 days)."""

from collector.rules.base import Clear, Flag, Param, Rule, check, days_since

# Check "patch" evidence: "reboot_required" (bool) and "reboot_required_since" (ISO time).


def evaluate(s, params):
    if s.evidence.get("reboot_required") is False or (
            "reboot_required_since" in s.evidence and s.evidence["reboot_required_since"] is None):
        return Clear("no reboot pending", {"reboot_required": False})
    age = days_since(s.evidence.get("reboot_required_since"), s.at)
    if age is None:
        return None
    if age > params["days"]:
        return Flag(f"reboot pending {age:.0f} days", {"reboot_required_since": s.evidence["reboot_required_since"]})
    return Clear(f"reboot pending {age:.1f} days (within policy)", {"reboot_required_since":
                                                                    s.evidence["reboot_required_since"]})


RULE = Rule(
    id="PAT-003",
    title_ja="更新後の再起動が期限を超えて未実施",
    title_en="Reboot pending after updates longer than policy",
    severity={"mynumber": "medium", "lgwan": "medium", "internet": "medium"},
    clause_bp=("BP6(6)",), clause_g=(),
    evidence_ja="check.result (patch): 再起動要求の発生日時",
    evidence_en="check.result (patch): since when a reboot is required",
    remediation_ja="端末を再起動して更新の適用を完了してください。",
    remediation_en="Reboot the terminal to finish applying the updates.",
    evaluate=evaluate, kinds=("check.result",), check_id="patch", recheck=True,
    params={"days": Param(7, "days a reboot may stay pending", 1, 90)},
)

FLAGS = [check("lgwan", "patch", "pass", {"reboot_required": True, "reboot_required_since": "2026-10-20T00:00:00Z"})]
PASSES = [check("lgwan", "patch", "pass", {"reboot_required": False}),
          check("lgwan", "patch", "pass", {"reboot_required": True, "reboot_required_since": "2026-11-01T00:00:00Z"})]
PASSES.append(check("lgwan", "patch", "pass", {"reboot_required_since": None}))
