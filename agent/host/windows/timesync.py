"""The clock's synchronisation on Windows: `w32tm /query /status /verbose` through the data source."""

from __future__ import annotations

import re
from typing import Any

from agent.host.facts import TimeSyncFacts

FREE_RUNNING = ("", "Local CMOS Clock", "Free-running System Clock")


def parse_w32tm_status(text: str) -> TimeSyncFacts:
    fields = {k.strip(): v.strip() for k, _, v in (line.partition(": ") for line in text.splitlines()) if v}
    leap = fields.get("Leap Indicator", "")
    m = re.match(r"(-?[\d.]+)s", fields.get("Phase Offset", ""))
    source = fields.get("Source", "")
    return TimeSyncFacts(
        service="w32time",
        leap=leap,
        source=source,
        stratum=fields.get("Stratum", ""),
        last_sync=fields.get("Last Successful Sync Time", ""),
        offset_seconds=float(m.group(1)) if m else None,
        synchronised=not leap.startswith("3") and source not in FREE_RUNNING,
    )


def read(source: Any) -> TimeSyncFacts:
    if source is None:
        return TimeSyncFacts(unavailable="no Windows data source")
    try:
        return parse_w32tm_status(str(source.query("w32tm_status")))
    except OSError as exc:
        return TimeSyncFacts(service="w32time", error=str(exc))
