"""Event kinds and the conversion between plain events and their protobuf form (the wire edge).

Inside the agent and the collector an event is an `Event` dataclass (or its serialized bytes in the
agent's spool); protobuf messages exist only while encoding for, or decoding from, the wire.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError  # noqa: F401  re-exported: the agent catches events.DecodeError

from mamori.bounds import MAX_SEQ  # noqa: F401  re-exported: the agent bounds the collector's seqs by it
from mamori.ids import is_uuid7, uuid7
from mamori.labels import SEVERITIES
from mamori.v1 import events_pb2 as pb

SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES, start=1)}


@dataclass(frozen=True, slots=True)
class Kind:
    """One event kind: its dotted name, enum value, payload field and default severity."""

    name: str
    enum: int
    payload_field: str
    severity: str
    collector_only: bool = False


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind("agent.started", pb.EVENT_KIND_AGENT_STARTED, "agent_started", "info"),
        Kind("agent.stopped", pb.EVENT_KIND_AGENT_STOPPED, "agent_stopped", "low"),
        Kind("agent.enrolled", pb.EVENT_KIND_AGENT_ENROLLED, "agent_enrolled", "info"),
        Kind("agent.tamper", pb.EVENT_KIND_AGENT_TAMPER, "agent_tamper", "high"),
        Kind("policy.applied", pb.EVENT_KIND_POLICY_APPLIED, "policy_applied", "info"),
        Kind("policy.rejected", pb.EVENT_KIND_POLICY_REJECTED, "policy_rejected", "high"),
        Kind("spool.overflow", pb.EVENT_KIND_SPOOL_OVERFLOW, "spool_overflow", "high"),
        Kind("spool.corrupt", pb.EVENT_KIND_SPOOL_CORRUPT, "spool_corrupt", "high"),
        Kind("event.oversize", pb.EVENT_KIND_EVENT_OVERSIZE, "event_oversize", "high"),
        Kind("usb.attached", pb.EVENT_KIND_USB_ATTACHED, "usb", "info"),
        Kind("usb.blocked", pb.EVENT_KIND_USB_BLOCKED, "usb", "medium"),
        Kind("usb.allowed", pb.EVENT_KIND_USB_ALLOWED, "usb", "low"),
        Kind("media.write", pb.EVENT_KIND_MEDIA_WRITE, "media_write", "medium"),
        Kind("check.result", pb.EVENT_KIND_CHECK_RESULT, "check_result", "info"),
        Kind("sequence.gap", pb.EVENT_KIND_SEQUENCE_GAP, "sequence_gap", "high", collector_only=True),
        Kind("batch.refused", pb.EVENT_KIND_BATCH_REFUSED, "batch_refused", "high", collector_only=True),
    )
}
_BY_ENUM = {k.enum: k for k in KINDS.values()}


class EventError(ValueError):
    """An event that does not satisfy the contract."""


@dataclass(frozen=True, slots=True)
class Event:
    """A plain event as both sides handle it internally."""

    kind: str
    payload: dict[str, Any] = field(default_factory=dict)
    severity: str = ""
    seq: int = 0
    event_id: str = ""
    occurred_at: datetime | None = None


def kind_of(name: str) -> Kind:
    try:
        return KINDS[name]
    except KeyError:
        raise EventError(f"unknown event kind {name!r}") from None


def kind_by_enum(value: int) -> Kind | None:
    """The kind with this enum value, None for a value no kind has."""
    return _BY_ENUM.get(value)


def encode(
    kind: str,
    payload: dict[str, Any],
    *,
    seq: int,
    severity: str | None = None,
    event_id: str | None = None,
    occurred_at: datetime | None = None,
) -> bytes:
    """Build the wire form of an event; the payload dict must match the kind's message."""
    spec = kind_of(kind)
    sev = severity or spec.severity
    if sev not in SEVERITY_RANK:
        raise EventError(f"unknown severity {sev!r}")
    msg = pb.Event(
        event_id=event_id or str(uuid7()),
        seq=seq,
        kind=spec.enum,  # type: ignore[arg-type]
        severity=SEVERITY_RANK[sev],  # type: ignore[arg-type]
    )
    msg.occurred_at.FromDatetime(occurred_at or datetime.now(UTC))
    try:
        json_format.ParseDict(payload, getattr(msg, spec.payload_field))
    except json_format.ParseError as exc:
        raise EventError(f"payload does not fit {kind}: {exc}") from None
    # An empty payload still selects the oneof, so the kind and payload always agree.
    getattr(msg, spec.payload_field).SetInParent()
    return msg.SerializeToString()


