"""ENC-001: system disk not encrypted (laptops: high)."""

from collector.rules.base import Clear, Flag, Rule, check, check_fallback

# Check "disk_encryption" evidence: "laptop" (bool), "mounts" / "volumes"; status pass/fail is the verdict.


def evaluate(s, params):
    encrypted = s.evidence.get("encrypted")
    portable = s.evidence.get("laptop") is True
    if encrypted is False or (encrypted is None and s.payload.get("status") == "fail"):
        # A laptop leaves the office: an unencrypted disk there is a higher risk (rules.md).
        return Flag("system disk not encrypted" + (" (laptop)" if portable else ""),
                    {"encrypted": False, "portable": portable}, severity="high" if portable else None)
    if encrypted is True:
        return Clear(f"system disk encrypted ({s.evidence.get('method', '?')})", {"encrypted": True})
    return check_fallback(s, "")


RULE = Rule(
    id="ENC-001",
    title_ja="システムディスクが暗号化されていない",
    title_en="System disk not encrypted",
    severity={"mynumber": "medium", "lgwan": "medium", "internet": "medium"},
    clause_bp=("BP6(4)",), clause_g=("4.4",),
    evidence_ja="check.result (disk_encryption): 暗号化の有無と方式、可搬端末か",
    evidence_en="check.result (disk_encryption): encrypted, method, laptop",
    remediation_ja="BitLocker / LUKS でシステムディスクを暗号化してください。",
    remediation_en="Encrypt the system disk with BitLocker or LUKS.",
    evaluate=evaluate, kinds=("check.result",), check_id="disk_encryption",
)

FLAGS = [check("lgwan", "disk_encryption", "fail", {"encrypted": False, "laptop": True}),
         check("mynumber", "disk_encryption", "fail")]
PASSES = [check("lgwan", "disk_encryption", "pass", {"encrypted": True, "method": "LUKS2"})]
FLAGS.append(check("internet", "disk_encryption", "fail", {"source": "lsblk -J -s", "laptop": True, "mounts": []}))
