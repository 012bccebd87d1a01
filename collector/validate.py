"""The wire edge: every message an agent sends checked against mamori.bounds before anything reaches the store."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from mamori.bounds import (  # noqa: F401  the limits, re-exported for the collector's callers
    ENROLL_LIMITS,
    MAX_EVENT_BYTES,
    MAX_REPEATED,
    MAX_SEQ,
    MAX_SEQ_AHEAD,
    MAX_STRING,
    MAX_UINT,
    STRING_LIMITS,
    OutOfBounds,
    check_event,
    check_fields,
)

# The limits live in mamori.bounds, shared with the agent's spool, which replaces an event of its own that
# would be refused here by an event.oversize marker: one home for each limit, so both sides agree.
Invalid = OutOfBounds  # a message outside the bounds; its text says which field and why, for the agent's log


def agent_message(message: Any, max_batch: int, now: float | None = None) -> None:
    """Check one AgentMessage whole; raises Invalid naming the first field out of bounds."""
    body = message.WhichOneof("body")
    if body is None:
        raise Invalid("empty agent message")
    sub = getattr(message, body)
    if body == "batch":
        if len(sub.events) > max_batch:
            raise Invalid(f"batch of {len(sub.events)} events exceeds the limit of {max_batch}")
        check_fields(sub, "batch", skip={"events"})
        now = time.time() if now is None else now
        for i, event in enumerate(sub.events):
            check_event(event, f"events[{i}]", now)
    else:
        check_fields(sub, body)  # hello.next_seq too: MAX_UINT is MAX_SEQ


def enroll_request(request: Any) -> None:
    """Check an EnrollRequest: every host fact and the token within its column, no NUL anywhere."""
    check_fields(request, "request", limits=ENROLL_LIMITS)


def renew_request(request: Any) -> None:
    """Check a RenewRequest: a CSR of at most the size enrollment accepts."""
    check_fields(request, "request", limits=ENROLL_LIMITS)


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
