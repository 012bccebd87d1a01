"""antivirus: anti-malware present, running with real-time (on-access) protection, signatures fresh
(MAL-001, MAL-002): ClamAV on Linux, Microsoft Defender on Windows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from agent.checks.base import ERROR, FAIL, NOT_APPLICABLE, PASS, Context, Result
from agent.checks.spec import CheckSpec, Threshold
from agent.host.facts import AntivirusFacts
from mamori.evidence.protection import Antivirus
from mamori.i18n import N_, _

SPEC = CheckSpec(
    id="antivirus",
    title=N_("Anti-malware"),
    platforms=("linux", "windows"),
    interval_seconds=1800,
    severity="high",
    rules=("MAL-001", "MAL-002"),
    remediation=N_(
        "Install and run the anti-malware software with real-time protection (ClamAV: clamd + clamonacc; "
        "Windows: Microsoft Defender real-time protection) and let it update its signatures daily from the "
        "office mirror."
    ),
    reads={"linux": "ClamAV (clamd, clamonacc, CVD header dates)", "windows": "Microsoft Defender status"},
    thresholds=(Threshold.of("signature_max_age_days"),),
)
ID, TITLE, PLATFORMS, INTERVAL_SECONDS, SEVERITY, RULES, REMEDIATION = SPEC.metadata()


def run(ctx: Context) -> Result:
    return verdict(ctx.facts().antivirus(), ctx.settings, ctx.now)


def verdict(facts: AntivirusFacts, settings: dict[str, Any], now: datetime) -> Result:
    """Pure: the product's state, the policy's signature age limit and the time now -> the result."""
    if facts.unavailable:
        return Result(NOT_APPLICABLE, _("no Windows data source"), Antivirus())
    if facts.error == "query":
        return Result(ERROR, _("cannot query Microsoft Defender: {exc}").format(exc=facts.detail), {})
    if facts.error:
        return Result(ERROR, _("Microsoft Defender returned no status"), {})
    if facts.defender is not None:
        return _defender(facts.defender, settings)
    limit = settings["signature_max_age_days"]
    if not facts.product:
        return Result(
            FAIL, _("no anti-malware software (ClamAV) installed"), Antivirus(root=facts.root, installed=False)
        )
    clamd, clamonacc, running = facts.clamd_installed, facts.clamonacc_installed, list(facts.running)
    databases: dict[str, Any] = {}
    newest: datetime | None = None
    for db in facts.databases:
        built = db.built
        databases[db.name] = built.isoformat() if built else "unreadable header"
        if built and db.name.startswith("daily") and (newest is None or built > newest):
            newest = built
    age = None if newest is None else round((now - newest).total_seconds() / 86400, 1)
    # installed / running / realtime are what MAL-001 reads: the engine (clamd) and on-access scanning
    # (clamonacc) each as a yes or no, the same findings the check reports.
    evidence = {
        "product": "ClamAV",
        "installed": True,
        "running": "clamd" in running,
        "realtime": "clamonacc" in running,
        "clamd_installed": clamd,
        "clamonacc_installed": clamonacc,
        "processes": sorted(running),
        "databases": databases,
        "signature_age_days": age,
        "limit_days": limit,
        "database_dir": facts.database_dir,
    }
    findings = []
    if "clamd" not in running:
        findings.append(_("clamd is not running"))
    if "clamonacc" not in running:
        findings.append(_("real-time (on-access) scanning is off: clamonacc not running"))
    if age is None:
        findings.append(_("no readable daily signature database"))
    elif age > limit:
        findings.append(_("signatures {age:.0f} days old (allowed {limit})").format(age=age, limit=limit))
    if findings:
        return Result(FAIL, "; ".join(findings), Antivirus.build(evidence))
    return Result(
        PASS,
        _("ClamAV running with on-access scanning; signatures {age:.1f} days old").format(age=age),
        Antivirus.build(evidence),
    )


def _defender(st: dict[str, Any], settings: dict[str, Any]) -> Result:
    limit = settings["signature_max_age_days"]
    age = st.get("AntivirusSignatureAge")
    engine = (
        bool(st.get("AMServiceEnabled") and st.get("AntivirusEnabled"))
        and str(st.get("AMRunningMode", "Normal")) == "Normal"
    )  # passive mode: another product is meant to protect
    evidence = {
        "product": "Microsoft Defender",
        "installed": True,
        "running": engine,
        "realtime": bool(st.get("RealTimeProtectionEnabled")),
        "signature_age_days": age if isinstance(age, int) and not isinstance(age, bool) else None,
        "status": st,
        "limit_days": limit,
        "source": "Get-MpComputerStatus",
    }
    findings = []
    if not st.get("AMServiceEnabled") or not st.get("AntivirusEnabled"):
        findings.append(_("Defender antivirus is disabled"))
    elif str(st.get("AMRunningMode", "Normal")) != "Normal":
        mode = st.get("AMRunningMode")
        findings.append(_("Defender runs in {mode}").format(mode=mode))
    if not st.get("RealTimeProtectionEnabled"):
        findings.append(_("real-time protection is off"))
    if not isinstance(age, int) or age > limit:
        findings.append(_("signatures {age} days old (allowed {limit})").format(age=age, limit=limit))
    if findings:
        return Result(FAIL, "; ".join(findings), Antivirus.build(evidence))
    return Result(
        PASS,
        _("Defender real-time protection on; signatures {age} days old").format(age=age),
        Antivirus.build(evidence),
    )
