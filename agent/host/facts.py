"""What the per-platform readers report to the checks: typed facts, the same shape on every OS."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TimeSyncFacts:
    """The clock's synchronisation as the OS's time service reports it (None: that service does not say)."""

    service: str = ""  # chrony | systemd-timesyncd | w32time | none; "" when no service answered
    synchronised: bool = False
    offset_seconds: float | None = None
    ntp_enabled: bool | None = None
    reference: str | None = None
    stratum: str | None = None
    leap: str | None = None
    source: str | None = None
    last_sync: str | None = None
    tried: tuple[str, ...] = ()  # why each service that was tried gave no answer
    unavailable: str = ""  # the platform has no data source at all (the verdict is not_applicable)
    error: str = ""  # asking the service failed (the verdict is error)
