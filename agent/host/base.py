"""The Host protocol: what the agent asks of the operating system."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # only for annotations: base.py imports nothing platform-specific at run time
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
    from agent.usb.events import Tracked

Emit = Callable[[str, dict[str, Any]], Any]


@dataclass(frozen=True)
class HostFacts:
    hostname: str
    os: str  # "linux" | "windows"
    os_version: str
    machine_id: str


class MediaControl(Protocol):
    """One OS's removable-media backend (agent/host/<os>/media.py) around the neutral core in agent/usb/.

    Start once (deny by default first), apply each new policy, list what is attached, stop cleanly. Events go
    out through the Emit the host was given: usb.attached / usb.allowed / usb.blocked with the payload of
    agent.usb.events, and a check.result media_control when enforcement stops working.
    """

    def start(self, document: dict[str, Any]) -> None: ...

    def apply(self, document: dict[str, Any]) -> None: ...

    def devices(self) -> list[Tracked]: ...

    def stop(self) -> None: ...


@dataclass(frozen=True)
class ServiceState:
    """How the service manager sees the agent's service."""

    installed: bool
    enabled: str  # systemd: enabled/disabled/...; Windows: auto/demand/disabled
    active: str  # systemd: active/inactive/failed/...; Windows: running/stopped/...
    main_pid: int
    unit_path: str  # the unit file, or the Windows service's command line


class ServiceError(Exception):
    """The service manager refused; the message carries its own words."""


class ServiceManager(Protocol):
    def install(self, argv: Sequence[str], state_dir: Path, start: bool = True) -> str: ...

    def uninstall(self) -> bool: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def state(self) -> ServiceState: ...


@dataclass(frozen=True)
class StopRequest:
    """Why the agent is asked to stop, and whether that was the service manager's orderly stop."""

    reason: str  # "service-stop", "signal:SIGTERM from pid 4242 (kill, uid 1000)", ...
    orderly: bool


class Host(Protocol):
    def facts(self) -> HostFacts: ...

    def default_state_dir(self) -> Path: ...

    def media_control(self, emit: Emit) -> MediaControl | str:
        """The enforcement for this machine, or the reason there is none (a string shown to staff)."""

    def service(self) -> ServiceManager: ...

    def log_handler(self) -> logging.Handler: ...

    def watch_stop(self, on_stop: Callable[[StopRequest], None]) -> bool:
        """Report stop requests with their sender; False if the caller must use its own signal handlers."""
        ...

    def restart_self(self, argv: Sequence[str]) -> int:
        """Replace this process by a fresh agent (or return an exit status the service manager restarts on)."""
        ...


class FactsReader(Protocol):
    """What the posture checks read, one method per check spec (agent/host/<os>/facts.py implements it)."""

    def time_sync(self) -> TimeSyncFacts: ...

    def firewall(self) -> FirewallFacts: ...

    def os_release(self) -> OsReleaseFacts: ...

    def software(self) -> SoftwareFacts: ...

    def screen_lock(self) -> ScreenLockFacts: ...

    def disk_encryption(self) -> DiskEncryptionFacts: ...

    def antivirus(self) -> AntivirusFacts: ...

    def local_admin(self) -> LocalAdminFacts: ...

    def patch(self) -> PatchFacts: ...

    def mfa(self) -> MfaFacts: ...