def with_seq(data: bytes, seq: int) -> bytes:
    """The same serialized event under another sequence number (the agent renumbers unsent events)."""
    msg = pb.Event.FromString(data)
    msg.seq = seq
    return msg.SerializeToString()


def decode(msg: pb.Event) -> Event:
    """Turn a received protobuf event into a plain Event, checking the contract."""
    spec = _BY_ENUM.get(msg.kind)
    if spec is None:
        raise EventError(f"seq {msg.seq}: unknown event kind {msg.kind}")
    if spec.collector_only:
        raise EventError(f"seq {msg.seq}: kind {spec.name} may only be recorded by the collector")
    if msg.seq <= 0:
        raise EventError("event without a sequence number")
    if not is_uuid7(msg.event_id):
        raise EventError(f"seq {msg.seq}: event_id is not a UUIDv7")
    which = msg.WhichOneof("payload")
    if which != spec.payload_field:
        raise EventError(f"seq {msg.seq}: kind {spec.name} needs payload {spec.payload_field}, got {which}")
    if not 1 <= msg.severity <= len(SEVERITIES):
        raise EventError(f"seq {msg.seq}: unknown severity {msg.severity}")
    if not msg.HasField("occurred_at"):
        raise EventError(f"seq {msg.seq}: missing occurred_at")
    payload = _flat_dict(getattr(msg, which))
    try:
        # Cheaper than Timestamp.ToDatetime on the ingest path; microsecond precision is what we store.
        occurred_at = datetime.fromtimestamp(msg.occurred_at.seconds, UTC).replace(
            microsecond=min(max(msg.occurred_at.nanos, 0), 999_999_999) // 1000
        )
    except (ValueError, OverflowError, OSError):
        raise EventError(f"seq {msg.seq}: occurred_at out of range") from None
    return Event(
        kind=spec.name,
        payload=payload,
        severity=SEVERITIES[msg.severity - 1],
        seq=msg.seq,
        event_id=msg.event_id,
        occurred_at=occurred_at,
    )


# Per payload type: (field name, repeated?, enum number -> name or None), built once. Reading fields by name
# and skipping defaults is cheaper than ListFields() on the collector's ingest path.
_FIELDS: dict[Any, tuple[tuple[str, bool, dict[int, str] | None], ...]] = {}


def _fields(descriptor: Any) -> tuple[tuple[str, bool, dict[int, str] | None], ...]:
    cached = _FIELDS.get(descriptor)
    if cached is None:
        cached = _FIELDS[descriptor] = tuple(
            (
                fd.name,
                fd.is_repeated,
                {v.number: v.name for v in fd.enum_type.values} if fd.enum_type is not None else None,
            )
            for fd in descriptor.fields
        )
    return cached


def _flat_dict(sub: Any) -> dict[str, Any]:
    """Set fields of a flat payload message as a dict (unset, i.e. default, fields are simply absent).

    Payload messages hold only scalars and repeated scalars; this is several times faster than
    json_format.MessageToDict.
    """
    out: dict[str, Any] = {}
    for name, repeated, enum in _fields(sub.DESCRIPTOR):
        value = getattr(sub, name)
        if not value:
            continue
        if repeated:
            out[name] = list(value)
        elif enum is not None:
            out[name] = enum.get(value, value)
        else:
            out[name] = value
    return out


def decode_bytes(data: bytes) -> Event:
    msg = pb.Event()
    msg.ParseFromString(data)
    return decode(msg)
