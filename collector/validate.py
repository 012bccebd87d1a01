"""Bounds on every field an agent sends, checked at the wire edge before anything reaches the store."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from google.protobuf.descriptor import FieldDescriptor

from mamori.events import MAX_SEQ  # shared with the agent, which bounds the collector's Welcome by it

# How far one batch may move an agent's sequence beyond what the collector holds: a thousand full spools
# (100 000 events each). More is not a real terminal's history, only a poisoned counter.
MAX_SEQ_AHEAD = 100_000_000
MAX_UINT = 2**53  # any other counter or size (spool depth, uptime, file size, batch id)
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
        _fields(sub, body)
        if body == "hello" and sub.next_seq > MAX_SEQ:
            raise Invalid(f"hello.next_seq {sub.next_seq} exceeds {MAX_SEQ}")


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


def _fields(msg: Any, where: str, skip: Iterable[str] = ()) -> None:
    """Every set field of msg and its sub-messages: strings, counters, enums and repeated counts."""
    for fd, value in msg.ListFields():
        if fd.name in skip:
            continue
        name = f"{where}.{fd.name}"
        if fd.is_repeated:
            if len(value) > MAX_REPEATED:
                raise Invalid(f"{name}: {len(value)} entries exceed {MAX_REPEATED}")
            for item in value:
                _value(fd, item, name)
        else:
            _value(fd, value, name)


def _value(fd: FieldDescriptor, value: Any, name: str) -> None:
    if fd.type == FieldDescriptor.TYPE_MESSAGE:
        _fields(value, name)
    elif fd.type == FieldDescriptor.TYPE_STRING:
        limit = STRING_LIMITS.get(fd.name, MAX_STRING)
        if len(value) > limit:
            raise Invalid(f"{name}: {len(value)} characters exceed {limit}")
        if "\x00" in value:  # PostgreSQL text and jsonb cannot hold NUL; SQLite would truncate readers
            raise Invalid(f"{name}: contains a NUL character")
    elif fd.type == FieldDescriptor.TYPE_BYTES:
        if len(value) > MAX_STRING:
            raise Invalid(f"{name}: {len(value)} bytes exceed {MAX_STRING}")
    elif fd.type == FieldDescriptor.TYPE_ENUM:
        if fd.enum_type.values_by_number.get(value) is None:
            raise Invalid(f"{name}: unknown value {value}")
    elif isinstance(value, int) and not isinstance(value, bool) and not 0 <= value <= MAX_UINT:
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
        self.emit(f"agent {agent_id}: refused a message: {reason}{more}")
        if len(self._last) > 10_000:  # agents that went away: forget the oldest rather than grow forever
            for stale in sorted(self._last, key=self._last.__getitem__)[:5_000]:
                self._last.pop(stale, None)
                self._held.pop(stale, None)
