"""The product's one clock: code asks `clock.now()`, so tests fix the time instead of depending on today's date."""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)
