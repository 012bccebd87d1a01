"""Evidence of the logon checks: mfa (AUT-001, AUT-002), screen_lock (AUT-003), local_admin (wave 2)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mamori.evidence.base import Evidence


@dataclass(frozen=True)
class Mfa(Evidence):
    CHECK = "mfa"
    # The verdicts the rules read.
    local_mfa: bool | None = None  # AUT-001: every local logon service needs a second factor
    remote_logon_enabled: bool | None = None  # AUT-002: sshd / RDP accepts logons
    remote_mfa: bool | None = None  # AUT-002: ... and only with two factors
    remote: list[str] | None = None
    mfa_required: bool | None = None
    # Linux: the PAM stacks (service, files, modules with their lines, ways in), sshd and authselect.
    logon: list[dict[str, Any]] | None = None
    not_logon: dict[str, str] | None = None
    autologin: dict[str, str] | None = None
    authselect: dict[str, Any] | None = None
    sshd_pam: dict[str, Any] | None = None
    sshd: dict[str, Any] | None = None
    warnings: list[str] | None = None
    pam_d: str | None = None
    # Windows: where logon is configured.
    source: str | None = None
    rdp_enabled: bool | None = None
    scforceoption: bool | None = None
    windows_hello_for_business: bool | None = None
    excluded_credential_providers: list[str] | None = None
    password_provider_disabled: bool | None = None
    third_party_credential_providers: dict[str, Any] | None = None
    third_party_filters: dict[str, Any] | None = None


@dataclass(frozen=True)
class ScreenLock(Evidence):
    CHECK = "screen_lock"
    # The weakest desktop's state, what AUT-003 reads: 0 s means it never locks.
    enabled: bool | None = None
    timeout_seconds: int | None = None
    enforced: bool | None = None  # staff cannot change it
    limit_minutes: int | None = None
    GNOME: dict[str, Any] | None = None
    KDE: dict[str, Any] | None = None
    InactivityTimeoutSecs: int | None = None
    key: str | None = None
    problems: list[str] | None = None
    root: str | None = None


@dataclass(frozen=True)
class LocalAdmin(Evidence):
    CHECK = "local_admin"
    uid_range: list[int] | None = None
    staff_accounts: int | None = None
    admin_holders: dict[str, list[str]] | None = None
    permitted: list[str] | None = None
    sources: list[str] | None = None
    problems: list[str] | None = None
    members: list[Any] | None = None
    source: str | None = None
    error: str | None = None
