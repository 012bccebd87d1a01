"""AUT-002: remote logon (sshd / RDP) enabled without multi-factor authentication."""

from collector.rules.base import N_, Clear, Flag, Rule, check

# Reads mamori.evidence.Mfa: remote_logon_enabled (sshd or RDP accepting logons), remote_mfa, remote.


def evaluate(s, params):
    ev = s.evidence
    enabled, mfa = ev.remote_logon_enabled, ev.remote_mfa
    if enabled is True and mfa is False:
        return Flag(N_("remote logon enabled without MFA"), {"remote": ev.remote or []})
    if enabled is False or mfa is True:
        return Clear(
            N_("remote logon disabled or protected by MFA"), {"remote_logon_enabled": enabled, "remote_mfa": mfa}
        )
    return None


RULE = Rule(
    id="AUT-002",
    title_text=N_("Remote logon (sshd/RDP) enabled without MFA"),
    severity={"mynumber": "high", "lgwan": "high", "internet": "high"},
    clause_bp=("BP6(6)",),
    clause_g=("6.2",),
    evidence_text=N_("check.result (mfa): sshd AuthenticationMethods / RDP settings"),
    remediation_text=N_("Disable remote logon or require a second factor for it."),
    evaluate=evaluate,
    kinds=("check.result",),
    check_id="mfa",
)

FLAGS = [check("internet", "mfa", "fail", {"remote_logon_enabled": True, "remote_mfa": False})]
PASSES = [
    check("internet", "mfa", "pass", {"remote_logon_enabled": False}),
    check("lgwan", "mfa", "pass", {"remote_logon_enabled": True, "remote_mfa": True}),
]
