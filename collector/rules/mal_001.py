"""MAL-001: anti-malware absent, stopped, or real-time protection off."""

from collector.rules.base import N_, Clear, Flag, Rule, check

# Reads mamori.evidence.Antivirus: installed, running (the engine), realtime (on-access protection), product.


def evaluate(s, params):
    ev = s.evidence
    parts = {"installed": ev.installed, "running": ev.running, "realtime": ev.realtime}
    known = {k: v for k, v in parts.items() if v is not None}
    off = [k for k, v in known.items() if not v]
    product = ev.product or "anti-malware"
    if off:
        # The first missing part names the failure (what is not installed does not run); evidence has all three.
        text = {
            "installed": N_("{product}: not installed", product=product),
            "running": N_("{product}: not running", product=product),
            "realtime": N_("{product}: real-time protection off", product=product),
        }[off[0]]
        return Flag(text, known)
    if len(known) == len(parts):
        return Clear(N_("{product}: installed, running, real-time protection on", product=product), known)
    return None  # signatures alone are MAL-002's; an unreadable product says nothing


RULE = Rule(
    id="MAL-001",
    title_text=N_("Anti-malware absent, stopped, or real-time protection off"),
    severity={"mynumber": "high", "lgwan": "high", "internet": "high"},
    clause_bp=("BP6(6)",),
    clause_g=("6.4",),
    evidence_text=N_("check.result (antivirus): product, installed / running / real-time state"),
    remediation_text=N_("Install and start the anti-malware product and turn real-time protection on."),
    evaluate=evaluate,
    kinds=("check.result",),
    check_id="antivirus",
)

FLAGS = [
    check(
        "lgwan",
        "antivirus",
        "fail",
        {"product": "Microsoft Defender", "installed": True, "running": True, "realtime": False},
    ),
    check("internet", "antivirus", "fail", {"installed": False}),
    check("lgwan", "antivirus", "fail", {"product": "ClamAV", "installed": True, "running": False, "realtime": False}),
]
PASSES = [
    check("lgwan", "antivirus", "pass", {"product": "ClamAV", "installed": True, "running": True, "realtime": True}),
    # running and protecting: the failure is about signatures (MAL-002)
    check(
        "lgwan",
        "antivirus",
        "fail",
        {
            "product": "ClamAV",
            "installed": True,
            "running": True,
            "realtime": True,
            "signature_age_days": 9.0,
            "limit_days": 3,
        },
    ),
]
