"""The Windows facts reader: what each posture check needs, from the registry/WMI data source (live or recorded)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agent.host.facts import (
    AntivirusFacts,
    DiskEncryptionFacts,
    FirewallFacts,
    FirewallProfile,
    LocalAdminFacts,
    MfaFacts,
    OsReleaseFacts,
    PatchFacts,
    ScreenLockFacts,
    SoftwareFacts,
    TimeSyncFacts,
)


class WindowsFacts:
    def __init__(self, source: Any):
        self.source = source  # agent.host.windows.host.LiveSource, or a RegFileSource in tests

    def time_sync(self) -> TimeSyncFacts:
        from agent.host.windows import timesync

        return timesync.read(self.source)

    def firewall(self) -> FirewallFacts:
        from agent.host.windows.host import firewall_profiles

        if self.source is None:
            return FirewallFacts(unavailable="no Windows data source")
        profiles = firewall_profiles(self.source)
        return FirewallFacts(
            source="registry",
            profiles=tuple(
                (name, FirewallProfile(bool(p["enabled"]), bool(p["inbound_allowed"]), str(p["set_by"])))
                for name, p in profiles.items()
            ),
        )

    def os_release(self) -> OsReleaseFacts:
        from agent.host.windows import posture

        return posture.os_release(self.source)

    def software(self) -> SoftwareFacts:
        from agent.host.windows import posture

        return posture.software(self.source)

    def screen_lock(self) -> ScreenLockFacts:
        from agent.host.windows import posture

        return posture.screen_lock(self.source)

    def disk_encryption(self) -> DiskEncryptionFacts:
        from agent.host.windows import posture

        return posture.disk_encryption(self.source)

    def antivirus(self) -> AntivirusFacts:
        from agent.host.windows import posture

        return posture.antivirus(self.source)

    def local_admin(self) -> LocalAdminFacts:
        from agent.host.windows import posture

        return posture.local_admin(self.source)

    def patch(self) -> PatchFacts:
        from agent.host.windows import posture

        return posture.patch(self.source)

    def mfa(self) -> MfaFacts:
        from agent.host.windows import posture

        return posture.mfa(self.source)


def reader(root: Path, source: Any = None) -> WindowsFacts:
    return WindowsFacts(source)


def live_source() -> Any:
    from agent.host.windows.host import LiveSource

    return LiveSource()
