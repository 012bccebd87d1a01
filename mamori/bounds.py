"""The bounds on every field an agent sends: one home, checked by the collector's wire edge and the agent's spool."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from google.protobuf.descriptor import FieldDescriptor

from mamori.v1 import enrollment_pb2

# The highest seq either side accepts: exact in JSON readers, far below SQLite's and PostgreSQL's signed
# 64 bits, so renumbering (seq + offset) cannot overflow them.
MAX_SEQ = 2**53
# How far one batch may move an agent's sequence beyond what the collector holds: a thousand full spools
# (100 000 events each). More is not a real terminal's history, only a poisoned counter.
MAX_SEQ_AHEAD = 100_000_000
MAX_UINT = MAX_SEQ  # any other counter or size (spool depth, uptime, file size, batch id)
MAX_STRING = 4096  # characters, for any string field not listed below
STRING_LIMITS = {
    "evidence_json": 2 * 1024 * 1024,  # a check's whole evidence (the software list can be long)
    "summary": 64 * 1024,
    "remediation": 64 * 1024,
    "detail": 64 * 1024,
    "error": 64 * 1024,
    "reason": 64 * 1024,
    "excerpt": 16 * 1024,  # event.oversize: what is left of the original payload
    "agent_version": 64,  # the agents columns these are stored in
    "policy_version": 64,
    "version": 64,
    "policy_mode": 32,
    "event_id": 36,
    "original_event_id": 36,
}
# The enrollment request: host facts go to columns of 255 characters, a CSR is a few kilobytes of PEM.
MAX_FACT = 255
ENROLL_LIMITS = {
    **{name: MAX_FACT for name in enrollment_pb2.HostFacts.DESCRIPTOR.fields_by_name},
    "token": 256,
    "csr_pem": 16 * 1024,
    "previous_agent_id": 36,
}
MAX_REPEATED = 256  # entries of a repeated field inside one event (a device's interface classes)
MAX_EVENT_BYTES = 3 * 1024 * 1024
# occurred_at: from the Unix epoch to a year ahead. Wide on purpose: a terminal whose clock is wrong still
# reports (its time_sync check says so); only values no clock produces are refused.
MIN_OCCURRED_SECONDS = 0
MAX_OCCURRED_AHEAD_SECONDS = 366 * 24 * 3600


class OutOfBounds(ValueError):
    """A message outside the bounds; its text says which field and why, its attributes the same as data."""

    def __init__(self, reason: str, field: str = "", size: int = 0, limit: int = 0) -> None:
        super().__init__(reason)
        self.field, self.size, self.limit = field, size, limit


def check_event(event: Any, where: str, now: float) -> None:
    """One mamori.v1.Event against every bound; raises OutOfBounds naming the first field outside them."""
    size = event.ByteSize()
    if size > MAX_EVENT_BYTES:
        raise OutOfBounds(f"{where}: event of {size} bytes exceeds {MAX_EVENT_BYTES}", "event", size, MAX_EVENT_BYTES)
    if not 0 < event.seq <= MAX_SEQ:
        raise OutOfBounds(f"{where}: seq {event.seq} is outside 1..{MAX_SEQ}", "seq", event.seq, MAX_SEQ)
    where = f"{where} (seq {event.seq})"
    check_fields(event, where, skip={"occurred_at"})
    if event.HasField("occurred_at"):
        seconds = event.occurred_at.seconds
        if not MIN_OCCURRED_SECONDS <= seconds <= now + MAX_OCCURRED_AHEAD_SECONDS:
            raise OutOfBounds(
                f"{where}: occurred_at {seconds} s is outside the Unix epoch .. one year ahead",
                "occurred_at",
                max(seconds, 0),
                int(now + MAX_OCCURRED_AHEAD_SECONDS),
            )
        if not 0 <= event.occurred_at.nanos < 1_000_000_000:
            raise OutOfBounds(
                f"{where}: occurred_at nanos {event.occurred_at.nanos} out of range",
                "occurred_at.nanos",
                max(event.occurred_at.nanos, 0),
                999_999_999,
            )


# Per (message type, limits table): what to check of each field, built once. Reading fields by name is
# cheaper than ListFields() on the ingest path (the same finding as mamori.events._flat_dict).
_PLANS: dict[tuple[Any, int], tuple[tuple[str, bool, int, Any], ...]] = {}
_STRING, _BYTES, _ENUM, _MESSAGE, _INT, _OTHER = range(6)
_KIND = {
    FieldDescriptor.TYPE_STRING: _STRING,
    FieldDescriptor.TYPE_BYTES: _BYTES,
    FieldDescriptor.TYPE_ENUM: _ENUM,
    FieldDescriptor.TYPE_MESSAGE: _MESSAGE,
    FieldDescriptor.TYPE_BOOL: _OTHER,
}


def string_limit(name: str) -> int:
    """The most characters a string field of this name may hold inside an event."""
    return STRING_LIMITS.get(name, MAX_STRING)


def _plan(descriptor: Any, limits: dict[str, int]) -> tuple[tuple[str, bool, int, Any], ...]:
    key = (descriptor, id(limits))
    plan = _PLANS.get(key)
    if plan is None:
        plan = _PLANS[key] = tuple(
            (
                fd.name,
                fd.is_repeated,
                _KIND.get(fd.type, _INT),
                set(fd.enum_type.values_by_number) if fd.enum_type is not None else limits.get(fd.name, MAX_STRING),
            )
            for fd in descriptor.fields
        )
    return plan


def check_fields(
    msg: Any, where: str, skip: Iterable[str] = (), limits: dict[str, int] = STRING_LIMITS, path: str = ""
) -> None:
    """Every set field of msg and its sub-messages: strings, counters, enums and repeated counts.

    `where` prefixes the message text; `path` (the field's dotted path inside msg) is OutOfBounds.field."""
    for name, repeated, kind, bound in _plan(msg.DESCRIPTOR, limits):
        if name in skip:
            continue
        inner = f"{path}.{name}" if path else name
        if kind == _MESSAGE and not repeated:
            if msg.HasField(name):
                check_fields(getattr(msg, name), f"{where}.{name}", limits=limits, path=inner)
            continue
        value = getattr(msg, name)
        if not value:
            continue
        if repeated:
            if len(value) > MAX_REPEATED:
                raise OutOfBounds(
                    f"{where}.{name}: {len(value)} entries exceed {MAX_REPEATED}", inner, len(value), MAX_REPEATED
                )
            for item in value:
                _value(kind, bound, item, f"{where}.{name}", inner, limits)
        else:
            _value(kind, bound, value, f"{where}.{name}", inner, limits)


def _value(kind: int, bound: Any, value: Any, where: str, name: str, limits: dict[str, int]) -> None:
    if kind == _MESSAGE:
        check_fields(value, where, limits=limits, path=name)
    elif kind == _STRING:
        if len(value) > bound:
            raise OutOfBounds(f"{where}: {len(value)} characters exceed {bound}", name, len(value), bound)
        if "\x00" in value:  # PostgreSQL text and jsonb cannot hold NUL; SQLite would truncate readers
            raise OutOfBounds(f"{where}: contains a NUL character", name, len(value), bound)
    elif kind == _BYTES:
        if len(value) > bound:
            raise OutOfBounds(f"{where}: {len(value)} bytes exceed {bound}", name, len(value), bound)
    elif kind == _ENUM:
        if value not in bound:
            raise OutOfBounds(f"{where}: unknown value {value}", name, max(value, 0), max(bound))
    elif kind == _INT and not 0 <= value <= MAX_UINT:
        raise OutOfBounds(f"{where}: {value} is outside 0..{MAX_UINT}", name, max(value, 0), MAX_UINT)
