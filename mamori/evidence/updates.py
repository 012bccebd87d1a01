"""Evidence of the update checks: patch (PAT-001..003) and os_support (PAT-004)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mamori.evidence.base import Evidence


@dataclass(frozen=True)
class Patch(Evidence):
    CHECK = "patch"
    backend: str | None = None  # apt | dnf | windows_update
    # PAT-001: the pending security updates (list capped at 100), their full count and the oldest ages.
    pending_security: list[dict[str, Any]] | None = None
    pending_security_count: int | None = None
    oldest_security_days: float | None = None
    oldest_critical_days: float | None = None
    # PAT-002: since when the update information is current (the older of the lists' refresh and the security
    # mirror's own date); never_refreshed when it was never fetched at all.
    source_refreshed: str | None = None
    never_refreshed: bool | None = None
    # PAT-003: a reboot is pending, since when (first noticed where the OS does not date it).
    reboot_required: bool | None = None
    reboot_required_since: str | None = None
    pending_total: int | None = None
    sources: list[dict[str, Any]] | None = None
    security_source_configured: bool | None = None
    lists_refreshed: str | None = None
    metadata_refreshed: str | None = None
    last_search_success: str | None = None
    last_install_success: str | None = None
    last_upgrade: str | None = None
    last_upgrade_packages: int | None = None
    reboot_packages: list[str] | None = None
    source: str | None = None
    problems: list[str] | None = None
    age_basis: str | None = None
    thresholds: dict[str, Any] | None = None
    error: str | None = None
    root: str | None = None


@dataclass(frozen=True)
class OsSupport(Evidence):
    CHECK = "os_support"
    release: str | None = None
    end_of_support: str | None = None  # ISO date; PAT-004 compares it with the time of judgement
    days_left: int | None = None
    note: str | None = None
    table: str | None = None
    problem: str | None = None
