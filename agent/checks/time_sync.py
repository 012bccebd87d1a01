"""time_sync: the clock is synchronised and its offset within policy (OPS-001) — logs are evidence only
if their timestamps can be trusted."""

from __future__ import annotations

from typing import Any

from agent.checks.base import ERROR, FAIL, NOT_APPLICABLE, PASS, Context, Result
from agent.checks.spec import CheckSpec, Threshold
from agent.host.facts import TimeSyncFacts
from mamori.evidence.network import TimeSync
from mamori.i18n import N_, _

SPEC = CheckSpec(
    id="time_sync",
    title=N_("Time synchronisation"),
    platforms=("linux", "windows"),
    interval_seconds=3600,
    severity="medium",
    rules=("OPS-001",),
    remediation=N_(
        "Enable time synchronisation with the office NTP server (chrony or systemd-timesyncd; w32time on "
        "Windows) and check that the server is reachable."
    ),
    reads={"linux": "`chronyc tracking`, `timedatectl`", "windows": "`w32tm /query /status`"},
    thresholds=(Threshold.of("clock_max_offset_seconds"),),
)
ID, TITLE, PLATFORMS, INTERVAL_SECONDS, SEVERITY, RULES, REMEDIATION = SPEC.metadata()


def run(ctx: Context) -> Result:
    return verdict(ctx.facts().time_sync(), ctx.settings)


def verdict(facts: TimeSyncFacts, settings: dict[str, Any]) -> Result:
    """Pure: the facts and the policy's limit -> the result."""
    if facts.unavailable:
        return Result(NOT_APPLICABLE, _("no Windows data source"), TimeSync())
    if facts.error:
        return Result(ERROR, _("cannot query w32time: {exc}").format(exc=facts.error), TimeSync())
    if not facts.service:
        return Result(
            FAIL,
            _("no working time synchronisation (chrony, systemd-timesyncd) found"),
            TimeSync(tried=list(facts.tried)),
        )
    limit = settings["clock_max_offset_seconds"]
    offset = facts.offset_seconds
    evidence = TimeSync(
        synchronised=facts.synchronised,
        offset_seconds=offset,
        service=facts.service,
        source=facts.source,
        reference=facts.reference,
        stratum=facts.stratum,
        leap=facts.leap,
        last_sync=facts.last_sync,
        ntp_enabled=facts.ntp_enabled,
        limit_seconds=limit,
    )
    if not facts.synchronised:
        return Result(FAIL, _("clock not synchronised ({service})").format(service=facts.service), evidence)
    if offset is not None and abs(offset) > limit:
        return Result(
            FAIL, _("clock off by {offset:+.1f} s (allowed {limit:g} s)").format(offset=offset, limit=limit), evidence
        )
    shown = _("offset unknown") if offset is None else _("offset {offset:+.3f} s").format(offset=offset)
    return Result(PASS, _("synchronised by {service}, {shown}").format(service=facts.service, shown=shown), evidence)
