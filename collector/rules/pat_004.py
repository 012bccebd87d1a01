"""PAT-004: operating system past its end of support."""

from collector.rules.base import N_, Clear, Flag, Rule, check, check_fallback, parse_time

# Reads mamori.evidence.OsSupport: release and end_of_support (ISO date).


def evaluate(s, params):
    ev = s.evidence
    eos = parse_time(ev.end_of_support)
    if eos is not None:
        detail = N_("{release} end of support {date}", release=ev.release or "OS", date=ev.end_of_support)
        facts = {"release": ev.release, "end_of_support": ev.end_of_support}
        return Flag(detail, facts) if s.at >= eos else Clear(detail, facts)
    return check_fallback(s, N_("operating system not supported"))


RULE = Rule(
    id="PAT-004",
    title_text=N_("Operating system past end of support"),
    severity={"mynumber": "high", "lgwan": "high", "internet": "high"},
    clause_bp=("BP6(6)",),
    clause_g=("6.6",),
    evidence_text=N_("check.result (os_support): OS name and end-of-support date"),
    remediation_text=N_("Upgrade to a supported operating system or replace the terminal."),
    evaluate=evaluate,
    kinds=("check.result",),
    check_id="os_support",
    recheck=True,
)

FLAGS = [
    check("lgwan", "os_support", "fail", {"release": "Windows 10 22H2", "end_of_support": "2025-10-14"}),
    check("lgwan", "os_support", "fail"),
]
PASSES = [check("lgwan", "os_support", "pass", {"release": "Debian 12", "end_of_support": "2028-06-30"})]
