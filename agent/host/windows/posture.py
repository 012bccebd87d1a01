"""Registry and WMI reads for the posture checks on Windows, each turned into the checks' typed facts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from agent.host.facts import (
    AntivirusFacts,
    DiskEncryptionFacts,
    LocalAdminFacts,
    MfaFacts,
    OsReleaseFacts,
    PatchFacts,
    PendingUpdate,
    ScreenLockFacts,
    SoftwareFacts,
    WindowsLogon,
)
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


UNINSTALL = (
    HKLM + r"\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall",
    HKLM + r"\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall",
)


def software(source: Any) -> SoftwareFacts:
    """Installed programs from both Uninstall keys (64- and 32-bit), without system components."""
    if source is None:
        return SoftwareFacts(unavailable="no Windows data source")
    out = []
    try:
        for base_key in UNINSTALL:
            for sub in source.subkeys(base_key):
                values = source.values(f"{base_key}\\{sub}") or {}
                name = str(values.get("DisplayName", "")).strip()
                if name and values.get("SystemComponent") != 1:
                    out.append((name, str(values.get("DisplayVersion", ""))))
    except OSError as exc:
        return SoftwareFacts(error=str(exc))
    return SoftwareFacts(source="registry Uninstall keys", packages=tuple(out))


SYSTEM_POLICY = HKLM + r"\SOFTWARE\Microsoft\Windows\CurrentVersion\Policies\System"


def screen_lock(source: Any) -> ScreenLockFacts:
    """'Interactive logon: Machine inactivity limit' (InactivityTimeoutSecs, any spelling of the name)."""
    if source is None:
        return ScreenLockFacts(unavailable="no Windows data source")
    values = source.values(SYSTEM_POLICY) or {}
    secs = next((v for key, v in values.items() if key.lower() == "inactivitytimeoutsecs"), None)
    return ScreenLockFacts(inactivity_key=SYSTEM_POLICY, inactivity_seconds=secs)


def disk_encryption(source: Any) -> DiskEncryptionFacts:
    """BitLocker's volumes (Get-BitLockerVolume through the data source)."""
    if source is None:
        return DiskEncryptionFacts(unavailable="no Windows data source")
    try:
        volumes = source.query("bitlocker")
    except OSError as exc:
        return DiskEncryptionFacts(error="query", detail=str(exc))
    found = [v for v in (volumes if isinstance(volumes, list) else [volumes]) if isinstance(v, dict)]
    return DiskEncryptionFacts(source="Get-BitLockerVolume", volumes=tuple(found))


def antivirus(source: Any) -> AntivirusFacts:
    """Microsoft Defender's status (Get-MpComputerStatus through the data source)."""
    if source is None:
        return AntivirusFacts(unavailable="no Windows data source")
    try:
        status = source.query("defender")
    except OSError as exc:
        return AntivirusFacts(error="query", detail=str(exc))
    if not isinstance(status, dict):
        return AntivirusFacts(error="status")
    return AntivirusFacts(product="Microsoft Defender", defender=status)


ADMINISTRATORS = "Get-LocalGroupMember S-1-5-32-544"


def local_admin(source: Any) -> LocalAdminFacts:
    """The members of Administrators (S-1-5-32-544, whatever the group is called in this language)."""
    if source is None:
        return LocalAdminFacts(unavailable="no Windows data source")
    try:
        members = source.query("local_admins")
    except OSError as exc:
        return LocalAdminFacts(source=ADMINISTRATORS, error=str(exc))
    return LocalAdminFacts(source=ADMINISTRATORS, members=tuple(members if isinstance(members, list) else [members]))


def patch(source: Any) -> PatchFacts:
    """The Windows Update Agent's pending updates and history, WSUS and the pending reboot from the registry."""
    from agent.host.windows.host import windows_update

    if source is None:
        return PatchFacts(unavailable="no Windows data source")
    try:
        wu = windows_update(source)
    except (OSError, ValueError) as exc:
        return PatchFacts(backend="windows_update", error=str(exc))
    security = tuple(
        PendingUpdate(
            str(u["kb"] and f"KB{u['kb']}" or u["title"]),
            title=str(u["title"]),
            severity=str(u["severity"]),
            published=u["released"] if isinstance(u["released"], datetime) else None,
        )
        for u in wu.pending
        if u["security"]
    )
    return PatchFacts(
        backend="windows_update",
        security=security,
        pending_total=len(wu.pending),
        refreshed=wu.last_search,
        last_install=wu.last_install,
        server=wu.server,
        reboot_required=wu.reboot_required,
    )


def mfa(source: Any) -> MfaFacts:
    """Whether logon (and Remote Desktop) needs a second factor: smart card, Windows Hello for Business,
    credential providers and their filters."""
    from agent.host.windows.host import logon_mfa

    if source is None:
        return MfaFacts(unavailable="no Windows data source")
    state = logon_mfa(source)
    return MfaFacts(
        windows=WindowsLogon(
            enforced=bool(state.enforced),
            reason=state.reason,
            rdp_enabled=bool(state.facts.get("rdp_enabled")),
            evidence=state.evidence(),
        )
    )
