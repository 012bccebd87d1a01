"""Posture checks, one module each; CHECKS is the registry (guarded by tests/agent/checks/test_registry.py)."""

from __future__ import annotations

from types import ModuleType

from agent.checks import mfa, patch

CHECKS: dict[str, ModuleType] = {m.ID: m for m in (mfa, patch)}
