"""os_support: the operating system release still receives security updates (PAT-004)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from agent.checks.base import ERROR, FAIL, NOT_APPLICABLE, PASS, Context, Result
from agent.checks.spec import CheckSpec
from mamori.evidence.updates import OsSupport
from mamori.i18n import N_, _

SPEC = CheckSpec(
    id="os_support",
    title=N_("OS support period"),
    platforms=("linux", "windows"),
    interval_seconds=86400,
    severity="high",
    rules=("PAT-004",),
    remediation=N_("Upgrade the terminal to a supported operating system release before its support ends."),
    reads={
        "linux": "os-release against `agent/checks/data/os_support.json`",
        "windows": "the Windows build against `agent/checks/data/os_support.json`",
    },
)
ID, TITLE, PLATFORMS, INTERVAL_SECONDS, SEVERITY, RULES, REMEDIATION = SPEC.metadata()
TABLE = Path(__file__).parent / "data" / "os_support.json"
WARN_DAYS = 180


def table() -> dict:
    return json.loads(TABLE.read_text(encoding="utf-8"))


def run(ctx: Context) -> Result:
    release, ends, note = _release(ctx)
    if release is None:
        return Result(ERROR, _("cannot identify the operating system: {note}").format(note=note),
                      OsSupport(problem=note))
    evidence: dict[str, Any] = {"release": release, "end_of_support": ends, "note": note, "table": str(TABLE)}
    if ends is None:
        return Result(NOT_APPLICABLE, _("{release} is not in the support table").format(
                                          release=release), OsSupport.build(evidence))
    end = date.fromisoformat(ends)
    left = (end - ctx.now.date()).days
    evidence["days_left"] = left
    if left < 0:
        return Result(FAIL, _("{release}: security support ended on {ends}").format(release=release,
                                ends=ends), OsSupport.build(evidence))
    soon = _(" (ends in {left} days)").format(left=left) if left <= WARN_DAYS else ""
    return Result(PASS, _("{release}: supported until {ends}{soon}").format(release=release, ends=ends, soon=soon),
                  OsSupport.build(evidence))


def _release(ctx: Context) -> tuple[str | None, str | None, str]:
    data = table()
    if ctx.platform == "windows":
        return _windows(ctx, data["windows"])
    from agent.host.linux.host import parse_os_release
    from agent.host.sysio import HostIOError, read_text

    for name in ("etc/os-release", "usr/lib/os-release"):
        try:
            rel = parse_os_release(read_text(ctx.root / name, 65536).text)
            break
        except HostIOError:
            continue
    else:
        return None, None, "no os-release file"
    os_id, version = rel.get("ID", ""), rel.get("VERSION_ID", "")
    label = rel.get("PRETTY_NAME") or f"{os_id} {version}"
    if not os_id:
        return None, None, "os-release has no ID"
    releases = data["linux"].get(os_id, {})
    entry = releases.get(version) or releases.get(version.split(".")[0])
    return label[:100], (entry[0] if entry else None), (entry[1] if entry else "")


def _windows(ctx: Context, data: dict) -> tuple[str | None, str | None, str]:
    from agent.host.windows import host as windows

    if ctx.windows is None:
        return None, None, "no Windows data source"
    info = ctx.windows.values(windows.HKLM + r"\SOFTWARE\Microsoft\Windows NT\CurrentVersion") or {}
    build = str(info.get("CurrentBuild") or info.get("CurrentBuildNumber") or "")
    edition = str(info.get("EditionID", ""))
    if not build:
        return None, None, "no CurrentBuild in the registry"
    label = f"{info.get('ProductName', 'Windows')} {info.get('DisplayVersion', '')} (build {build}, {edition})"
    entry = data.get(build)
    if not entry:
        return label, None, ""
    kind = "ltsc" if "LTSC" in edition.upper() or edition.startswith("EnterpriseS") else \
        "enterprise" if edition.startswith(("Enterprise", "Education")) else "default"
    ends = entry.get(kind) or entry.get("enterprise" if kind == "ltsc" else "default")
    return label, ends, kind
