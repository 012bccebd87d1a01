"""Evidence of the protection checks: antivirus (MAL-001, MAL-002), disk_encryption (ENC-001), firewall (NET-001)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mamori.evidence.base import Evidence


@dataclass(frozen=True)
class Antivirus(Evidence):
    CHECK = "antivirus"
    product: str | None = None
    # MAL-001: installed, its engine running, real-time (on-access) protection on; MAL-002: signature age.
    installed: bool | None = None
    running: bool | None = None
    realtime: bool | None = None
    signature_age_days: float | None = None
    limit_days: int | None = None
    # ClamAV
    clamd_installed: bool | None = None
    clamonacc_installed: bool | None = None
    processes: list[str] | None = None
    databases: dict[str, str] | None = None
    database_dir: str | None = None
    # Microsoft Defender (Get-MpComputerStatus as read)
    status: dict[str, Any] | None = None
    source: str | None = None
    root: str | None = None


@dataclass(frozen=True)
class DiskEncryption(Evidence):
    CHECK = "disk_encryption"
    encrypted: bool | None = None  # ENC-001: every system mount sits on an encryption layer
    method: str | None = None
    laptop: bool | None = None  # a laptop leaves the office: ENC-001 is high there
    mounts: dict[str, Any] | None = None
    volumes: list[dict[str, Any]] | None = None
    source: str | None = None


@dataclass(frozen=True)
class Firewall(Evidence):
    CHECK = "firewall"
    enabled: bool | None = None  # NET-001: incoming traffic is denied by default (every family / profile)
    input_chains: list[dict[str, Any]] | None = None
    filtered: list[str] | None = None
    ufw_enabled: bool | None = None
    firewalld_installed: bool | None = None
    profiles: dict[str, Any] | None = None
    source: str | None = None
