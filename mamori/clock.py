"""The product's one clock: code asks `clock.now()`, so tests fix the time instead of depending on today's date."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

# Japan time: report periods, office hours and dates staff type. A fixed offset, not ZoneInfo("Asia/Tokyo"):
# Japan has no daylight saving time and Windows terminals may lack the tz database.
JST = timezone(timedelta(hours=9), "JST")  # named: the label of time columns


def now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)
