"""ENC-001: system disk not encrypted (laptops: high)."""

from collector.rules.base import N_, Clear, Flag, Rule, check, check_fallback

# Reads mamori.evidence.DiskEncryption: encrypted, method, laptop.


def evaluate(s, params):
    ev = s.evidence
    portable = ev.laptop is True
    if ev.encrypted is False or (ev.encrypted is None and s.payload.get("status") == "fail"):
        # A laptop leaves the office: an unencrypted disk there is a higher risk (rules.md).
        return Flag(
            N_("system disk not encrypted (laptop)") if portable else N_("system disk not encrypted"),
            {"encrypted": False, "portable": portable},
            severity="high" if portable else None,
        )
    if ev.encrypted is True:
        return Clear(N_("system disk encrypted ({method})", method=ev.method or "?"), {"encrypted": True})
    return check_fallback(s, None)


RULE = Rule(
    id="ENC-001",
    title_text=N_("System disk not encrypted"),
    severity={"mynumber": "medium", "lgwan": "medium", "internet": "medium"},
    clause_bp=("BP6(4)",),
    clause_g=("4.4",),
    evidence_text=N_("check.result (disk_encryption): encrypted, method, laptop"),
    remediation_text=N_("Encrypt the system disk with BitLocker or LUKS."),
    evaluate=evaluate,
    kinds=("check.result",),
    check_id="disk_encryption",
)

FLAGS = [
    check("lgwan", "disk_encryption", "fail", {"encrypted": False, "laptop": True}),
    check("mynumber", "disk_encryption", "fail"),
]
PASSES = [check("lgwan", "disk_encryption", "pass", {"encrypted": True, "method": "dm-crypt"})]
