"""In-memory host for tests and dry runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from agent.host.base import Emit, HostFacts, MediaControl


@dataclass
class FakeHost:
    state_dir: Path = Path("/tmp/mamori-agent-fake")
    host_facts: HostFacts = field(
        default_factory=lambda: HostFacts("fake-host", "linux", "Fake OS 1", "0" * 32)
    )

    def facts(self) -> HostFacts:
        return self.host_facts

    def default_state_dir(self) -> Path:
        return self.state_dir

    def media_control(self, emit: Emit) -> MediaControl | str:
        return "the fake host has no devices to control"
