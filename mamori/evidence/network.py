"""Evidence of the network checks: network_segment (NET-002, NET-003) and time_sync (OPS-001)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mamori.evidence.base import Evidence


@dataclass(frozen=True)
class NetworkSegment(Evidence):
    CHECK = "network_segment"
    probes: list[dict[str, Any]] | None = None  # NET-002: {"target", "result": "connected"|"refused"|...}
    active: list[str] | None = None  # NET-003: interfaces up with a global address
    outside_registered: list[str] | None = None  # NET-003: "eth0 192.0.2.10/24" outside the registered networks
    usb_network: list[str] | None = None  # NET-003: interfaces on a USB device (counted with active, up or not)
    interfaces: list[dict[str, Any]] | None = None
    registered_networks: list[str] | None = None
    max_active_interfaces: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class TimeSync(Evidence):
    CHECK = "time_sync"
    synchronised: bool | None = None  # OPS-001
    offset_seconds: float | None = None  # OPS-001; None where the service does not tell (timedatectl)
    service: str | None = None
    source: str | None = None
    reference: str | None = None
    stratum: str | None = None
    leap: str | None = None
    last_sync: str | None = None
    ntp_enabled: bool | None = None
    limit_seconds: float | None = None
    tried: list[str] | None = None
