"""Registry and WMI reads for the posture checks on Windows, each turned into the checks' typed facts."""

from __future__ import annotations

from typing import Any

from agent.host.facts import OsReleaseFacts
from agent.host.windows.host import HKLM

CURRENT_VERSION = HKLM + r"\SOFTWARE\Microsoft\Windows NT\CurrentVersion"


def os_release(source: Any) -> OsReleaseFacts:
    if source is None:
        return OsReleaseFacts(family="windows", problem="no Windows data source")
    info = source.values(CURRENT_VERSION) or {}
    build = str(info.get("CurrentBuild") or info.get("CurrentBuildNumber") or "")
    edition = str(info.get("EditionID", ""))
    if not build:
        return OsReleaseFacts(family="windows", problem="no CurrentBuild in the registry")
    label = f"{info.get('ProductName', 'Windows')} {info.get('DisplayVersion', '')} (build {build}, {edition})"
    return OsReleaseFacts(family="windows", version=build, label=label, edition=edition)
