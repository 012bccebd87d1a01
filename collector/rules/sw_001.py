"""SW-001: software outside the permitted list installed (無許可ソフトウェア)."""

from collector.rules.base import N_, Clear, Flag, Rule, check, check_fallback
from mamori.thresholds import PARAMS

# Reads mamori.evidence.Software: forbidden, not_permitted, allowlist_enforced.


def evaluate(s, params):
    ev = s.evidence
    if ev.forbidden is None and ev.not_permitted is None:
        return check_fallback(s, N_("software check failed"))
    # Forbidden names always count; names outside the permitted list only when the agent enforced one
    # (the same `permitted` parameter, pushed to it in the policy).
    found = [str(x.get("name")) for x in ev.forbidden or [] if isinstance(x, dict)]
    if ev.allowlist_enforced:
        found += [str(x) for x in ev.not_permitted or []]
    found = sorted(set(found))
    if found:
        return Flag(N_("unauthorised software: {names}", names=", ".join(found)[:200]), {"unauthorised": found})
    return Clear(N_("no unauthorised software"), {"unauthorised": []})


RULE = Rule(
    id="SW-001",
    title_text=N_("Unauthorised software installed"),
    severity={"mynumber": "high", "lgwan": "high", "internet": "high"},
    clause_bp=("BP3(2)",),
    clause_g=("6.1",),
    evidence_text=N_("check.result (software): names outside the permitted list"),
    remediation_text=N_("Remove the software, or have it approved and added to the permitted list."),
    evaluate=evaluate,
    kinds=("check.result",),
    check_id="software",
    params=PARAMS["SW-001"],
)

FLAGS = [
    check(
        "internet",
        "software",
        "fail",
        {
            "installed": 812,
            "forbidden": [{"name": "dropbox", "version": "1.0", "pattern": "dropbox*"}],
            "not_permitted": [],
            "allowlist_enforced": False,
        },
    ),
    check(
        "internet",
        "software",
        "fail",
        {"installed": 812, "forbidden": [], "not_permitted": ["vim"], "allowlist_enforced": True},
    ),
]
PASSES = [
    check(
        "internet",
        "software",
        "pass",
        {"installed": 812, "forbidden": [], "not_permitted": [], "allowlist_enforced": False},
    )
]
