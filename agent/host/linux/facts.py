"""The Linux facts reader: what each posture check needs, read from the machine below `root`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agent.host.facts import (
    AntivirusFacts,
    DiskEncryptionFacts,
    FirewallFacts,
    LocalAdminFacts,
    MfaFacts,
    OsReleaseFacts,
    PatchFacts,
    ScreenLockFacts,
    SoftwareFacts,
    TimeSyncFacts,
)


class LinuxFacts:
    def __init__(self, root: Path):
        self.root = root

    def time_sync(self) -> TimeSyncFacts:
        from agent.host.linux import timesync

        return timesync.read(self.root)

    def firewall(self) -> FirewallFacts:
        from agent.host.linux import firewall

        return firewall.read(self.root)

    def os_release(self) -> OsReleaseFacts:
        from agent.host.linux import osrelease

        return osrelease.read(self.root)

    def software(self) -> SoftwareFacts:
        from agent.host.linux import packages

        return packages.read(self.root)

    def screen_lock(self) -> ScreenLockFacts:
        from agent.host.linux import desktop

        return desktop.read(self.root)

    def disk_encryption(self) -> DiskEncryptionFacts:
        from agent.host.linux import blockdev

        return blockdev.read(self.root)

    def antivirus(self) -> AntivirusFacts:
        from agent.host.linux import clamav

        return clamav.read(self.root)

    def local_admin(self) -> LocalAdminFacts:
        from agent.host.linux import accounts

        return accounts.read(self.root)

    def patch(self) -> PatchFacts:
        from agent.host.linux import updates

        return updates.read(self.root)

    def mfa(self) -> MfaFacts:
        from agent.host.linux import logon

        return logon.read(self.root)


def reader(root: Path, source: Any = None) -> LinuxFacts:
    return LinuxFacts(root)


def live_source() -> None:
    """Linux checks read files and run tools below the root themselves: no separate data source."""
    return None
