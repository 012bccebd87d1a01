"""AUT-001: terminal logon does not require a second factor (PAM stack / Windows logon) on マイナンバー系."""

from collector.rules.base import Clear, Flag, Rule, check, check_fallback

# Check "mfa" evidence: {"local_mfa": bool, "methods": [...], "remote_logon_enabled": bool, "remote_mfa": bool}.


def evaluate(s, params):
    local = s.evidence.get("local_mfa")
    if local is False:
        return Flag("local logon without a second factor", {"methods": s.evidence.get("methods", [])})
    if local is True:
        return Clear("local logon requires a second factor", {"methods": s.evidence.get("methods", [])})
    return check_fallback(s, "MFA check failed")


RULE = Rule(
    id="AUT-001",
    title_ja="端末のログオンに多要素認証が設定されていない",
    title_en="Terminal logon does not require multi-factor authentication",
    severity={"mynumber": "critical"},
    clause_bp=("BP6(3)①",), clause_g=(),
    evidence_ja="check.result (mfa): PAM スタック / Windows ログオン設定",
    evidence_en="check.result (mfa): PAM stack / Windows logon configuration",
    remediation_ja=("ICカード・生体認証など多要素認証をログオンに必須化してください"
                    " (pam_u2f, pam_pkcs11, Windows Hello for Business 等)。"),
    remediation_en="Require a second factor at logon (pam_u2f, pam_pkcs11, Windows Hello for Business, smart card).",
    evaluate=evaluate, kinds=("check.result",), check_id="mfa",
)

FLAGS = [check("mynumber", "mfa", "fail", {"local_mfa": False, "methods": ["password"]}),
         check("mynumber", "mfa", "fail")]
PASSES = [check("mynumber", "mfa", "pass", {"local_mfa": True, "methods": ["pam_u2f"]}),
          check("lgwan", "mfa", "fail", {"local_mfa": False})]  # recommended only outside mynumber
