"""Which policy document each segment's agents receive: the stored one, else the segment default."""

from __future__ import annotations

from sqlalchemy import Engine, func, select

from collector.store import queries
from collector.store.db import read_only
from collector.store.models import policies
from mamori import policy


def current_policy(engine: Engine, segment: str) -> tuple[str, bytes]:
    """(version, canonical JSON bytes) of the policy in force for a segment."""
    stored = queries.get_policy(engine, segment)
    document = stored["document"] if stored else policy.DEFAULTS[segment]
    return policy.version_of(document), policy.canonical(document)


def generation(engine: Engine) -> str:
    """A value that changes whenever any input of any agent's policy changes (cheap to poll)."""
    with engine.connect() as conn, read_only(conn):
        latest = conn.execute(select(func.max(policies.c.updated_at), func.count())).one()
    return f"{latest[0]}|{latest[1]}"
