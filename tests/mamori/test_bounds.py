"""The shared bounds: which field is out, by how much, and the same verdict on both sides of the wire."""

from __future__ import annotations

import time

import pytest

from collector import validate
from mamori import bounds, events
from mamori.v1 import events_pb2 as pb
from mamori.v1 import telemetry_pb2

NOW = 1_790_000_000.0  # a fixed moment (2026-09): the year-ahead bound is relative to the caller's clock


def _event(kind: str, payload: dict, **changes) -> pb.Event:
    msg = pb.Event.FromString(events.encode(kind, payload, seq=3))
    for name, value in {"occurred_at__seconds": int(NOW), **changes}.items():
        target = msg
        *path, last = name.split("__")
        for part in path:
            target = getattr(target, part)
        setattr(target, last, value)
    return msg


def _out(msg: pb.Event) -> bounds.OutOfBounds:
    with pytest.raises(bounds.OutOfBounds) as err:
        bounds.check_event(msg, "event", NOW)
    return err.value


def test_an_event_within_every_bound_passes():
    bounds.check_event(_event("media.write", {"path": "p" * 4096, "size": 2**53}), "event", NOW)
    bounds.check_event(_event("check.result", {"evidence_json": "e" * (2 * 1024 * 1024)}), "event", NOW)


@pytest.mark.parametrize(
    "kind,payload,changes,field,size,limit",
    [
        ("media.write", {"path": "p" * 4097}, {}, "media_write.path", 4097, 4096),
        ("check.result", {"summary": "s" * (64 * 1024 + 1)}, {}, "check_result.summary", 64 * 1024 + 1, 64 * 1024),
        ("media.write", {"user": "a\x00b"}, {}, "media_write.user", 3, 4096),
        ("usb.attached", {"interface_classes": ["08:06:50"] * 257}, {}, "usb.interface_classes", 257, 256),
        ("check.result", {"check_id": "x"}, {"seq": 2**53 + 1}, "seq", 2**53 + 1, 2**53),
        ("check.result", {"check_id": "x"}, {"severity": 42}, "severity", 42, 5),
        (
            "check.result",
            {"check_id": "x"},
            {"occurred_at__seconds": int(NOW) + 367 * 86400},
            "occurred_at",
            int(NOW) + 367 * 86400,
            int(NOW) + 366 * 86400,
        ),
        ("check.result", {"check_id": "x"}, {"event_id": "e" * 37}, "event_id", 37, 36),
        ("agent.stopped", {"spool_depth": 2**53 + 1}, {}, "agent_stopped.spool_depth", 2**53 + 1, 2**53),
    ],
)
def test_out_of_bounds_names_the_field_its_size_and_limit(kind, payload, changes, field, size, limit):
    exc = _out(_event(kind, payload, **changes))
    assert (exc.field, exc.size, exc.limit) == (field, size, limit)
    assert field.rsplit(".", 1)[-1] in str(exc)


def test_an_event_larger_than_the_whole_bound_is_named_as_such():
    big = _event("check.result", {})
    big.check_result.evidence_json = "e" * bounds.MAX_EVENT_BYTES  # over its field's bound too: size comes first
    exc = _out(big)
    assert exc.field == "event" and exc.size > bounds.MAX_EVENT_BYTES == exc.limit


def test_the_collector_uses_the_very_same_bounds():
    assert validate.Invalid is bounds.OutOfBounds
    assert validate.STRING_LIMITS is bounds.STRING_LIMITS and validate.MAX_SEQ == events.MAX_SEQ == bounds.MAX_SEQ
    assert bounds.string_limit("evidence_json") == 2 * 1024 * 1024 and bounds.string_limit("path") == 4096
    message = telemetry_pb2.AgentMessage(
        batch=telemetry_pb2.EventBatch(events=[_event("media.write", {"path": "p" * 5000})])
    )
    with pytest.raises(validate.Invalid) as err:
        validate.agent_message(message, max_batch=10, now=time.time())
    assert err.value.field == "media_write.path" and err.value.size == 5000
