"""Evidence of the software check (SW-001) and of the agent's own media control (MED-006)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mamori.evidence.base import Evidence


@dataclass(frozen=True)
class Software(Evidence):
    CHECK = "software"
    forbidden: list[dict[str, Any]] | None = None  # SW-001: {"name", "version", "pattern"} on the forbidden list
    not_permitted: list[str] | None = None  # SW-001: names outside the permitted list (when it is enforced)
    allowlist_enforced: bool | None = None
    not_permitted_count: int | None = None
    installed: int | None = None  # how many packages were checked
    source: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class MediaControl(Evidence):
    CHECK = "media_control"
    active: bool | None = None  # MED-006
    mode: str | None = None
    reason: str | None = None
    host: str | None = None


@dataclass(frozen=True)
class Failure(Evidence):
    """A check that could not run at all (wrong platform, crash, overrun): said by the agent's guard."""

    platform: str | None = None
    timeout_seconds: float | None = None
    exception: str | None = None
    message: str | None = None
    traceback: str | None = None
