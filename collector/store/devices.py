"""Store queries for the approved-device register (許可デバイス台帳) and temporary permissions (一時許可)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, or_, select, update

from collector.store.models import approved_devices, events, temporary_permissions
from collector.store.queries import MIN_PREFIX, AmbiguousId, Bind, _read, _write
from mamori.ids import uuid7


@dataclass(frozen=True)
class ApprovedRule:
    id: int
    rule: str
    segment: str | None
    department: str | None
    source: str
    source_line: int
    created_at: datetime
    created_by: str


@dataclass(frozen=True)
class Temporary:
    id: str
    serial: str
    agent_id: str | None
    department: str | None
    until: datetime
    reason: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None
    revoked_by: str | None

    def active(self, now: datetime) -> bool:
        return self.revoked_at is None and now < self.until


def import_rules(
    bind: Bind,
    rules: Sequence[tuple[int, str]],
    *,
    source: str,
    segment: str | None,
    department: str | None,
    replace: bool,
    by: str,
    at: datetime,
) -> int:
    """Add (or, with replace, swap in) rules for one scope, in one transaction: all of them or none."""
    with _write(bind) as conn:
        if replace:
            conn.execute(
                delete(approved_devices).where(
                    _same(approved_devices.c.segment, segment), _same(approved_devices.c.department, department)
                )
            )
        for line, rule in rules:
            conn.execute(
                approved_devices.insert().values(
                    rule=rule,
                    segment=segment,
                    department=department,
                    source=source[:500],
                    source_line=line,
                    created_at=at,
                    created_by=by,
                )
            )
    return len(rules)


def _same(column: ColumnElement[Any], value: str | None) -> ColumnElement[bool]:
    return column.is_(None) if value is None else column == value


def list_rules(bind: Bind) -> list[ApprovedRule]:
    with _read(bind) as conn:
        rows = conn.execute(select(approved_devices).order_by(approved_devices.c.id)).all()
    return [ApprovedRule(**r._mapping) for r in rows]


def delete_rule(bind: Bind, rule_id: int) -> bool:
    with _write(bind) as conn:
        return conn.execute(delete(approved_devices).where(approved_devices.c.id == rule_id)).rowcount == 1


def add_temporary(
    bind: Bind,
    *,
    serial: str,
    agent_id: str | None,
    department: str | None,
    until: datetime,
    reason: str,
    by: str,
    at: datetime,
) -> str:
    new_id = str(uuid7())
    with _write(bind) as conn:
        conn.execute(
            temporary_permissions.insert().values(
                id=new_id,
                serial=serial,
                agent_id=agent_id,
                department=department,
                until=until,
                reason=reason,
                created_at=at,
                created_by=by,
            )
        )
    return new_id


def list_temporary(bind: Bind) -> list[Temporary]:
    with _read(bind) as conn:
        rows = conn.execute(select(temporary_permissions).order_by(temporary_permissions.c.created_at)).all()
    return [Temporary(**r._mapping) for r in rows]


def find_temporary(bind: Bind, prefix: str) -> Temporary | None:
    """By full id or a unique prefix of at least MIN_PREFIX characters."""
    if len(prefix) < MIN_PREFIX:
        return None
    with _read(bind) as conn:
        rows = conn.execute(
            select(temporary_permissions).where(temporary_permissions.c.id.startswith(prefix, autoescape=True)).limit(2)
        ).all()
    if len(rows) > 1:
        raise AmbiguousId(prefix, [r.id for r in rows])
    return Temporary(**rows[0]._mapping) if rows else None


def revoke_temporary(bind: Bind, perm_id: str, *, by: str, at: datetime) -> bool:
    with _write(bind) as conn:
        return (
            conn.execute(
                update(temporary_permissions)
                .where(
                    temporary_permissions.c.id == perm_id,
                    temporary_permissions.c.revoked_at.is_(None),
                )
                .values(revoked_at=at, revoked_by=by)
            ).rowcount
            == 1
        )


def for_agent(
    bind: Bind, *, agent_id: str, segment: str, department: str, now: datetime
) -> tuple[list[ApprovedRule], list[Temporary]]:
    """What one terminal receives: rules for all/its segment/its department, and its active 一時許可."""
    with _read(bind) as conn:
        rules = conn.execute(
            select(approved_devices)
            .where(
                or_(approved_devices.c.segment.is_(None), approved_devices.c.segment == segment),
                or_(approved_devices.c.department.is_(None), approved_devices.c.department == department),
            )
            .order_by(approved_devices.c.id)
        ).all()
        temps = conn.execute(
            select(temporary_permissions)
            .where(
                temporary_permissions.c.revoked_at.is_(None),
                temporary_permissions.c.until > now,
                or_(
                    temporary_permissions.c.agent_id == agent_id,
                    temporary_permissions.c.department == department,
                    and_(temporary_permissions.c.agent_id.is_(None), temporary_permissions.c.department.is_(None)),
                ),
            )
            .order_by(temporary_permissions.c.created_at, temporary_permissions.c.id)
        ).all()
    return [ApprovedRule(**r._mapping) for r in rules], [Temporary(**r._mapping) for r in temps]


def usb_events(bind: Bind, since: datetime) -> list[tuple[str, datetime, str, dict]]:
    """Every usb.blocked / usb.allowed event since a moment, oldest first: (agent_id, occurred_at, kind, payload)."""
    with _read(bind) as conn:
        rows = conn.execute(
            select(events.c.agent_id, events.c.occurred_at, events.c.kind, events.c.payload)
            .where(
                events.c.kind.in_(("usb.blocked", "usb.allowed")),
                events.c.occurred_at >= since,
            )
            .order_by(events.c.occurred_at, events.c.id)
        ).all()
    return [(r.agent_id, r.occurred_at, r.kind, r.payload) for r in rows]
