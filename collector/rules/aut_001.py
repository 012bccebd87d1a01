"""AUT-001: terminal logon does not require a second factor (PAM stack / Windows logon) on マイナンバー系."""

from collector.rules.base import N_, Clear, Flag, Rule, check

# Reads mamori.evidence.Mfa.local_mfa: whether every local logon service needs a second factor.


def evaluate(s, params):
    # Only the local-logon verdict decides: a weak sshd is AUT-002's, a stack that cannot be judged says nothing.
    local = s.evidence.local_mfa
    if local is False:
        return Flag(N_("local logon without a second factor"))
    if local is True:
        return Clear(N_("local logon requires a second factor"))
    return None


RULE = Rule(
    id="AUT-001",
    title_text=N_("Terminal logon does not require multi-factor authentication"),
    severity={"mynumber": "critical"},
    clause_bp=("BP6(3)①",),
    clause_g=(),
    evidence_text=N_("check.result (mfa): PAM stack / Windows logon configuration"),
    remediation_text=N_(
        "Require a second factor at logon (pam_u2f, pam_pkcs11, Windows Hello for Business, smart card)."
    ),
    evaluate=evaluate,
    kinds=("check.result",),
    check_id="mfa",
)

FLAGS = [check("mynumber", "mfa", "fail", {"local_mfa": False, "logon": [{"service": "login", "multi_factor": False}]})]
PASSES = [
    check("mynumber", "mfa", "pass", {"local_mfa": True}),
    check("lgwan", "mfa", "fail", {"local_mfa": False}),  # recommended only outside mynumber
    # sshd alone is weak: AUT-002's violation, not a local logon one.
    check("mynumber", "mfa", "fail", {"local_mfa": True, "remote_logon_enabled": True, "remote_mfa": False}),
    check("mynumber", "mfa", "fail"),
]  # an old agent's result without the verdict: no judgement
