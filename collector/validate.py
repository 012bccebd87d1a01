"""Bounds on every field an agent sends, checked at the wire edge before anything reaches the store."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from google.protobuf.descriptor import FieldDescriptor

from mamori.events import MAX_SEQ  # shared with the agent, which bounds the collector's Welcome by it
from mamori.v1 import enrollment_pb2

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
    "agent_version": 64,  # the agents columns these are stored in
    "policy_version": 64,
    "version": 64,
    "policy_mode": 32,
    "event_id": 36,
}
# The enrollment request: host facts go to columns of 255 characters, a CSR is a few kilobytes of PEM.
MAX_FACT = 255
ENROLL_LIMITS = {**{name: MAX_FACT for name in enrollment_pb2.HostFacts.DESCRIPTOR.fields_by_name},
                 "token": 256, "csr_pem": 16 * 1024, "previous_agent_id": 36}
MAX_REPEATED = 256  # entries of a repeated field inside one event (a device's interface classes)
MAX_EVENT_BYTES = 3 * 1024 * 1024
# occurred_at: from the Unix epoch to a year ahead. Wide on purpose: a terminal whose clock is wrong still
# reports (its time_sync check says so); only values no clock produces are refused.
MIN_OCCURRED_SECONDS = 0
MAX_OCCURRED_AHEAD_SECONDS = 366 * 24 * 3600


class Invalid(ValueError):
    """A message outside the bounds; its text says which field and why, for the agent's log."""


def agent_message(message: Any, max_batch: int, now: float | None = None) -> None:
    """Check one AgentMessage whole; raises Invalid naming the first field out of bounds."""
    body = message.WhichOneof("body")
    if body is None:
        raise Invalid("empty agent message")
    sub = getattr(message, body)
    if body == "batch":
        if len(sub.events) > max_batch:
            raise Invalid(f"batch of {len(sub.events)} events exceeds the limit of {max_batch}")
        _fields(sub, "batch", skip={"events"})
        now = time.time() if now is None else now
        for i, event in enumerate(sub.events):
            _event(event, f"events[{i}]", now)
    else:
        _fields(sub, body)  # hello.next_seq too: MAX_UINT is MAX_SEQ


def enroll_request(request: Any) -> None:
    """Check an EnrollRequest: every host fact and the token within its column, no NUL anywhere."""
    _fields(request, "request", limits=ENROLL_LIMITS)


def renew_request(request: Any) -> None:
    """Check a RenewRequest: a CSR of at most the size enrollment accepts."""
    _fields(request, "request", limits=ENROLL_LIMITS)


def _event(event: Any, where: str, now: float) -> None:
    size = event.ByteSize()
    if size > MAX_EVENT_BYTES:
        raise Invalid(f"{where}: event of {size} bytes exceeds {MAX_EVENT_BYTES}")
    if not 0 < event.seq <= MAX_SEQ:
        raise Invalid(f"{where}: seq {event.seq} is outside 1..{MAX_SEQ}")
    where = f"{where} (seq {event.seq})"
    _fields(event, where, skip={"occurred_at"})
    if event.HasField("occurred_at"):
        seconds = event.occurred_at.seconds
        if not MIN_OCCURRED_SECONDS <= seconds <= now + MAX_OCCURRED_AHEAD_SECONDS:
            raise Invalid(f"{where}: occurred_at {seconds} s is outside the Unix epoch .. one year ahead")
        if not 0 <= event.occurred_at.nanos < 1_000_000_000:
            raise Invalid(f"{where}: occurred_at nanos {event.occurred_at.nanos} out of range")


# Per (message type, limits table): what to check of each field, built once. Reading fields by name is
# cheaper than ListFields() on the ingest path (the same finding as mamori.events._flat_dict).
_PLANS: dict[tuple[Any, int], tuple[tuple[str, bool, int, Any], ...]] = {}
_STRING, _BYTES, _ENUM, _MESSAGE, _INT, _OTHER = range(6)
_KIND = {FieldDescriptor.TYPE_STRING: _STRING, FieldDescriptor.TYPE_BYTES: _BYTES,
         FieldDescriptor.TYPE_ENUM: _ENUM, FieldDescriptor.TYPE_MESSAGE: _MESSAGE, FieldDescriptor.TYPE_BOOL: _OTHER}


