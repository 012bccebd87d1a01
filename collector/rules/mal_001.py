"""MAL-001: anti-malware absent, stopped, or real-time protection off."""

from collector.rules.base import Flag, Rule, check, check_fallback

# Check "antivirus" evidence: {"product": str, "installed": bool, "running": bool, "realtime": bool,
#   "signatures_updated": ISO time}.
# The antivirus check reports ClamAV as clamd_installed / running, Defender as status (Get-MpComputerStatus).
_PARTS = ("installed", "clamd_installed", "running", "realtime")
_DEFENDER = ("AMServiceEnabled", "AntivirusEnabled", "RealTimeProtectionEnabled")


def evaluate(s, params):
    status = s.evidence.get("status") if isinstance(s.evidence.get("status"), dict) else {}
    known = {k: s.evidence[k] for k in _PARTS if isinstance(s.evidence.get(k), bool)}
    known |= {k: status[k] for k in _DEFENDER if isinstance(status.get(k), bool)}
    off = [k for k, v in known.items() if not v]
    product = s.evidence.get("product", "anti-malware")
    if off:
        return Flag(f"{product}: not {', '.join(off)}", known)
    if known and s.payload.get("status") == "fail":
        return None  # running and protecting: the failure is about signatures (MAL-002)
    return check_fallback(s, f"{product}: check failed")


RULE = Rule(
    id="MAL-001",
    title_ja="不正プログラム対策ソフトウェアが未導入・停止・リアルタイム保護無効",
    title_en="Anti-malware absent, stopped, or real-time protection off",
    severity={"mynumber": "high", "lgwan": "high", "internet": "high"},
    clause_bp=("BP6(6)",), clause_g=("6.4",),
    evidence_ja="check.result (antivirus): 製品、導入・稼働・リアルタイム保護の状態",
    evidence_en="check.result (antivirus): product, installed / running / real-time state",
    remediation_ja="不正プログラム対策ソフトウェアを導入・起動し、リアルタイム保護を有効にしてください。",
    remediation_en="Install and start the anti-malware product and turn real-time protection on.",
    evaluate=evaluate, kinds=("check.result",), check_id="antivirus",
)

FLAGS = [check("lgwan", "antivirus", "fail", {"product": "Defender", "installed": True, "running": True,
                                              "realtime": False}),
         check("internet", "antivirus", "fail", {"installed": False})]
PASSES = [check("lgwan", "antivirus", "pass", {"product": "Defender", "installed": True, "running": True,
                                               "realtime": True})]
# As the antivirus check reports ClamAV and Microsoft Defender.
FLAGS.append(check("lgwan", "antivirus", "fail", {"product": "ClamAV", "clamd_installed": True, "running": False}))
FLAGS.append(check("lgwan", "antivirus", "fail", {"product": "Microsoft Defender", "status": {
    "AMServiceEnabled": True, "AntivirusEnabled": True, "RealTimeProtectionEnabled": False}}))
PASSES.append(check("lgwan", "antivirus", "fail", {"product": "ClamAV", "clamd_installed": True, "running": True,
                                                   "signature_age_days": 9.0, "limit_days": 3}))
