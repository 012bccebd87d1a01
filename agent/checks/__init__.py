"""Posture checks, one module each; CHECKS is the registry (guarded by tests/agent/checks/test_registry.py)."""

from __future__ import annotations

from types import ModuleType

from agent.checks import (
    antivirus,
    disk_encryption,
    firewall,
    local_admin,
    mfa,
    network_segment,
    os_support,
    patch,
    screen_lock,
    software,
    time_sync,
)

CHECKS: dict[str, ModuleType] = {
    m.ID: m
    for m in (
        mfa,
        patch,
        os_support,
        time_sync,
        firewall,
        local_admin,
        software,
        network_segment,
        screen_lock,
        disk_encryption,
        antivirus,
    )
}
