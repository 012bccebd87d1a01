"""Which policy document each segment's agents receive: the stored one, else the segment default."""

from __future__ import annotations

from sqlalchemy import Engine

from collector.store import queries
from mamori import policy


def current_policy(engine: Engine, segment: str) -> tuple[str, bytes]:
    """(version, canonical JSON bytes) of the policy in force for a segment."""
    stored = queries.get_policy(engine, segment)
    document = stored["document"] if stored else policy.DEFAULTS[segment]
    return policy.version_of(document), policy.canonical(document)
