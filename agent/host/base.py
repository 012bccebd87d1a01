"""The Host protocol: what the agent asks of the operating system."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class HostFacts:
    hostname: str
    os: str  # "linux" | "windows"
    os_version: str
    machine_id: str


class Host(Protocol):
    def facts(self) -> HostFacts: ...

    def default_state_dir(self) -> Path: ...
