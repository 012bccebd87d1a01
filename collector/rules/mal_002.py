"""MAL-002: malware signatures (パターンファイル) older than policy (default 3 days)."""

from collector.rules.base import N_, Clear, Flag, Rule, aged, check
from mamori.thresholds import PARAMS

# Reads mamori.evidence.Antivirus.signature_age_days (ClamAV's daily database, Defender's AntivirusSignatureAge).


def evaluate(s, params):
    age = aged(s.evidence.signature_age_days, s)
    if age is None:
        return None
    facts = {"signature_age_days": round(age, 1)}
    if age > params["days"]:
        return Flag(N_("signatures {days} days old", days=round(age)), facts)
    return Clear(N_("signatures {days} days old", days=round(age, 1)), facts)


RULE = Rule(
    id="MAL-002",
    title_text=N_("Malware signatures older than policy"),
    severity={"mynumber": "medium", "lgwan": "medium", "internet": "medium"},
    clause_bp=("BP6(6)",),
    clause_g=("6.4",),
    evidence_text=N_("check.result (antivirus): time of the signature update"),
    remediation_text=N_("Check the signature distribution path and update the signatures."),
    evaluate=evaluate,
    kinds=("check.result",),
    check_id="antivirus",
    recheck=True,
    params=PARAMS["MAL-002"],
)

FLAGS = [check("lgwan", "antivirus", "fail", {"product": "ClamAV", "running": True, "signature_age_days": 9.0})]
PASSES = [
    check("lgwan", "antivirus", "pass", {"product": "Microsoft Defender", "signature_age_days": 0}),
    check("lgwan", "antivirus", "fail", {"installed": False}),
]
