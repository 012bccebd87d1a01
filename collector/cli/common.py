"""Shared pieces of the collector CLI: the error type, time/JSON formatting, store access."""

from __future__ import annotations

import argparse
import getpass
import json
import os
from datetime import UTC, datetime
from typing import Any

from collector.config import DataDir
from mamori.i18n import _


class CliError(Exception):
    """An error shown to staff as one line, with what to do next; exit status 2."""


def actor(args: argparse.Namespace) -> str:
    """Who is acting: --by, else the invoking (sudo) user."""
    return getattr(args, "by", None) or os.environ.get("SUDO_USER") or getpass.getuser()


def local(ts: datetime | None) -> str:
    return ts.astimezone().strftime("%Y-%m-%d %H:%M:%S") if ts else "-"


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
