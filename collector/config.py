"""The collector's data folder: where its CA, certificates, config file and database live."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from collector.display import check_timezone
from collector.forward import settings as forward_settings
from collector.pki import check_duration, parse_duration
from mamori.tomlconf import ConfigError, Key, host_port, load, positive, render

ENV_DATA_DIR = "MAMORI_DATA_DIR"
# Packaged installs keep the config in /etc/mamori, apart from the data (the systemd unit sets this).
ENV_CONFIG = "MAMORI_CONFIG"


def optional_host_port(value: Any) -> str | None:
    return host_port(value) if value else None


SCHEMA = [
    Key(
        "server.listen",
        str,
        "0.0.0.0:7443",
        "Telemetry endpoint (mutual TLS). Agents stream events here with their client certificates.",
        host_port,
    ),
    Key(
        "server.enroll_listen",
        str,
        "0.0.0.0:7444",
        "Enrollment endpoint (server-authenticated TLS). Agents present an enrollment token here once.",
        host_port,
    ),
    Key(
        "server.advertised_telemetry_port",
        int,
        0,
        "Telemetry port told to agents at enrollment when they reach collectors through a load balancer\n"
        "(several collectors sharing one PostgreSQL). 0: the port in server.listen.",
    ),
    Key(
        "server.max_message_bytes",
        int,
        4 * 1024 * 1024,
        "Largest single message accepted from an agent, in bytes; larger ones are refused.",
        positive,
    ),
    Key(
        "server.max_batch_events",
        int,
        5000,
        "Most events accepted in one batch; a larger batch is refused and nothing of it is stored.",
        positive,
    ),
    Key(
        "server.revocation_check_seconds",
        float,
        2.0,
        "How often open streams are checked for revocations (`agents revoke`) and policy changes to push.",
        positive,
    ),
    Key(
        "server.enroll_max_failures",
        int,
        5,
        "Failed enrollments (bad, expired, used-up or revoked token) from one address before the enrollment\n"
        "endpoint refuses it outright (RESOURCE_EXHAUSTED) until server.enroll_failure_window_seconds pass.",
        positive,
    ),
    Key(
        "server.enroll_failure_window_seconds",
        float,
        600.0,
        "The window in which failed enrollments from one address are counted, in seconds.",
        positive,
    ),
    Key(
        "server.shutdown_grace_seconds",
        float,
        5.0,
        "On SIGTERM: seconds to let in-flight batches finish before connections are closed.",
        positive,
    ),
    Key(
        "server.workers",
        int,
        1,
        "Serving processes sharing the two ports (SO_REUSEPORT), one Python process per core being what the\n"
        "GIL allows. 0: one per core. `serve --workers N` overrides it. [metrics] needs 1 for now.",
    ),
    Key(
        "rules.tick_seconds",
        float,
        60.0,
        "How often state rules run (heartbeat, patch age, expired exceptions), in seconds. Collectors sharing\n"
        "one database run each tick once between them.",
        positive,
    ),
    Key(
        "display.timezone",
        str,
        "Asia/Tokyo",
        "Time zone of the times the CLI and reports show and of the dates staff type (--until 2027-03-31 is\n"
        "the end of that day here, report periods are its days). A tz database name, e.g. Asia/Tokyo or UTC.",
        check_timezone,
    ),
    Key(
        "database.url",
        str,
        "",
        "SQLAlchemy URL of the store. Empty: SQLite file mamori.db in the data folder.\n"
        "PostgreSQL: postgresql://USER:PASSWORD@HOST:5432/DBNAME (several collectors may share it).",
    ),
    Key(
        "retention.events_days",
        int,
        365,
        "Days events stay in the database (whole UTC months older than this move to monthly archives).\n"
        "Violations, exceptions and the audit log are never removed; events their open violations cite stay.",
        positive,
    ),
    Key(
        "retention.archive_years",
        int,
        3,
        "Years a monthly archive is kept after its events left the database; then it is deleted.",
        positive,
    ),
    Key(
        "retention.archive_dir",
        str,
        "",
        "Folder of the monthly archives (events-YYYY-MM.jsonl.gz and .sha256). Empty: archive/ in the data\n"
        "folder. Collectors sharing one PostgreSQL should point this at one shared folder.",
    ),
    Key(
        "retention.run_minutes",
        float,
        60.0,
        "How often a serving collector runs retention, in minutes (one collector at a time per database).",
        positive,
    ),
    Key(
        "pki.agent_cert_lifetime",
        str,
        "365d",
        "Validity of agent certificates (at enrollment and at each renewal): a number with d (days), h or m.\n"
        "Agents renew theirs over the telemetry channel when less than a third of it remains.",
        check_duration,
    ),
    Key(
        "pki.agent_cert_days",
        int,
        0,
        "Deprecated (files from before agent_cert_lifetime): when above 0, agent certificates live this many\n"
        "days and agent_cert_lifetime is ignored.",
    ),
    Key(
        "pki.server_cert_lifetime",
        str,
        "825d",
        "Validity of the collector's server certificate when it renews it (d, h or m), which it does on its own\n"
        "when less than a third of the lifetime remains.",
        check_duration,
    ),
    Key(
        "pki.check_seconds",
        float,
        3600.0,
        "How often `serve` checks whether its server certificate is due for renewal, in seconds.",
        positive,
    ),
    Key("pki.hosts", list, [], "Host names and addresses in the server certificate (set by `init --host`)."),
    Key(
        "metrics.listen",
        str,
        "",
        "HTTP address of /metrics (Prometheus text format) and /healthz, e.g. 127.0.0.1:7445. Empty: off.\n"
        "Unauthenticated: keep it on loopback or a management network. Each serve process has its own.",
        optional_host_port,
    ),
    *forward_settings.SCHEMA,
]

HEADER = """Mamori collector configuration.
Every key is listed with its default; edit and restart `mamori-collector serve` to apply."""


@dataclass(frozen=True)
class DataDir:
    """Paths inside a collector data folder."""

    root: Path
    config_file: Path | None = None  # None: collector.toml inside the data folder

    @property
    def config(self) -> Path:
        return self.config_file or self.root / "collector.toml"

    @property
    def ca_key(self) -> Path:
        return self.root / "ca.key"

    @property
    def ca_cert(self) -> Path:
        return self.root / "ca.crt"

    @property
    def server_key(self) -> Path:
        return self.root / "server.key"

    @property
    def server_cert(self) -> Path:
        return self.root / "server.crt"

    @property
    def sqlite(self) -> Path:
        return self.root / "mamori.db"

    @property
    def serve_lock(self) -> Path:
        return self.root / "serve.lock"

    def archive(self, settings: dict[str, Any]) -> Path:
        value = settings["retention.archive_dir"]
        return Path(value).expanduser() if value else self.root / "archive"

    def database_url(self, settings: dict[str, Any]) -> str:
        return settings["database.url"] or f"sqlite:///{self.sqlite}"

    def load_settings(self) -> dict[str, Any]:
        if not self.config.exists():
            raise ConfigError(f"{self.config}: not found — run `mamori-collector init --data-dir {self.root}` first")
        values = load(self.config, SCHEMA)
        forward_settings.check(self.config, values)  # keys that depend on each other, with FILE:LINE
        return values


def agent_cert_lifetime(settings: dict[str, Any]) -> timedelta:
    """The validity of agent certificates: the deprecated day count if a config still sets it."""
    days = settings["pki.agent_cert_days"]
    return timedelta(days=days) if days > 0 else parse_duration(settings["pki.agent_cert_lifetime"])


def resolve_data_dir(arg: str | None) -> DataDir:
    value = arg or os.environ.get(ENV_DATA_DIR)
    if not value:
        raise ConfigError(f"no data folder: pass --data-dir DIR or set {ENV_DATA_DIR}")
    config = os.environ.get(ENV_CONFIG)
    return DataDir(Path(value).expanduser().resolve(), Path(config).expanduser().resolve() if config else None)


def render_config(values: dict[str, Any]) -> str:
    return render(SCHEMA, values, HEADER)
