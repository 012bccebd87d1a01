"""The event contract: encoding, decoding, and refusal of events that break it."""

from __future__ import annotations

import uuid

import pytest

from mamori import events
from mamori.ids import is_uuid7, uuid7
from mamori.v1 import events_pb2 as pb


def test_uuid7_is_version_7_and_time_ordered():
    ids = [uuid7() for _ in range(5000)]
    assert all(u.version == 7 for u in ids)
    assert ids == sorted(ids), "ids made in order sort in order, even within one millisecond"
    assert len(set(ids)) == len(ids)
    assert is_uuid7(str(ids[0])) and not is_uuid7(str(uuid.uuid4())) and not is_uuid7("junk")


def test_roundtrip_keeps_kind_payload_and_severity():
    data = events.encode("usb.blocked", {"vendor_id": "0781", "serial": "S1", "interface_classes": ["08:06:50"]}, seq=7)
    ev = events.decode_bytes(data)
    assert (ev.kind, ev.seq, ev.severity) == ("usb.blocked", 7, "medium")
    assert ev.payload == {"vendor_id": "0781", "serial": "S1", "interface_classes": ["08:06:50"]}
    assert is_uuid7(ev.event_id)


def test_every_kind_encodes_with_an_empty_payload():
    for name, spec in events.KINDS.items():
        msg = pb.Event.FromString(events.encode(name, {}, seq=1))
        assert msg.WhichOneof("payload") == spec.payload_field


def test_encode_refuses_unknown_kind_field_and_severity():
    with pytest.raises(events.EventError):
        events.encode("no.such", {}, seq=1)
    with pytest.raises(events.EventError, match="payload does not fit"):
        events.encode("usb.blocked", {"colour": "red"}, seq=1)
    with pytest.raises(events.EventError, match="severity"):
        events.encode("usb.blocked", {}, seq=1, severity="apocalyptic")


def _msg(**changes):
    msg = pb.Event.FromString(events.encode("check.result", {"check_id": "x"}, seq=3))
    for key, value in changes.items():
        setattr(msg, key, value)
    return msg


@pytest.mark.parametrize(
    "changes,fragment",
    [
        ({"seq": 0}, "sequence"),
        ({"event_id": str(uuid.uuid4())}, "UUIDv7"),
        ({"kind": 999}, "unknown event kind"),
        ({"kind": pb.EVENT_KIND_SEQUENCE_GAP}, "only be recorded by the collector"),
        ({"kind": pb.EVENT_KIND_USB_BLOCKED}, "needs payload usb"),
        ({"severity": 9}, "severity"),
    ],
)
def test_decode_refuses_contract_breaches(changes, fragment):
    with pytest.raises(events.EventError, match=fragment):
        events.decode(_msg(**changes))


def test_decode_refuses_missing_time():
    msg = _msg()
    msg.ClearField("occurred_at")
    with pytest.raises(events.EventError, match="occurred_at"):
        events.decode(msg)


@pytest.mark.parametrize("seconds", [2**62, -(2**62)])
def test_decode_refuses_absurd_times(seconds):
    msg = _msg()
    msg.occurred_at.seconds = seconds
    with pytest.raises(events.EventError, match="out of range"):
        events.decode(msg)
