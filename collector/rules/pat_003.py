"""PAT-003: reboot pending after updates for longer than policy (default 7 days)."""

from collector.rules.base import N_, Clear, Flag, Rule, check, days_since
from mamori.thresholds import PARAMS

# Reads mamori.evidence.Patch: reboot_required and reboot_required_since (every backend).


def evaluate(s, params):
    ev = s.evidence
    if ev.reboot_required is False:
        return Clear(N_("no reboot pending"), {"reboot_required": False})
    age = days_since(ev.reboot_required_since, s.at)
    if age is None:
        return None
    facts = {"reboot_required_since": ev.reboot_required_since}
    if age > params["days"]:
        return Flag(N_("reboot pending {days} days", days=round(age)), facts)
    return Clear(N_("reboot pending {days} days (within policy)", days=round(age, 1)), facts)


RULE = Rule(
    id="PAT-003",
    title_text=N_("Reboot pending after updates longer than policy"),
    severity={"mynumber": "medium", "lgwan": "medium", "internet": "medium"},
    clause_bp=("BP6(6)",),
    clause_g=(),
    evidence_text=N_("check.result (patch): since when a reboot is required"),
    remediation_text=N_("Reboot the terminal to finish applying the updates."),
    evaluate=evaluate,
    kinds=("check.result",),
    check_id="patch",
    recheck=True,
    params=PARAMS["PAT-003"],
)

FLAGS = [check("lgwan", "patch", "pass", {"reboot_required": True, "reboot_required_since": "2026-10-20T00:00:00Z"})]
PASSES = [
    check("lgwan", "patch", "pass", {"reboot_required": False}),
    check("lgwan", "patch", "pass", {"reboot_required": True, "reboot_required_since": "2026-11-01T00:00:00Z"}),
]
