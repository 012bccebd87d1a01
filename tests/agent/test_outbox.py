"""Events the disk had no room for are counted across restarts and folded like any overflow notice."""

from __future__ import annotations

import sqlite3

from agent import outbox
from agent.outbox import Outbox
from agent.spool import Spool
from mamori import events


def _payloads(spool, kind):
    return [e.payload for e in (events.decode_bytes(d) for _, d in spool.pending(limit=10_000)) if e.kind == kind]


def test_lost_count_survives_a_restart_and_is_recorded_once(tmp_path, monkeypatch):
    box = Outbox(tmp_path / "spool", 100)

    def full(*_a, **_k):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(box.spool, "append_many", full)
    monkeypatch.setattr(box.spool, "record_unstored", full)
    assert box.append("agent.stopped", {"reason": "x"}, severity="high") == 0
    assert box.append("agent.started", {}) == 0 and box.lost == 2
    box.close()
    monkeypatch.undo()
    box = Outbox(tmp_path / "spool", 100)  # the next run takes over the count
    assert box.lost == 2
    assert box.append("agent.started", {}) > 0 and box.lost == 0
    [notice] = _payloads(box.spool, "spool.overflow")
    assert notice["dropped"] == 2 and notice["reason"] == "disk full"
    assert notice["max_dropped_severity"] == "SEVERITY_HIGH" and notice["first_lost_at"] <= notice["last_lost_at"]
    box.close()
    assert Outbox(tmp_path / "spool", 100).lost == 0


def test_unopenable_spool_is_retried(tmp_path, monkeypatch):
    monkeypatch.setattr(outbox, "REOPEN_SECONDS", 0.0)
    real = Spool.open
    monkeypatch.setattr(Spool, "open", classmethod(lambda cls, *a, **k: (_ for _ in ()).throw(OSError(28, "full"))))
    box = Outbox(tmp_path / "spool", 100)
    assert box.spool is None and box.append("agent.started", {}) == 0 and box.pending() == [] and box.ack(5) == 0
    monkeypatch.setattr(Spool, "open", real)
    assert box.flush_lost() and box.spool is not None
    assert _payloads(box.spool, "spool.overflow")[0]["dropped"] == 1
    box.close()


def test_disk_full_notice_folds_into_a_later_overflow(tmp_path):
    spool = Spool.open(tmp_path / "spool", capacity=10)
    spool.record_unstored(
        {"dropped": 3, "capacity": 10, "reason": "disk full", "max_dropped_severity": "SEVERITY_HIGH"}
    )
    for _ in range(15):
        spool.append("agent.started", {})
    [folded] = _payloads(spool, "spool.overflow")
    assert folded["dropped"] >= 3 and folded["max_dropped_severity"] == "SEVERITY_HIGH"
    spool.close()


def test_a_stream_welcomed_before_the_spool_opened_must_reconnect(tmp_path, monkeypatch):
    from agent.spool import Restamped

    monkeypatch.setattr(outbox, "REOPEN_SECONDS", 0.0)
    real = Spool.open
    monkeypatch.setattr(Spool, "open", classmethod(lambda cls, *a, **k: (_ for _ in ()).throw(OSError(28, "full"))))
    box = Outbox(tmp_path / "spool", 100)
    epoch = box.epoch()
    monkeypatch.setattr(Spool, "open", real)
    try:
        box.pending(0, 10, epoch)
    except Restamped:
        pass
    else:
        raise AssertionError("the stream's Welcome never saw this spool: it must reconnect to rebase")
    box.close()
