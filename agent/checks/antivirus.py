"""antivirus: anti-malware present, running with real-time (on-access) protection, signatures fresh
(MAL-001, MAL-002): ClamAV on Linux, Microsoft Defender on Windows."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from agent.checks.base import ERROR, FAIL, NOT_APPLICABLE, PASS, Context, Result
from agent.checks.spec import CheckSpec, Threshold
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
DB_DIR = "var/lib/clamav"


def cvd_built(header: bytes) -> datetime | None:
    """Build time from a ClamAV .cvd/.cld header: ClamAV-VDB:<date>:<version>:<sigs>:<flevel>:<md5>:<dsig>:
    <builder>:<stime> — stime (epoch seconds) when present, else the human date."""
    text = header[:512].decode("ascii", "replace")
    if not text.startswith("ClamAV-VDB:"):
        return None
    fields = text.split(":")
    if len(fields) > 8 and fields[8].strip().split(" ")[0].isdigit():
        return datetime.fromtimestamp(int(fields[8].strip().split(" ")[0]), UTC)
    m = re.match(r"ClamAV-VDB:(\d{2} \w{3} \d{4} \d{2})[-:](\d{2}) ([+-]\d{4})", text)
    if m:
        try:
            return datetime.strptime(f"{m.group(1)}:{m.group(2)} {m.group(3)}", "%d %b %Y %H:%M %z")
        except ValueError:
            return None
    return None


def run(ctx: Context) -> Result:
    if ctx.platform == "windows":
        return _defender(ctx)
    from agent.host import processes

    limit = ctx.settings["signature_max_age_days"]
    clamd = (ctx.root / "usr/sbin/clamd").exists()
    clamonacc = (ctx.root / "usr/sbin/clamonacc").exists()
    if not clamd and not (ctx.root / "usr/bin/clamscan").exists():
        return Result(FAIL, _("no anti-malware software (ClamAV) installed"),
                      Antivirus(root=str(ctx.root), installed=False))
    running = processes.running(("clamd", "clamonacc", "freshclam"))
    databases: dict[str, Any] = {}
    newest: datetime | None = None
    for name in ("daily.cld", "daily.cvd", "main.cld", "main.cvd"):
        path = ctx.root / DB_DIR / name
        try:
            with path.open("rb") as fh:
                built = cvd_built(fh.read(512))
        except OSError:
            continue
        databases[name] = built.isoformat() if built else "unreadable header"
        if built and name.startswith("daily") and (newest is None or built > newest):
            newest = built
    age = None if newest is None else round((ctx.now - newest).total_seconds() / 86400, 1)
    # installed / running / realtime are what MAL-001 reads: the engine (clamd) and on-access scanning
    # (clamonacc) each as a yes or no, the same findings the check reports.
    evidence = {"product": "ClamAV", "installed": True, "running": "clamd" in running,
                "realtime": "clamonacc" in running, "clamd_installed": clamd, "clamonacc_installed": clamonacc,
                "processes": sorted(running), "databases": databases, "signature_age_days": age, "limit_days": limit,
                "database_dir": str(ctx.root / DB_DIR)}
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
    return Result(PASS, _("ClamAV running with on-access scanning; signatures {age:.1f} days old").format(age=age),
                  Antivirus.build(evidence))


def _defender(ctx: Context) -> Result:
    if ctx.windows is None:
        return Result(NOT_APPLICABLE, _("no Windows data source"), Antivirus())
    try:
        st = ctx.windows.query("defender")
    except OSError as exc:
        return Result(ERROR, _("cannot query Microsoft Defender: {exc}").format(exc=exc), {})
    if not isinstance(st, dict):
        return Result(ERROR, _("Microsoft Defender returned no status"), {})
    limit = ctx.settings["signature_max_age_days"]
    age = st.get("AntivirusSignatureAge")
    engine = bool(st.get("AMServiceEnabled") and st.get("AntivirusEnabled")) and \
        str(st.get("AMRunningMode", "Normal")) == "Normal"  # passive mode: another product is meant to protect
    evidence = {"product": "Microsoft Defender", "installed": True, "running": engine,
                "realtime": bool(st.get("RealTimeProtectionEnabled")),
                "signature_age_days": age if isinstance(age, int) and not isinstance(age, bool) else None,
                "status": st, "limit_days": limit, "source": "Get-MpComputerStatus"}
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
    return Result(PASS, _("Defender real-time protection on; signatures {age} days old").format(age=age),
                  Antivirus.build(evidence))
