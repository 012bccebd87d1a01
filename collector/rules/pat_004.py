"""PAT-004: operating system past its end of support."""

from collector.rules.base import Clear, Flag, Rule, check, check_fallback, parse_time

# Check "os_support" evidence: {"os": "Windows 10 22H2", "end_of_support": "2025-10-14"}.


def evaluate(s, params):
    eos = parse_time(s.evidence.get("end_of_support"))
    if eos is not None:
        detail = f"{s.evidence.get('os', 'OS')} end of support {s.evidence['end_of_support']}"
        return Flag(detail, dict(s.evidence)) if s.at >= eos else Clear(detail, dict(s.evidence))
    return check_fallback(s, "operating system not supported")


RULE = Rule(
    id="PAT-004",
    title_ja="サポートが終了したOSを使用",
    title_en="Operating system past end of support",
    severity={"mynumber": "high", "lgwan": "high", "internet": "high"},
    clause_bp=("BP6(6)",), clause_g=("6.6",),
    evidence_ja="check.result (os_support): OS 名とサポート終了日",
    evidence_en="check.result (os_support): OS name and end-of-support date",
    remediation_ja="サポート中のOSへ更新するか、端末を更改してください。",
    remediation_en="Upgrade to a supported operating system or replace the terminal.",
    evaluate=evaluate, kinds=("check.result",), check_id="os_support", recheck=True,
)

FLAGS = [check("lgwan", "os_support", "fail", {"os": "Windows 10 22H2", "end_of_support": "2025-10-14"}),
         check("lgwan", "os_support", "fail")]
PASSES = [check("lgwan", "os_support", "pass", {"os": "Debian 12", "end_of_support": "2028-06-30"})]
