"""OPS-002: no heartbeat for longer than policy (default 15 minutes, in office hours)."""

import re
from datetime import UTC, datetime, timedelta

from collector.rules.base import EXAMPLE_AT, N_, Clear, Flag, Param, Rule, event, parse_time
from mamori.clock import JST


def _office_hours(at: datetime, params) -> bool:
    local = at.astimezone(JST)
    if local.isoweekday() not in params["office_days"]:
        return False
    start, _, end = params["office_hours"].partition("-")
    return start <= local.strftime("%H:%M") < end


def _hours_ok(value: str) -> str | None:
    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-4]):[0-5]\d", value) or value[:5] >= value[6:]:
        return "must be HH:MM-HH:MM with the start before the end, e.g. 08:30-17:15"
    return None


def _days_ok(value: list) -> str | None:
    return None if all(d in range(1, 8) for d in value) else "must list weekday numbers 1 (Monday) to 7 (Sunday)"


def evaluate(s, params):
    seen = parse_time(s.payload.get("last_seen_at"))
    if seen is None:
        return None
    minutes = (s.at - seen).total_seconds() / 60
    facts = {"last_seen_at": seen.astimezone(UTC).isoformat()}
    if minutes <= params["minutes"]:
        return Clear(N_("heartbeat {minutes} min ago", minutes=round(minutes)), facts)
    if params["office_hours_only"] and not _office_hours(s.at, params):
        return None  # a terminal switched off after hours is not a violation; nor is it cleared
    return Flag(N_("no heartbeat for {minutes} min", minutes=round(minutes)), facts)


RULE = Rule(
    id="OPS-002",
    title_text=N_("No heartbeat for longer than policy"),
    severity={"mynumber": "high", "lgwan": "high", "internet": "high"},
    clause_bp=("BP6(7)",),
    clause_g=("7.1",),
    evidence_text=N_("the terminal's last contact as recorded by the collector"),
    remediation_text=N_("Check the terminal's power, network and the agent service."),
    evaluate=evaluate,
    state="heartbeat",
    params={
        "minutes": Param(15, "minutes without contact before the terminal is flagged", 1, 7 * 24 * 60),
        "office_hours_only": Param(True, "flag only during office hours (Japan time)"),
        "office_hours": Param("08:00-19:00", "office hours HH:MM-HH:MM, Japan time", extra=_hours_ok),
        "office_days": Param([1, 2, 3, 4, 5], "office days, ISO weekday numbers (1 = Monday)", extra=_days_ok),
    },
)

FLAGS = [event("lgwan", "state.heartbeat", {"last_seen_at": (EXAMPLE_AT - timedelta(minutes=40)).isoformat()})]
PASSES = [
    event("lgwan", "state.heartbeat", {"last_seen_at": (EXAMPLE_AT - timedelta(minutes=3)).isoformat()}),
    # Sunday night: off hours, not flagged
    event(
        "lgwan",
        "state.heartbeat",
        {"last_seen_at": "2026-11-01T10:00:00+00:00"},
        at=datetime(2026, 11, 1, 13, 0, tzinfo=UTC),
    ),
]
