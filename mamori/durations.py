"""Durations as staff type them: 90s, 15m, 24h, 7d, 2w."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PATTERN = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")


def parse_duration(text: str) -> timedelta:
    """Parse '24h' style text; raise ValueError naming the accepted forms otherwise."""
    match = _PATTERN.match(str(text))
    if not match:
        raise ValueError(f"invalid duration {text!r}: use a number and a unit s/m/h/d/w, e.g. 30m or 24h")
    amount, unit = int(match.group(1)), match.group(2)
    if amount <= 0:
        raise ValueError(f"invalid duration {text!r}: must be greater than zero")
    return timedelta(seconds=amount * _UNITS[unit])
