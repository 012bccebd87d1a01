"""Re-enrollment of a terminal: its previous agent record is marked superseded and its violations closed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select, update

from collector.store import audit
from collector.store.models import agents, violations
from collector.store.violations import SYSTEM_ACTOR
from mamori.i18n import _


def supersede(conn: Connection, *, old_id: str, new_id: str, machine_id: str, at: datetime) -> bool:
    """Mark `old_id` superseded by `new_id`, inside the enrollment's transaction; False when it does not apply.

    Only the record the terminal itself names, and only when the machine ids match: a cloned disk image
    shares its machine id with many terminals, so machine id alone must never retire a record.
    """
    row = conn.execute(
        select(agents.c.id).where(
            agents.c.id == old_id.strip().lower(),
            agents.c.machine_id == machine_id,
            agents.c.machine_id != "",
            agents.c.superseded_by.is_(None),
            agents.c.id != new_id,
        )
    ).one_or_none()
    if row is None:
        return False
    conn.execute(update(agents).where(agents.c.id == row.id).values(superseded_by=new_id, superseded_at=at))
    note = _("replaced by re-enrollment (new ID {id})").format(id=new_id)
    # The terminal lives on under the new id, which reports its full posture at once: what was open on the old
    # record is not a finding about any terminal any more.
    closed = list(
        conn.execute(
            update(violations)
            .where(violations.c.agent_id == row.id, violations.c.status != "resolved")
            .values(status="resolved", active_key=None, resolved_at=at, resolved_by=SYSTEM_ACTOR, resolution_note=note)
            .returning(violations.c.id)
        ).scalars()
    )
    audit.record(
        conn,
        at=at,
        actor=SYSTEM_ACTOR,
        action="agent.supersede",
        target=f"agent:{row.id}",
        details={"superseded_by": new_id, "note": note, "violations_resolved": sorted(closed)},
    )
    return True
