"""In-memory host for tests and dry runs."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from agent.host.base import Emit, HostFacts, MediaControl, ServiceState, StopRequest


@dataclass
class FakeService:
    """Records what the service commands asked for."""

    argv: list[str] = field(default_factory=list)
    state_dir: Path | None = None
    running: bool = False
    calls: list[str] = field(default_factory=list)

    def install(self, argv: Sequence[str], state_dir: Path, start: bool = True) -> str:
        self.calls.append("install")
        self.argv, self.state_dir, self.running = list(argv), state_dir, start
        return "fake:mamori-agent"

    def uninstall(self) -> bool:
        self.calls.append("uninstall")
        had, self.argv, self.running = bool(self.argv), [], False
        return had

    def start(self) -> None:
        self.calls.append("start")
        self.running = True

    def stop(self) -> None:
        self.calls.append("stop")
        self.running = False

    def state(self) -> ServiceState:
        return ServiceState(
            bool(self.argv),
            "enabled" if self.argv else "-",
            "active" if self.running else "inactive",
            0,
            " ".join(self.argv),
        )


@dataclass
class FakeHost:
    state_dir: Path = Path("/tmp/mamori-agent-fake")
    host_facts: HostFacts = field(default_factory=lambda: HostFacts("fake-host", "linux", "Fake OS 1", "0" * 32))
    fake_service: FakeService = field(default_factory=FakeService)
    restarts: list[list[str]] = field(default_factory=list)

    def facts(self) -> HostFacts:
        return self.host_facts

    def default_state_dir(self) -> Path:
        return self.state_dir

    def media_control(self, emit: Emit) -> MediaControl | str:
        return "the fake host has no devices to control"

    def service(self) -> FakeService:
        return self.fake_service

    def log_handler(self) -> logging.Handler:
        return logging.StreamHandler()

    def watch_stop(self, on_stop: Callable[[StopRequest], None]) -> bool:
        return False  # the runner's own signal handlers

    def restart_self(self, argv: Sequence[str]) -> int:
        self.restarts.append(list(argv))
        return 75
