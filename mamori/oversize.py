"""An event of the agent's own that the collector would refuse becomes a bounded event.oversize marker instead.

The collector refuses a whole batch for one event outside mamori.bounds (or the event contract), so such an
event in the spool would block delivery for good. The spool replaces it, on append and again when reading
for sending (a restored or older spool), by an event.oversize with the same seq, event id and time: the
original kind, the first field out of bounds with its size and limit, the SHA-256 of the original payload,
and an excerpt of the payload as JSON in which every long string and list is cut with a visible marker --
enough to tell which file, device or check it was, with the hash to match a copy of the original.
Never dropped silently: the collector's OPS-003 flags every marker. Rules of the original kind (MED-002 for
a write, ...) do not judge a cut event; the marker carries the original severity, so it is shed on
overflow exactly as the original would have been.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, datetime
from typing import Any, NamedTuple

from google.protobuf import json_format
from google.protobuf.message import DecodeError

from mamori import bounds, events
from mamori.ids import is_uuid7
from mamori.labels import SEVERITIES
from mamori.v1 import events_pb2 as pb

log = logging.getLogger("mamori.agent.spool")

KIND = "event.oversize"
EXCERPT_STRING = 256  # characters kept of each string in the excerpt: a path's or a name's telling part
EXCERPT_LIST = 16  # entries kept of each list
_REASON = 1024


class Marker(NamedTuple):
    """The replacement row: its kind, severity rank and serialized event."""

    kind: str
    rank: int
    data: bytes


def fit(data: bytes, seq: int, now: float) -> Marker | None:
    """None when the serialized event is within the bounds and the contract; otherwise its marker under `seq`."""
    parsed = pb.Event()
    msg: pb.Event | None = parsed
    try:
        parsed.ParseFromString(data)
    except DecodeError as exc:
        msg = None
        problem = bounds.OutOfBounds(f"not a decodable event ({exc})", "event", len(data), bounds.MAX_EVENT_BYTES)
    else:
        try:
            bounds.check_event(parsed, "event", now)
            events.decode(parsed)
            return None
        except bounds.OutOfBounds as exc:
            problem = exc
        except events.EventError as exc:
            problem = bounds.OutOfBounds(str(exc), "event", len(data), bounds.MAX_EVENT_BYTES)
    marker = _marker(msg, data, seq, now, problem)
    log.warning("event seq %d is outside the collector's bounds (%s): sent as %s instead", seq, problem, KIND)
    return marker


def _marker(msg: pb.Event | None, data: bytes, seq: int, now: float, problem: bounds.OutOfBounds) -> Marker:
    kind, event_id, when, severity, payload = "unknown", "", None, "", None
    if msg is not None:
        spec = events.kind_by_enum(msg.kind)
        kind = spec.name if spec is not None else f"unknown ({msg.kind})"
        event_id = msg.event_id if is_uuid7(msg.event_id) else ""
        seconds = msg.occurred_at.seconds
        if (
            msg.HasField("occurred_at")
            and bounds.MIN_OCCURRED_SECONDS <= seconds <= now + bounds.MAX_OCCURRED_AHEAD_SECONDS
            and 0 <= msg.occurred_at.nanos < 1_000_000_000
        ):
            when = datetime.fromtimestamp(seconds, UTC).replace(microsecond=msg.occurred_at.nanos // 1000)
        if 1 <= msg.severity <= len(SEVERITIES):
            severity = SEVERITIES[msg.severity - 1]
        which = msg.WhichOneof("payload")
        payload = getattr(msg, which) if which else None
    original = payload.SerializeToString(deterministic=True) if payload is not None else data
    body = {
        "original_kind": kind,
        "original_event_id": event_id,
        "field": problem.field[: bounds.MAX_STRING],
        "size": min(problem.size, bounds.MAX_UINT),
        "limit": min(problem.limit, bounds.MAX_UINT),
        "reason": str(problem)[:_REASON],
        "original_bytes": len(data),
        "payload_sha256": hashlib.sha256(original).hexdigest(),
        "excerpt": excerpt(payload) if payload is not None else "",
    }
    severity = severity or events.KINDS[KIND].severity
    encoded = events.encode(KIND, body, seq=seq, severity=severity, event_id=event_id or None, occurred_at=when)
    return Marker(KIND, events.SEVERITY_RANK[severity], encoded)


def excerpt(payload: Any) -> str:
    """The payload as JSON, each long string and list cut with a marker, the whole within its bound."""
    limit = bounds.string_limit("excerpt")
    text = json.dumps(
        _cut(json_format.MessageToDict(payload, preserving_proto_field_name=True)), ensure_ascii=False, sort_keys=True
    )  # json escapes NUL and other control characters
    if len(text) > limit:
        tail = f"…[excerpt cut, {len(text)} characters]"
        text = text[: limit - len(tail)] + tail
    return text


def _cut(value: Any) -> Any:
    if isinstance(value, str) and len(value) > EXCERPT_STRING:
        return f"{value[:EXCERPT_STRING]}…[cut {len(value) - EXCERPT_STRING} of {len(value)} characters]"
    if isinstance(value, list):
        kept = [_cut(v) for v in value[:EXCERPT_LIST]]
        return (
            kept + [f"…[cut {len(value) - EXCERPT_LIST} of {len(value)} entries]"]
            if len(value) > EXCERPT_LIST
            else kept
        )
    if isinstance(value, dict):
        return {k: _cut(v) for k, v in value.items()}
    return value
