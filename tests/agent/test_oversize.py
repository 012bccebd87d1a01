"""An event the collector would refuse is spooled and sent as a bounded event.oversize marker, never dropped."""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
import time
from pathlib import Path

import pytest

from agent.spool import Spool
from mamori import bounds, clock, events, oversize
from mamori.v1 import events_pb2 as pb
from tests.agent.shipper_rig import NOW, make_rig, running

LONG_PATH = "/media/usb0/" + "資料" * 3000 + ".xlsx"


@pytest.fixture(autouse=True)
def fixed_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock, "now", lambda: NOW)


def _within_bounds(data: bytes) -> events.Event:
    """What the collector checks of each event: the bounds, then the contract."""
    bounds.check_event(pb.Event.FromString(data), "event", time.time())
    return events.decode_bytes(data)


def test_an_oversized_event_is_spooled_as_its_marker(tmp_path: Path) -> None:
    with Spool.open(tmp_path) as spool:
        seq = spool.append(
            "media.write", {"path": LONG_PATH, "size": 12, "user": "taro", "device_serial": "S1"}, severity="critical"
        )
        after = spool.append("check.result", {"check_id": "x", "status": "pass"})
        (got, data), (next_seq, _) = spool.pending()
    assert (got, next_seq) == (seq, after) == (1, 2), "same seq, nothing skipped"
    marker = _within_bounds(data)
    p = marker.payload
    assert (marker.kind, marker.severity) == ("event.oversize", "critical"), "the original's severity is kept"
    assert (p["original_kind"], p["field"], p["size"], p["limit"]) == (
        "media.write",
        "media_write.path",
        len(LONG_PATH),
        4096,
    )
    assert p["original_event_id"] == marker.event_id
    original = pb.MediaWrite(path=LONG_PATH, size=12, user="taro", device_serial="S1")
    assert p["payload_sha256"] == hashlib.sha256(original.SerializeToString(deterministic=True)).hexdigest()
    assert p["original_bytes"] > len(LONG_PATH.encode())
    cut = json.loads(p["excerpt"])
    assert cut["path"].startswith("/media/usb0/資料") and f"of {len(LONG_PATH)} characters]" in cut["path"]
    assert (cut["user"], cut["device_serial"], cut["size"]) == ("taro", "S1", "12"), "short fields kept whole"


def test_only_the_spool_records_markers(tmp_path: Path) -> None:
    with Spool.open(tmp_path) as spool:
        with pytest.raises(ValueError, match="recorded by the spool itself"):
            spool.append("event.oversize", {"original_kind": "usb.attached"})
        assert spool.depth() == 0


def _plant(directory: Path, rows: list[tuple[int, str, bytes]]) -> None:
    """Rows written straight into spool.db, as a spool restored from an older agent would hold them."""
    with sqlite3.connect(directory / "spool.db") as db:
        db.executemany("INSERT INTO events (seq, severity, kind, data) VALUES (?, 3, ?, ?)", rows)
        db.execute("UPDATE meta SET value = value + ? WHERE key = 'depth'", (len(rows),))
        db.execute("UPDATE meta SET value = max(value, ?) WHERE key = 'last_seq'", (max(r[0] for r in rows),))


def test_a_restored_spool_is_read_as_markers_and_rewritten_once(tmp_path: Path) -> None:
    with Spool.open(tmp_path) as spool:
        spool.append("agent.started", {"agent_version": "1"})
    # An oversized event, bytes that are no event, and a kind only the collector may record.
    huge = events.encode("usb.attached", {"vendor_id": "0781", "interface_classes": ["08:06:50"] * 1000}, seq=2)
    gap = events.encode("sequence.gap", {"first_missing": 1}, seq=4)
    _plant(tmp_path, [(2, "usb.attached", huge), (3, "usb.attached", b"\xff\xfe not protobuf"), (4, "x", gap)])
    with Spool.open(tmp_path) as spool:
        first = spool.pending()
        assert [seq for seq, _ in first] == [1, 2, 3, 4]
        marks = [_within_bounds(data) for _, data in first]
        assert [m.kind for m in marks] == ["agent.started"] + ["event.oversize"] * 3
        assert [m.seq for m in marks] == [1, 2, 3, 4]
        assert marks[1].payload["field"] == "usb.interface_classes" and marks[1].payload["size"] == 1000
        assert "[cut 984 of 1000 entries]" in marks[1].payload["excerpt"]
        assert marks[2].payload["original_kind"] == "unknown"
        assert marks[2].payload["payload_sha256"] == hashlib.sha256(b"\xff\xfe not protobuf").hexdigest()
        assert marks[3].payload["original_kind"] == "sequence.gap" and "collector" in marks[3].payload["reason"]
        assert spool.pending() == first, "rewritten in the file: every retry sends the same marker (same event id)"
    with sqlite3.connect(tmp_path / "spool.db") as db:
        assert [k for (k,) in db.execute("SELECT kind FROM events ORDER BY seq")] == ["agent.started"] + [
            "event.oversize"
        ] * 3


def test_the_excerpt_stays_within_its_bound_and_escapes_nul() -> None:
    payload = pb.CheckResult(
        check_id="c\x00d", evidence_json="[" + ",".join(['"x"'] * 400_000) + "]", summary="s" * 100
    )
    text = oversize.excerpt(payload)
    assert len(text) <= bounds.string_limit("excerpt") and "\x00" not in text and "c\\u0000d" in text
    payload = pb.CheckResult(
        **{name: "v" * 4000 for name in ("check_id", "status", "summary", "remediation")}, evidence_json="e" * 100_000
    )
    text = oversize.excerpt(payload)
    assert len(text) <= bounds.string_limit("excerpt") and text.count("characters]") == 5


def test_an_oversized_event_is_delivered_as_its_marker_and_the_rest_follows(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    rig.spool.append("media.write", {"path": LONG_PATH})
    rig.emit(3)
    _plant(rig.state.spool, [(5, "check.result", events.encode("check.result", {"summary": "s" * 70_000}, seq=5))])
    rig.emit(1)

    async def body() -> None:
        async with running(rig):
            await rig.collector.until(lambda: len(rig.collector.stored) == 6)

    asyncio.run(body())
    got = [_within_bounds(rig.collector.stored[seq]) for seq in sorted(rig.collector.stored)]
    assert [(e.seq, e.kind) for e in got] == [(1, "event.oversize")] + [(i, "check.result") for i in (2, 3, 4)] + [
        (5, "event.oversize"),
        (6, "check.result"),
    ]
    assert got[0].payload["field"] == "media_write.path" and got[4].payload["field"] == "check_result.summary"
    assert rig.pending_seqs() == [], "all acked: the spool drained"


def test_renumbering_a_spool_with_bytes_that_are_no_event_keeps_a_marker(tmp_path: Path) -> None:
    with Spool.open(tmp_path) as spool:
        spool.append("agent.started", {"agent_version": "1"})
    _plant(tmp_path, [(2, "check.result", b"\xff\xfe not protobuf")])
    with Spool.open(tmp_path) as spool:
        assert spool.restamp() == 2  # a re-enrolment renumbers everything: the garbage must not stop it
        kinds = [_within_bounds(data).kind for _, data in spool.pending()]
    assert kinds == ["agent.started", "event.oversize"]
