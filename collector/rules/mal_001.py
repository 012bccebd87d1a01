"""MAL-001: anti-malware absent, stopped, or real-time protection off."""

from collector.rules.base import Clear, Flag, Rule, check, check_fallback

# Check "antivirus" evidence: {"product": str, "installed": bool, "running": bool, "realtime": bool,
#   "signatures_updated": ISO time}.
_PARTS = ("installed", "running", "realtime")


def evaluate(s, params):
    known = {k: s.evidence[k] for k in _PARTS if isinstance(s.evidence.get(k), bool)}
    if known:
        off = [k for k, v in known.items() if not v]
        if off:
            return Flag(f"{s.evidence.get('product', 'anti-malware')}: not {', '.join(off)}", known)
        if len(known) == len(_PARTS):
            return Clear(f"{s.evidence.get('product', 'anti-malware')} running with real-time protection", known)
        return None
    return check_fallback(s, "anti-malware check failed")


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
