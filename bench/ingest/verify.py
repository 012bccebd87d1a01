"""Check the store after a run: exactly the acknowledged events, per agent seqs 1..n, no gaps, no extras."""

from __future__ import annotations

from sqlalchemy import text

from collector.store.db import make_engine

GAP_KIND = "sequence.gap"


class StoreMismatch(AssertionError):
    """The store does not hold exactly what the collector acknowledged."""


def stored_per_agent(database_url: str) -> tuple[dict[str, tuple[int, int, int]], int]:
    """({agent_id: (count, min seq, max seq)} of agent events, number of gap events) straight from SQL."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT agent_id, count(*), min(seq), max(seq) FROM events WHERE kind != :gap GROUP BY agent_id"),
                {"gap": GAP_KIND},
            ).all()
            gaps = conn.execute(text("SELECT count(*) FROM events WHERE kind = :gap"), {"gap": GAP_KIND}).scalar_one()
    finally:
        engine.dispose()
    return {r[0]: (int(r[1]), int(r[2]), int(r[3])) for r in rows}, int(gaps)


def verify_store(database_url: str, acked: dict[str, int]) -> int:
    """The total stored; raises StoreMismatch unless each agent has exactly seqs 1..acked[agent]."""
    stored, gaps = stored_per_agent(database_url)
    problems = [f"{gaps} sequence.gap events"] if gaps else []
    for agent_id in sorted(set(stored) | set(acked)):
        want = acked.get(agent_id, 0)
        have = stored.get(agent_id, (0, 0, 0))
        if have != ((want, 1, want) if want else (0, 0, 0)):
            problems.append(f"agent {agent_id}: stored (count, min, max) {have}, acknowledged 1..{want}")
    if problems:
        raise StoreMismatch("; ".join(problems[:5]))
    return sum(count for count, _, _ in stored.values())
