"""Store queries for the server and the staff CLI; they return plain dataclasses and dicts, never ORM objects.

Every function takes `bind`: an Engine (one transaction of its own) or a Connection from
`with engine.begin() as conn`, so a caller can combine several calls into one transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection, Engine, Row, func, select, update

from collector.store.db import dialect_insert, read_only
from collector.store.models import agents, enrollment_tokens, events, policies

Bind = Engine | Connection
AgentStatus = Literal["ok", "revoked", "superseded", "unknown"]
AgentState = Literal["active", "revoked", "superseded"]  # mamori.labels.AGENT_STATES
MIN_PREFIX = 8
_IN_CHUNK = 500  # ids per IN (...) list: well under every backend's bound-parameter limit


class AmbiguousId(LookupError):
    """An id prefix that matches several agents."""

    def __init__(self, prefix: str, matches: list[str]):
        super().__init__(f"id prefix {prefix!r} matches several agents: {', '.join(matches)}")
        self.prefix = prefix
        self.matches = matches


class TokenError(Exception):
    """An enrollment token that cannot be used; reason is "unknown", "expired", "used_up" or "revoked".

    token_id names the token when it exists (the audit log records which one was tried, never its secret).
    """

    def __init__(self, reason: Literal["unknown", "expired", "used_up", "revoked"], token_id: int | None = None):
        super().__init__(f"enrollment token {reason.replace('_', ' ')}")
        self.reason = reason
        self.token_id = token_id


@dataclass(frozen=True, slots=True)
class AgentRow:
    id: str
    segment: str
    department: str
    hostname: str
    os: str
    os_version: str
    agent_version: str
    machine_id: str
    cert_serial: str
    cert_sha256: str
    cert_not_after: datetime
    enrolled_at: datetime
    last_seen_at: datetime | None
    last_seq: int
    policy_version: str | None
    revoked_at: datetime | None
    revoked_by: str | None
    superseded_by: str | None = None
    superseded_at: datetime | None = None
    previous_cert_serial: str | None = None
    cert_renewed_at: datetime | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def state(self) -> AgentState:
        """One of mamori.labels.AGENT_STATES; revocation outranks supersession."""
        return "revoked" if self.revoked else "superseded" if self.superseded_by else "active"

    def cert_matches(self, serial: int | str) -> bool:
        """Whether a presented certificate serial (int or hex) is the one on record, or the one a renewal
        replaced while the agent has not yet used its new one (the renewal's reply may never have arrived)."""
        return normalize_serial(serial) in (self.cert_serial, self.previous_cert_serial)


@dataclass(frozen=True, slots=True)
class TokenRow:
    id: int
    token_hash: str
    segment: str
    department: str
    uses_allowed: int
    uses_left: int
    expires_at: datetime
    created_at: datetime
    created_by: str
    revoked_at: datetime | None = None
    revoked_by: str | None = None

    def state(self, now: datetime) -> str:
        """One of mamori.labels.TOKEN_STATES; a revocation outranks the rest (staff's decision)."""
        if self.revoked_at is not None:
            return "revoked"
        return "used_up" if self.uses_left <= 0 else "expired" if self.expires_at <= now else "active"


@dataclass(frozen=True, slots=True)
class EventRow:
    id: int
    agent_id: str
    seq: int | None
    event_id: str
    kind: str
    severity: str
    occurred_at: datetime
    received_at: datetime
    payload: dict[str, Any]


def normalize_serial(serial: int | str) -> str:
    """Lower-case hex without leading zeros or 0x: one spelling per serial number."""
    value = serial if isinstance(serial, int) else int(serial.removeprefix("0x").replace(":", ""), 16)
    return format(value, "x")


@contextmanager
def _write(bind: Bind) -> Iterator[Connection]:
    if isinstance(bind, Connection):
        yield bind
    else:
        with bind.begin() as conn:
            yield conn


@contextmanager
def _read(bind: Bind) -> Iterator[Connection]:
    if isinstance(bind, Connection):
        yield bind
    else:
        with read_only(bind.connect()) as conn:
            yield conn


def _agent(row: Row[Any]) -> AgentRow:
    return AgentRow(**row._mapping)


def _token(row: Row[Any]) -> TokenRow:
    return TokenRow(**row._mapping)


# --- agents -------------------------------------------------------------------------------------


def create_agent(
    bind: Bind,
    *,
    agent_id: str,
    segment: str,
    department: str,
    hostname: str,
    os: str,
    os_version: str,
    agent_version: str,
    machine_id: str,
    cert_serial: int | str,
    cert_sha256: str,
    cert_not_after: datetime,
    enrolled_at: datetime,
) -> AgentRow:
    values = dict(
        id=str(uuid.UUID(agent_id)),  # canonical lower-case form, so id lookups and prefixes match
        segment=segment,
        department=department,
        hostname=hostname,
        os=os,
        os_version=os_version,
        agent_version=agent_version,
        machine_id=machine_id,
        cert_serial=normalize_serial(cert_serial),
        cert_sha256=cert_sha256.lower(),
        cert_not_after=cert_not_after,
        enrolled_at=enrolled_at,
    )
    with _write(bind) as conn:
        return _agent(conn.execute(agents.insert().values(**values).returning(*agents.c)).one())


def get_agent(bind: Bind, agent_id: str) -> AgentRow | None:
    """The agent with this id, or with this unique id prefix of at least 8 characters."""
    agent_id = agent_id.strip().lower()
    with _read(bind) as conn:
        row = conn.execute(select(agents).where(agents.c.id == agent_id)).one_or_none()
        if row is not None or len(agent_id) < MIN_PREFIX:
            return None if row is None else _agent(row)
        rows = conn.execute(
            select(agents).where(agents.c.id.startswith(agent_id, autoescape=True)).order_by(agents.c.id).limit(5)
        ).all()
    if len(rows) > 1:
        raise AmbiguousId(agent_id, [r.id for r in rows])
    return _agent(rows[0]) if rows else None


def list_agents(bind: Bind) -> list[AgentRow]:
    with _read(bind) as conn:
        rows = conn.execute(select(agents).order_by(agents.c.segment, agents.c.hostname, agents.c.id)).all()
    return [_agent(r) for r in rows]


def revoke_agent(bind: Bind, agent_id: str, by: str, at: datetime) -> bool:
    """Revoke an agent; False when it does not exist or was already revoked (the first revocation stands)."""
    with _write(bind) as conn:
        result = conn.execute(
            update(agents)
            .where(agents.c.id == agent_id, agents.c.revoked_at.is_(None))
            .values(revoked_at=at, revoked_by=by)
        )
    return result.rowcount == 1


def revoked_agent_ids(bind: Bind, among: Collection[str]) -> set[str]:
    """Which of these agents are revoked (unknown ids are not reported)."""
    ids = list(dict.fromkeys(among))
    found: set[str] = set()
    with _read(bind) as conn:
        for i in range(0, len(ids), _IN_CHUNK):
            chunk = ids[i : i + _IN_CHUNK]
            found.update(
                conn.execute(
                    select(agents.c.id).where(agents.c.id.in_(chunk), agents.c.revoked_at.is_not(None))
                ).scalars()
            )
    return found


def agent_status(bind: Bind, agent_id: str) -> tuple[AgentStatus, AgentRow | None]:
    """("ok"|"revoked"|"superseded"|"unknown", the row); the row's cert_serial is the certificate issued on record."""
    with _read(bind) as conn:
        row = conn.execute(select(agents).where(agents.c.id == agent_id)).one_or_none()
    if row is None:
        return "unknown", None
    agent = _agent(row)
    return ("ok" if agent.state == "active" else agent.state), agent


def renew_agent_cert(
    bind: Bind,
    *,
    agent_id: str,
    presented_serial: str,
    cert_serial: int | str,
    cert_sha256: str,
    cert_not_after: datetime,
    now: datetime,
    peer: str = "",
) -> bool:
    """Record a renewed certificate and its audit entry in one transaction; False if the agent changed
    meanwhile (revoked, superseded, or the presented certificate is no longer on record)."""
    from collector.store import audit
    from collector.store.violations import SYSTEM_ACTOR

    presented = normalize_serial(presented_serial)
    with _write(bind) as conn:
        row = conn.execute(select(agents).where(agents.c.id == agent_id).with_for_update()).one_or_none()
        if row is None or row.revoked_at is not None or row.superseded_by is not None:
            return False
        if presented not in (row.cert_serial, row.previous_cert_serial):
            return False
        conn.execute(
            update(agents)
            .where(agents.c.id == agent_id)
            .values(
                previous_cert_serial=row.cert_serial,
                cert_serial=normalize_serial(cert_serial),
                cert_sha256=cert_sha256.lower(),
                cert_not_after=cert_not_after,
                cert_renewed_at=now,
            )
        )
        audit.record(
            conn,
            at=now,
            actor=SYSTEM_ACTOR,
            action="agent.cert_renew",
            target=f"agent:{agent_id}",
            details={
                "peer": peer,
                "old_serial": row.cert_serial,
                "serial": normalize_serial(cert_serial),
                "not_after": cert_not_after.isoformat(),
            },
        )
    return True


def forget_previous_cert(bind: Bind, agent_id: str, serial: str) -> None:
    """The agent connected with its renewed certificate: the one before it is no identity any more."""
    with _write(bind) as conn:
        conn.execute(
            update(agents)
            .where(
                agents.c.id == agent_id,
                agents.c.cert_serial == normalize_serial(serial),
                agents.c.previous_cert_serial.is_not(None),
            )
            .values(previous_cert_serial=None)
        )


# --- enrollment tokens --------------------------------------------------------------------------


def create_token(
    bind: Bind,
    *,
    token_hash: str,
    segment: str,
    department: str,
    uses: int,
    expires_at: datetime,
    created_by: str,
    created_at: datetime,
) -> TokenRow:
    values = dict(
        token_hash=token_hash,
        segment=segment,
        department=department,
        uses_allowed=uses,
        uses_left=uses,
        expires_at=expires_at,
        created_by=created_by,
        created_at=created_at,
    )
    with _write(bind) as conn:
        return _token(conn.execute(enrollment_tokens.insert().values(**values).returning(*enrollment_tokens.c)).one())


def consume_token(bind: Bind, token_hash: str, now: datetime) -> TokenRow:
    """Spend one use of a token, or raise TokenError; the returned row shows the uses left after this one."""
    t = enrollment_tokens
    with _write(bind) as conn:
        # One conditional UPDATE: two enrollments racing for the last use cannot both win. The second
        # re-checks uses_left once the first commits (PostgreSQL) or waits for the write lock (SQLite).
        row = conn.execute(
            update(t)
            .where(t.c.token_hash == token_hash, t.c.uses_left > 0, t.c.expires_at > now, t.c.revoked_at.is_(None))
            .values(uses_left=t.c.uses_left - 1)
            .returning(*t.c)
        ).one_or_none()
        if row is not None:
            return _token(row)
        state = conn.execute(select(t).where(t.c.token_hash == token_hash)).one_or_none()
    if state is None:
        raise TokenError("unknown")
    # A token both spent and expired reports used_up: that is the more telling fact (a replay).
    raise TokenError(_token(state).state(now), state.id)  # type: ignore[arg-type]


def list_tokens(bind: Bind) -> list[TokenRow]:
    with _read(bind) as conn:
        rows = conn.execute(select(enrollment_tokens).order_by(enrollment_tokens.c.created_at.desc())).all()
    return [_token(r) for r in rows]


def revoke_token(bind: Bind, token_id: int, by: str, at: datetime) -> TokenRow | None:
    """Withdraw a token; None when there is no such token or it was already revoked (the first one stands)."""
    t = enrollment_tokens
    with _write(bind) as conn:
        row = conn.execute(
            update(t)
            .where(t.c.id == token_id, t.c.revoked_at.is_(None))
            .values(revoked_at=at, revoked_by=by)
            .returning(*t.c)
        ).one_or_none()
    return None if row is None else _token(row)


def enroll_agent(
    bind: Bind,
    *,
    token_hash: str,
    now: datetime,
    agent_id: str,
    hostname: str,
    os: str,
    os_version: str,
    agent_version: str,
    machine_id: str,
    cert_serial: int | str,
    cert_sha256: str,
    cert_not_after: datetime,
    previous_agent_id: str = "",
    peer: str = "",
) -> TokenRow:
    """Spend a token and create the agent it admits, in one transaction: both happen or neither.

    A re-enrolling terminal names its previous id; that record is superseded in the same transaction.
    The enrollment's audit entry (peer address, token id) commits with it.
    """
    from collector.store import audit
    from collector.store.supersede import supersede
    from collector.store.violations import SYSTEM_ACTOR

    with _write(bind) as conn:
        token = consume_token(conn, token_hash, now)
        create_agent(
            conn,
            agent_id=agent_id,
            segment=token.segment,
            department=token.department,
            hostname=hostname,
            os=os,
            os_version=os_version,
            agent_version=agent_version,
            machine_id=machine_id,
            cert_serial=cert_serial,
            cert_sha256=cert_sha256,
            cert_not_after=cert_not_after,
            enrolled_at=now,
        )
        audit.record(
            conn,
            at=now,
            actor=SYSTEM_ACTOR,
            action="agent.enroll",
            target=f"agent:{agent_id}",
            details={
                "peer": peer,
                "token_id": token.id,
                "hostname": hostname,
                "segment": token.segment,
                "department": token.department,
                "previous_agent_id": previous_agent_id or None,
            },
        )
        if previous_agent_id:
            supersede(conn, old_id=previous_agent_id, new_id=agent_id, machine_id=machine_id, at=now)
    return token


# --- events -------------------------------------------------------------------------------------


def list_events(
    bind: Bind,
    *,
    agent_id: str | None = None,
    kind: str | None = None,
    since: datetime | None = None,
    limit: int = 100,
) -> list[EventRow]:
    """Newest first; since is inclusive."""
    query = select(events).order_by(events.c.occurred_at.desc(), events.c.id.desc()).limit(limit)
    if agent_id is not None:
        query = query.where(events.c.agent_id == agent_id)
    if kind is not None:
        query = query.where(events.c.kind == kind)
    if since is not None:
        query = query.where(events.c.occurred_at >= since)
    with _read(bind) as conn:
        return [EventRow(**r._mapping) for r in conn.execute(query)]


def get_event(bind: Bind, event_id: str) -> EventRow | None:
    """One event by its event id (the 証跡ID reports and violations name); the id is unique across agents."""
    with _read(bind) as conn:
        row = conn.execute(select(events).where(events.c.event_id == event_id.strip().lower())).first()
    return None if row is None else EventRow(**row._mapping)


def count_events(bind: Bind, agent_id: str | None = None) -> int:
    query = select(func.count()).select_from(events)
    if agent_id is not None:
        query = query.where(events.c.agent_id == agent_id)
    with _read(bind) as conn:
        return conn.execute(query).scalar_one()


# --- policies -----------------------------------------------------------------------------------


def get_policy(bind: Bind, segment: str) -> dict[str, Any] | None:
    """{"segment", "version", "document", "updated_at", "updated_by"} or None when none is stored."""
    with _read(bind) as conn:
        row = conn.execute(select(policies).where(policies.c.segment == segment)).one_or_none()
    return None if row is None else dict(row._mapping)


def set_policy(
    bind: Bind, *, segment: str, version: str, document: dict[str, Any], updated_by: str, updated_at: datetime
) -> None:
    """Store (or replace) the policy document of a segment."""
    values = dict(segment=segment, version=version, document=document, updated_by=updated_by, updated_at=updated_at)
    with _write(bind) as conn:
        insert = dialect_insert(conn, policies).values(**values)
        conn.execute(
            insert.on_conflict_do_update(
                index_elements=["segment"],
                set_={k: insert.excluded[k] for k in ("version", "document", "updated_by", "updated_at")},
            )
        )
