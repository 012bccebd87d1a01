"""PAT-002: package lists / update source not refreshed within policy (default 7 days)."""

from collector.rules.base import N_, Clear, Flag, Rule, check, days_since
from mamori.thresholds import PARAMS

# Reads mamori.evidence.Patch: source_refreshed (since when the update information is current: apt lists or
# a stale security mirror, dnf metadata, the last Windows Update search), never_refreshed, and (apt)
# security_source_configured.


def evaluate(s, params):
    ev = s.evidence
    if ev.security_source_configured is False:  # no …-security suite: security updates never arrive at all
        return Flag(N_("no security update source configured"), {"security_source_configured": False})
    if ev.never_refreshed is True:
        return Flag(N_("update source never refreshed"), {"source_refreshed": None})
    age = days_since(ev.source_refreshed, s.at)
    if age is None:
        return None
    if age > params["days"]:
        return Flag(
            N_("update source last refreshed {days} days ago", days=round(age)),
            {"source_refreshed": ev.source_refreshed},
        )
    return Clear(
        N_("update source last refreshed {days} days ago", days=round(age, 1)),
        {"source_refreshed": ev.source_refreshed},
    )


RULE = Rule(
    id="PAT-002",
    title_text=N_("Package lists / update source not refreshed within policy"),
    severity={"mynumber": "medium", "lgwan": "medium", "internet": "medium"},
    clause_bp=("BP6(6)",),
    clause_g=(),
    evidence_text=N_("check.result (patch): time of the last update-source refresh"),
    remediation_text=N_("Check the connection to the update source (WSUS, apt mirror) and the update timer."),
    evaluate=evaluate,
    kinds=("check.result",),
    check_id="patch",
    recheck=True,
    params=PARAMS["PAT-002"],
)

FLAGS = [
    check("internet", "patch", "pass", {"backend": "apt", "source_refreshed": "2026-10-01T00:00:00+00:00"}),
    check("lgwan", "patch", "fail", {"backend": "dnf", "never_refreshed": True}),
    check(
        "lgwan",
        "patch",
        "fail",
        {"backend": "apt", "security_source_configured": False, "source_refreshed": "2026-11-01T00:00:00+00:00"},
    ),
]
PASSES = [
    check("internet", "patch", "pass", {"backend": "windows_update", "source_refreshed": "2026-11-01T00:00:00+00:00"}),
    check("internet", "patch", "error", {"error": "dnf failed"}),
]
