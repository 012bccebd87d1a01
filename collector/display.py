"""The collector's one display time zone ([display] timezone): CLI tables, reports and the dates staff type."""

from __future__ import annotations

from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mamori import clock
from mamori.clock import JST

DEFAULT = "Asia/Tokyo"
_zone: tzinfo = JST


def zone_of(name: str) -> tzinfo:
    """The zone of a tz database name; Japan is mamori.clock.JST (a fixed offset, the same wherever it runs)."""
    if name == DEFAULT:
        return JST
    return ZoneInfo(name)


def check_timezone(value: str) -> str | None:
    """Config validator: a tz database name this machine knows."""
    try:
        zone_of(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder name such as "Asia"
        return "must be a time zone name of the tz database, e.g. Asia/Tokyo or UTC"
    return None


def configure(name: str = DEFAULT) -> None:
    """Set the zone for this process (the CLI does, from the config, before a command runs)."""
    global _zone
    _zone = zone_of(name)


def zone() -> tzinfo:
    return _zone


def label(at: datetime | None = None) -> str:
    """The zone's short name as staff read it in a header: JST, UTC, CET (an offset-only name as UTC-03)."""
    name = (at or clock.now()).astimezone(_zone).tzname() or ""
    return f"UTC{name}" if name[:1] in "+-" else name


def header(text: str) -> str:
    """A column title of times: 「最終通信 (JST)」 / "Last seen (JST)"."""
    return f"{text} ({label()})"


def local(ts: datetime | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    return ts.astimezone(_zone).strftime(fmt) if ts else "-"


def stamp(ts: datetime | None) -> str:
    """A time inside a sentence, with its zone: 2027-03-31 23:59:59 JST."""
    return f"{local(ts)} {label()}" if ts else "-"
