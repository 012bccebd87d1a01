"""Shared pieces of the collector CLI: the error type, time/JSON formatting, store access."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

from collector import display
from collector.config import DataDir
from mamori import clock
from mamori.cliutil import CliError  # noqa: F401 (re-exported for the command modules)
from mamori.durations import parse_duration
from mamori.i18n import _


def actor(args: argparse.Namespace) -> str:
    """Who is acting: --by, else the invoking (sudo) user (the audit log records that login name as well)."""
    from collector.store.audit import login_name

    return getattr(args, "by", None) or login_name()


def local(ts: datetime | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """A time in the display zone ([display] timezone); its column header says which (display.header)."""
    return display.local(ts, fmt)


def iso(ts: datetime | None) -> str | None:
    return ts.astimezone(UTC).isoformat() if ts else None


def print_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True))


def engine(datadir: DataDir):
    from collector.store.db import make_engine

    return make_engine(datadir.database_url(datadir.load_settings()))


def find_agent(bind, agent_id: str):
    """The agent with this id (or unique 8+ character prefix), or a CliError telling staff how to look."""
    from collector.store import queries

    try:
        row = queries.get_agent(bind, agent_id)
    except queries.AmbiguousId:
        raise CliError(_("{id} matches several agents; give more of the ID").format(id=agent_id)) from None
    if row is None:
        raise CliError(_("no agent {id}; see `mamori-collector agents list`").format(id=agent_id))
    return row


def known_department(db, name: str | None) -> str | None:
    """The 所属 name itself when some terminal belongs to it; a typo would silently match nothing, so refuse it."""
    if name is None:
        return None
    import sqlalchemy as sa

    from collector.store.models import agents

    with db.connect() as conn:
        known = sorted(conn.execute(sa.select(agents.c.department).distinct()).scalars())
    if name not in known:
        raise CliError(
            _("unknown department {name}; known departments: {known}").format(
                name=name, known=", ".join(known) or _("(none: no terminal is enrolled yet)")
            )
        )
    return name


def parse_when(text: str, option: str, *, end_of_day: bool = False) -> datetime:
    """A time staff typed: a duration back from now (7d), a date (2026-11-01) or ISO date-time, in the display zone.

    With end_of_day a plain date means the end of that day (an exception valid "until 2026-12-31").
    """
    try:
        return clock.now() - parse_duration(text)
    except ValueError:
        pass
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            start = datetime(day.year, day.month, day.day, tzinfo=display.zone())
            return start + timedelta(days=1) - timedelta(microseconds=1) if end_of_day else start
        value = datetime.fromisoformat(text)
        return value if value.tzinfo else value.replace(tzinfo=display.zone())
    except ValueError:
        raise CliError(
            _("invalid {option} {value}: use a date (2026-11-01), a date-time or a duration (7d)").format(
                option=option, value=text
            )
        ) from None


def parse_until(text: str, option: str = "--until") -> datetime:
    """The end of a validity staff typed, one reading for exceptions and device approvals: a date is through the
    end of that day, a date-time is that moment; both in the display zone unless an offset is given."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return (
                datetime(day.year, day.month, day.day, tzinfo=display.zone())
                + timedelta(days=1)
                - timedelta(microseconds=1)
            )
        value = datetime.fromisoformat(text)
        return value if value.tzinfo else value.replace(tzinfo=display.zone())
    except ValueError:
        raise CliError(
            _(
                "invalid {option} {value}: use a date (2027-03-31, through the end of that day) or a date "
                "and time (2027-03-31T17:00)"
            ).format(option=option, value=text)
        ) from None


def rule_id_arg(text: str) -> str:
    from collector.rules import RULES

    rule_id = text.strip().upper()
    if rule_id not in RULES:
        raise CliError(_("unknown rule {rule}; known rules: {known}").format(rule=text, known=", ".join(RULES)))
    return rule_id