def _plan(descriptor: Any, limits: dict[str, int]) -> tuple[tuple[str, bool, int, Any], ...]:
    key = (descriptor, id(limits))
    plan = _PLANS.get(key)
    if plan is None:
        plan = _PLANS[key] = tuple(
            (fd.name, fd.is_repeated, _KIND.get(fd.type, _INT),
             set(fd.enum_type.values_by_number) if fd.enum_type is not None else limits.get(fd.name, MAX_STRING))
            for fd in descriptor.fields
        )
    return plan


def _fields(msg: Any, where: str, skip: Iterable[str] = (), limits: dict[str, int] = STRING_LIMITS) -> None:
    """Every set field of msg and its sub-messages: strings, counters, enums and repeated counts."""
    for name, repeated, kind, bound in _plan(msg.DESCRIPTOR, limits):
        if name in skip:
            continue
        if kind == _MESSAGE and not repeated:
            if msg.HasField(name):
                _fields(getattr(msg, name), f"{where}.{name}", limits=limits)
            continue
        value = getattr(msg, name)
        if not value:
            continue
        if repeated:
            if len(value) > MAX_REPEATED:
                raise Invalid(f"{where}.{name}: {len(value)} entries exceed {MAX_REPEATED}")
            for item in value:
                _value(kind, bound, item, f"{where}.{name}", limits)
        else:
            _value(kind, bound, value, f"{where}.{name}", limits)


def _value(kind: int, bound: Any, value: Any, name: str, limits: dict[str, int]) -> None:
    if kind == _STRING:
        if len(value) > bound:
            raise Invalid(f"{name}: {len(value)} characters exceed {bound}")
        if "\x00" in value:  # PostgreSQL text and jsonb cannot hold NUL; SQLite would truncate readers
            raise Invalid(f"{name}: contains a NUL character")
    elif kind == _BYTES:
        if len(value) > bound:
            raise Invalid(f"{name}: {len(value)} bytes exceed {bound}")
    elif kind == _ENUM:
        if value not in bound:
            raise Invalid(f"{name}: unknown value {value}")
    elif kind == _MESSAGE:
        _fields(value, name, limits=limits)
    elif kind == _INT and not 0 <= value <= MAX_UINT:
        raise Invalid(f"{name}: {value} is outside 0..{MAX_UINT}")


def seq_window(seqs: Iterable[int], last_seq: int) -> None:
    """Seqs of a batch against the agent's last stored one (read inside the storing transaction)."""
    highest = max(seqs, default=0)
    if highest > last_seq + MAX_SEQ_AHEAD:
        raise Invalid(f"seq {highest} is more than {MAX_SEQ_AHEAD} beyond the last stored seq {last_seq}")


@dataclass
class RefusalLog:
    """At most one log line per agent per `every` seconds; the lines in between are counted, not lost."""

    emit: Callable[[str], None]
    who: str = "agent"  # what the key names: an agent id, or a peer address before enrollment
    every: float = 10.0
    clock: Callable[[], float] = time.monotonic
    _last: dict[str, float] = field(default_factory=dict)
    _held: dict[str, int] = field(default_factory=dict)

    def refused(self, agent_id: str, reason: str) -> None:
        now = self.clock()
        last = self._last.get(agent_id)
        if last is not None and now - last < self.every:
            self._held[agent_id] = self._held.get(agent_id, 0) + 1
            return
        self._last[agent_id] = now
        held = self._held.pop(agent_id, 0)
        more = f" ({held} more refused in the last {now - last:.0f} s)" if held and last is not None else ""
        self.emit(f"{self.who} {agent_id}: refused a message: {reason}{more}")
        if len(self._last) > 10_000:  # agents that went away: forget the oldest rather than grow forever
            for stale in sorted(self._last, key=self._last.__getitem__)[:5_000]:
                self._last.pop(stale, None)
                self._held.pop(stale, None)
