"""Agent configuration (agent.toml in the state folder, or --config FILE) and the state folder layout."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mamori.tomlconf import Key, load, one_of, positive, render

SCHEMA = [
    Key(
        "shipper.heartbeat_seconds",
        float,
        60.0,
        "Seconds between heartbeats to the collector (the collector flags silent terminals).",
        positive,
    ),
    Key(
        "shipper.poll_seconds",
        float,
        1.0,
        "Unused: the running agent is the spool's only writer, so every event wakes the sender at once\n"
        "(kept so that older agent.toml files still load).",
        positive,
    ),
    Key("shipper.batch_max_events", int, 500, "Most events sent in one batch.", positive),
    Key("shipper.max_in_flight_batches", int, 4, "Batches sent before waiting for the collector's ack.", positive),
    Key("shipper.backoff_initial_seconds", float, 0.5, "First reconnect delay after a failure.", positive),
    Key(
        "shipper.backoff_max_seconds",
        float,
        60.0,
        "Reconnect delay cap; delays double up to this, with random jitter.",
        positive,
    ),
    Key("shipper.connect_timeout_seconds", float, 10.0, "Give up a connection attempt after this long.", positive),
    Key(
        "shipper.stop_flush_seconds",
        float,
        3.0,
        "On shutdown, how long to try sending what is still spooled (the rest is sent on the next start).",
        positive,
    ),
    Key(
        "certs.check_seconds",
        float,
        3600.0,
        "How often the agent looks at its certificate's expiry, in seconds.",
        positive,
    ),
    Key(
        "certs.renew_fraction",
        float,
        1 / 3,
        "The agent renews its certificate (new key, signed by the collector) when less than this fraction\n"
        "of its lifetime remains.",
        lambda v: None if 0 < v < 1 else "must be between 0 and 1",
    ),
    Key(
        "spool.capacity",
        int,
        100_000,
        "Most events kept while the collector is unreachable; beyond it the least severe are dropped\n"
        "and a spool.overflow event records how many.",
        positive,
    ),
    Key(
        "checks.enabled",
        bool,
        True,
        "Run the posture checks (MFA, patches, ...) on their intervals and record check.result events.",
        None,
    ),
    Key(
        "watchdog.memory_limit_mib",
        int,
        200,
        "The agent restarts itself (and reports it) when its resident memory stays above this, in MiB.",
        positive,
    ),
    Key(
        "watchdog.cpu_limit_percent",
        float,
        10.0,
        "... or when it uses more than this percentage of one CPU core on average over cpu_window_seconds.",
        positive,
    ),
    Key("watchdog.cpu_window_seconds", float, 60.0, "The window the CPU limit is averaged over.", positive),
    Key(
        "watchdog.interval_seconds",
        float,
        10.0,
        "How often memory and CPU are sampled (and status.json refreshed for `mamori-agent status`).",
        positive,
    ),
    Key(
        "integrity.check_seconds",
        float,
        300.0,
        "How often the agent's own code, its config file and its policy cache are compared with what it\n"
        "started with or last stored; any edit is reported as agent.tamper (and an edited policy cache\n"
        "is no longer trusted: the strictest policy applies until the collector sends one again).",
        positive,
    ),
    Key(
        "log.level",
        str,
        "info",
        "Log verbosity: debug, info, warning, error.",
        one_of("debug", "info", "warning", "error"),
    ),
]

HEADER = """Mamori agent configuration.
Every key is listed with its default; restart the agent to apply."""


@dataclass(frozen=True)
class StateDir:
    """Paths inside the agent's state folder."""

    root: Path

    @property
    def key(self) -> Path:
        return self.root / "agent.key"

    @property
    def cert(self) -> Path:
        return self.root / "agent.crt"

    @property
    def ca_cert(self) -> Path:
        return self.root / "ca.crt"

    @property
    def identity(self) -> Path:
        return self.root / "identity.json"

    @property
    def config(self) -> Path:
        return self.root / "agent.toml"

    @property
    def policy(self) -> Path:
        return self.root / "policy.json"

    @property
    def spool(self) -> Path:
        return self.root / "spool"

    @property
    def checks(self) -> Path:
        """The latest result per check, for `mamori-agent status`."""
        return self.root / "checks.json"

    @property
    def check_schedule(self) -> Path:
        """What the check scheduler last recorded (digests, last full report), so restarts don't repeat it."""
        return self.root / "check-schedule.json"

    @property
    def running_marker(self) -> Path:
        return self.root / "running.pid"

    @property
    def run_lock(self) -> Path:
        return self.root / "run.lock"

    @property
    def stopped_marker(self) -> Path:
        return self.root / "stopped.at"

    @property
    def status(self) -> Path:
        return self.root / "status.json"

    @property
    def integrity(self) -> Path:
        return self.root / "integrity.json"


def load_settings(state: StateDir, path: Path | None) -> dict[str, Any]:
    """--config FILE if given (must exist); else agent.toml in the state folder if present; else defaults."""
    if path is not None:
        return load(path, SCHEMA)
    if state.config.exists():
        return load(state.config, SCHEMA)
    return {k.name: k.default for k in SCHEMA}


def render_config() -> str:
    return render(SCHEMA, None, HEADER)
