"""Which policy document each agent receives: its segment's (stored or default) plus its approved devices.

The usb part is computed per agent: the segment's own rules, then the approved-device register's rules
for all terminals, the agent's segment and its department (in import order), and the agent's active
temporary permissions (一時許可). The version is the document's hash, so any change reaches the agent.
"""

from __future__ import annotations

import copy
import logging
from datetime import UTC, datetime

from sqlalchemy import Engine, func, select

from collector.store import devices, queries
from collector.store.db import read_only
from collector.store.models import approved_devices, policies, temporary_permissions
from mamori import policy

log = logging.getLogger("mamori.collector.policies")


def current_policy(engine: Engine, segment: str, agent_id: str = "", department: str = "",
                   now: datetime | None = None) -> tuple[str, bytes]:
    """(version, canonical JSON bytes) of the policy in force for one agent."""
    now = now or datetime.now(UTC)
    stored = queries.get_policy(engine, segment)
    document = copy.deepcopy(stored["document"] if stored else policy.DEFAULTS[segment])
    rules, temps = devices.for_agent(engine, agent_id=agent_id, segment=segment, department=department, now=now)
    usb = document["usb"]
    usb["allow"] = list(usb.get("allow", [])) + [r.rule for r in rules]
    usb["temporary"] = list(usb.get("temporary", [])) + [
        {"id": t.id, "serial": t.serial, "until": t.until.astimezone(UTC).isoformat(), "reason": t.reason}
        for t in temps]
    try:
        document = policy.validate(document)
    except policy.PolicyError as exc:  # never push what the agent would refuse: push the segment default
        log.error("policy for agent %s does not validate (%s); sending the strictest policy", agent_id, exc)
        document = policy.strictest(segment)
    return policy.version_of(document), policy.canonical(document)


def generation(engine: Engine) -> str:
    """A value that changes whenever an input of some agent's policy changes (cheap to poll).

    Inputs: segment documents, the approved-device register, temporary permissions (granted or revoked).
    A permission running out needs no push: agents expire it by their own clock.
    """
    with engine.connect() as conn, read_only(conn):
        parts = [
            conn.execute(select(func.max(policies.c.updated_at), func.count()).select_from(policies)).one(),
            conn.execute(select(func.max(approved_devices.c.created_at), func.count())
                         .select_from(approved_devices)).one(),
            conn.execute(select(func.max(temporary_permissions.c.created_at),
                                func.max(temporary_permissions.c.revoked_at), func.count())
                         .select_from(temporary_permissions)).one(),
        ]
    return "|".join(str(v) for row in parts for v in row)
