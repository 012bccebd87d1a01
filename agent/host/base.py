"""The Host protocol: what the agent asks of the operating system."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

Emit = Callable[[str, dict[str, Any]], Any]


@dataclass(frozen=True)
class HostFacts:
    hostname: str
    os: str  # "linux" | "windows"
    os_version: str
    machine_id: str


class MediaControl(Protocol):
    """Removable-media enforcement for the policy in force: start once, apply each new policy, stop cleanly."""

    def start(self, document: dict[str, Any]) -> None: ...

    def apply(self, document: dict[str, Any]) -> None: ...

    def stop(self) -> None: ...


class Host(Protocol):
    def facts(self) -> HostFacts: ...

    def default_state_dir(self) -> Path: ...

    def media_control(self, emit: Emit) -> MediaControl | str:
        """The enforcement for this machine, or the reason there is none (a string shown to staff)."""
        ...
