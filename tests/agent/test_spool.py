"""Tests for the agent's durable outbox (agent.spool), on real files."""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from agent import spool as spool_mod
from agent.spool import Spool
from mamori.events import Event, EventError, decode_bytes
from mamori.labels import SEVERITIES

REPO = Path(__file__).resolve().parents[2]


def check(n: int = 0) -> dict:
    return {"check_id": f"c{n}", "status": "pass"}


def events_in(sp: Spool) -> list[Event]:
    return [decode_bytes(data) for _, data in sp.pending(limit=1_000_000)]


def test_append_pending_ack_in_order(tmp_path: Path) -> None:
    with Spool.open(tmp_path) as sp:
        seqs = [sp.append("check.result", check(i)) for i in range(5)]
        assert seqs == [1, 2, 3, 4, 5]
        rows = sp.pending()
        assert [seq for seq, _ in rows] == seqs
        first = decode_bytes(rows[0][1])
        assert (first.kind, first.seq, first.severity) == ("check.result", 1, "info")
        assert first.payload == check(0)
        assert [seq for seq, _ in sp.pending(after_seq=2, limit=2)] == [3, 4]
        assert sp.ack(3) == 3
        assert sp.ack(3) == 0
        assert (sp.depth(), sp.oldest_seq()) == (2, 4)
        stats = sp.stats()
        assert (stats.depth, stats.next_seq, stats.dropped_total, stats.oldest_seq) == (2, 6, 0, 4)
        assert sp.append_many([("usb.blocked", {}), ("agent.tamper", {"what": "x"}, "critical")]) == [6, 7]
        assert [e.severity for e in events_in(sp)[-2:]] == ["medium", "critical"]


def test_durable_settings(tmp_path: Path) -> None:
    with Spool.open(tmp_path) as sp:
        db = sp._db
        assert db is not None
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_two_handles_on_one_spool_share_seqs_and_depth(tmp_path: Path) -> None:
    # The running agent plus `mamori-agent check` / `status` in other processes: separate connections.
    with Spool.open(tmp_path) as agent, Spool.open(tmp_path) as other:
        assert [agent.append("check.result", check()), other.append("check.result", check())] == [1, 2]
        assert agent.append_many([("check.result", check())] * 2) == [3, 4]
        assert other.append("check.result", check()) == 5
        assert agent.depth() == other.depth() == 5
        assert other.ack(2) == 2
        assert agent.depth() == 3 and agent.stats().next_seq == 6
        with Spool.open(tmp_path) as status:  # opening alongside changes nothing
            assert status.stats() == other.stats()
            assert [e.kind for e in events_in(status)] == ["check.result"] * 3

        got: list[int] = []

        def worker(sp: Spool) -> None:
            got.extend(sp.append("check.result", check()) for _ in range(20))

        threads = [threading.Thread(target=worker, args=(sp,)) for sp in (agent, other, agent, other)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(got) == list(range(6, 86))
        assert [seq for seq, _ in agent.pending()] == [3, 4, 5, *range(6, 86)]


def test_seqs_continue_across_reopen_without_gap(tmp_path: Path) -> None:
    with Spool.open(tmp_path) as sp:
        assert sp.append_many([("check.result", check())] * 3) == [1, 2, 3]
        sp.ack(3)  # an empty spool must still remember where it was
    with Spool.open(tmp_path) as sp:
        assert sp.append("check.result", check()) == 4
    with Spool.open(tmp_path) as sp:
        assert sp.stats().next_seq == 5


KILL_SCRIPT = """
import sys
from pathlib import Path
from agent.spool import Spool
sp = Spool.open(Path(sys.argv[1]))
for i in range(1_000_000):
    print(sp.append("check.result", {"check_id": "c", "status": "pass"}), flush=True)
"""


def test_kill_9_loses_no_appended_event(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", KILL_SCRIPT, str(tmp_path)], stdout=subprocess.PIPE, env=env, text=True
    )
    assert proc.stdout is not None
    printed: list[int] = []
    try:
        for line in proc.stdout:
            printed.append(int(line))
            if len(printed) >= 150:
                break
    finally:
        proc.kill()  # SIGKILL: no atexit, no close, no checkpoint
    rest, _ = proc.communicate(timeout=10)
    printed += [int(line) for line in rest.splitlines(keepends=True) if line.endswith("\n")]
    assert proc.returncode == -9
    assert len(printed) >= 150
    with Spool.open(tmp_path) as sp:
        stored = {seq for seq, _ in sp.pending(limit=1_000_000)}
        assert set(printed) <= stored
        assert sp.append("check.result", check()) > max(printed)


def test_deleted_db_jumps_forward_and_says_so(tmp_path: Path) -> None:
    with Spool.open(tmp_path) as sp:
        handed_out = sp.append_many([("check.result", check())] * 5)
    (tmp_path / "spool.db").unlink()
    with Spool.open(tmp_path) as sp:
        [notice] = events_in(sp)
        assert notice.kind == "spool.corrupt" and notice.payload["error"].startswith("spool.db was missing")
        assert notice.seq > max(handed_out)
        assert sp.append("check.result", check()) > notice.seq


def test_lost_hwm_file_with_intact_db_does_not_reuse(tmp_path: Path) -> None:
    with Spool.open(tmp_path) as sp:
        sp.append_many([("check.result", check())] * 5)
        sp.ack(5)
    (tmp_path / "seq.hwm").unlink()
    with Spool.open(tmp_path) as sp:
        assert sp.append("check.result", check()) == 6
    assert int((tmp_path / "seq.hwm").read_text()) > 6


def test_restored_old_copy_of_db_jumps_past_everything_handed_out(tmp_path: Path) -> None:
    with Spool.open(tmp_path) as sp:
        sp.append("check.result", check())
    old = (tmp_path / "spool.db").read_bytes()
    with Spool.open(tmp_path) as sp:
        # More than one reservation block, so the old copy is out of step with seq.hwm.
        last = sp.append_many([("check.result", check())] * (spool_mod.RESERVE_BLOCK + 10))[-1]
    (tmp_path / "spool.db").write_bytes(old)
    with Spool.open(tmp_path) as sp:
        assert sp.append("check.result", check()) > last


def _truncate(path: Path) -> None:
    with Spool.open(path.parent) as sp:
        sp.append_many([("check.result", check(i)) for i in range(2000)])
    with open(path, "r+b") as f:
        f.truncate(path.stat().st_size // 2)


def _random(path: Path) -> None:
    path.write_bytes(os.urandom(16384))


def _foreign_schema(path: Path) -> None:
    path.unlink()
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, body TEXT)")
    db.close()


@pytest.mark.parametrize(
    ("damage", "error"),
    [(_random, "not a database"), (_truncate, "malformed"), (_foreign_schema, "unexpected schema")],
)
def test_corrupt_spool_is_kept_aside_and_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, damage, error: str
) -> None:
    with Spool.open(tmp_path) as sp:
        before = sp.append("check.result", check())
    path = tmp_path / "spool.db"
    damage(path)
    damaged = path.read_bytes()
    with caplog.at_level(logging.WARNING, logger="mamori.agent.spool"), Spool.open(tmp_path) as sp:
        [notice] = events_in(sp)
        assert notice.kind == "spool.corrupt" and notice.severity == "high"
        kept = Path(notice.payload["kept_as"])
        assert kept.parent == tmp_path and kept.name.startswith("spool.db.corrupt-")
        assert kept.read_bytes() == damaged
        assert error in notice.payload["error"]
        assert notice.seq > before
        # The new spool works normally.
        seq = sp.append("check.result", check())
        assert seq > notice.seq
        assert sp.ack(seq) == 2 and sp.depth() == 0
    assert any(r.name == "mamori.agent.spool" and "corrupt" in r.getMessage() for r in caplog.records)
    with Spool.open(tmp_path) as sp:  # and it stays healthy: no second notice
        assert events_in(sp) == []


def test_corrupt_spool_wal_goes_with_it(tmp_path: Path) -> None:
    (tmp_path / "spool.db").write_bytes(os.urandom(4096))
    (tmp_path / "spool.db-wal").write_bytes(b"old wal")
    with Spool.open(tmp_path) as sp:
        [notice] = events_in(sp)
    kept = Path(notice.payload["kept_as"])
    assert Path(f"{kept}-wal").read_bytes() == b"old wal"  # SQLite would have deleted it on close


def test_orphaned_wal_of_a_deleted_spool_is_kept(tmp_path: Path) -> None:
    with Spool.open(tmp_path) as sp:
        before = sp.append("check.result", check())
    (tmp_path / "spool.db").unlink()
    (tmp_path / "spool.db-wal").write_bytes(b"wal of the lost spool")
    with Spool.open(tmp_path) as sp:
        [notice] = events_in(sp)
        assert notice.seq > before
    assert Path(notice.payload["kept_as"]).read_bytes() == b"wal of the lost spool"


def test_failed_write_burns_its_seqs_and_leaves_spool_usable(tmp_path: Path, monkeypatch) -> None:
    with Spool.open(tmp_path) as sp:
        assert sp.append("check.result", check()) == 1

        def disk_full(path: Path, mark: int) -> None:
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(spool_mod.seqstore, "write_mark", disk_full)
        with pytest.raises(OSError):  # the batch crosses the reserved mark, so it must reserve
            sp.append_many([("check.result", check())] * spool_mod.RESERVE_BLOCK)
        monkeypatch.undo()
        # The lost batch shows as a gap instead of its seqs being reused.
        assert sp.append("check.result", check()) == 2 + spool_mod.RESERVE_BLOCK
        assert sp.depth() == 2


def test_overflow_drops_least_severe_oldest_first(tmp_path: Path) -> None:
    capacity = 1000  # chunk of 10
    with Spool.open(tmp_path, capacity=capacity) as sp:
        sp.append_many([("check.result", check(i), SEVERITIES[i % 5]) for i in range(capacity)])
        assert sp.stats().dropped_total == 0
        for _ in range(50):  # 9 + 1 overflow event: each batch drops exactly one chunk
            sp.append_many([("check.result", check(), "medium")] * 9)
        assert sp.depth() <= capacity
        evs = events_in(sp)
        overflows = [e for e in evs if e.kind == "spool.overflow"]
        assert len(overflows) == 50 and all(o.severity == "high" for o in overflows)
        assert [o.payload["dropped"] for o in overflows] == [10] * 50
        assert [o.payload["max_dropped_severity"] for o in overflows] == (
            ["SEVERITY_INFO"] * 20 + ["SEVERITY_LOW"] * 20 + ["SEVERITY_MEDIUM"] * 10
        )
        # The first chunk was the ten oldest info events (seqs 1, 6, ..., 46).
        assert (overflows[0].payload["first_seq"], overflows[0].payload["last_seq"]) == (1, 46)
        assert overflows[0].payload["capacity"] == capacity
        left = [e for e in evs if e.kind == "check.result"]
        assert {e.severity for e in left} == {"medium", "high", "critical"}
        assert [e.severity for e in left].count("high") == [e.severity for e in left].count("critical") == 200
        # Within a severity the oldest went first: the surviving stored mediums are the newest ones.
        mediums = [e.seq for e in left if e.severity == "medium" and e.seq <= capacity]
        assert len(mediums) == 100 and min(mediums) == 3 + 5 * 100
        assert sp.stats().dropped_total == 500
    with Spool.open(tmp_path, capacity=capacity) as sp:
        assert sp.stats().dropped_total == 500


def test_overflow_drops_stored_even_when_all_more_severe(tmp_path: Path) -> None:
    (tmp_path / "spool.db").write_bytes(b"garbage" * 1000)  # a spool.corrupt notice (high) comes first
    with Spool.open(tmp_path, capacity=10) as sp:
        sp.append_many([("agent.tamper", {"what": "x"}, "critical")] * 9)
        info = sp.append("check.result", check())
        evs = events_in(sp)
        assert sp.depth() == 10
        # The two oldest criticals went (seqs 2 and 3), not the less severe notice nor the incoming info.
        assert [e.kind for e in evs[:2]] == ["spool.corrupt", "agent.tamper"] and evs[1].seq == 4
        [overflow] = [e for e in evs if e.kind == "spool.overflow"]
        assert overflow.payload == {
            "dropped": 2,
            "capacity": 10,
            "max_dropped_severity": "SEVERITY_CRITICAL",
            "first_seq": 2,
            "last_seq": 3,
        }
        assert info in {e.seq for e in evs}


def test_overflow_keeps_notices_and_stays_bounded(tmp_path: Path) -> None:
    (tmp_path / "spool.db").write_bytes(b"garbage" * 1000)
    with Spool.open(tmp_path, capacity=10) as sp:
        # A single batch larger than the whole spool: its least severe events go.
        seqs = sp.append_many([("check.result", check(i), SEVERITIES[i % 2]) for i in range(25)])
        evs = events_in(sp)
        assert all(e.severity == "low" for e in evs if e.seq in seqs)
        for _ in range(100):  # a long outage: overflow notices must not crowd out the spool
            sp.append("check.result", check())
            assert sp.depth() <= 10
        evs = events_in(sp)
        assert evs[0].kind == "spool.corrupt"  # never dropped
        [overflow] = [e for e in evs if e.kind == "spool.overflow"]  # earlier ones folded into it
        assert overflow.payload["dropped"] == sp.stats().dropped_total == 25 + 100 + 1 - 10 + 1
        assert overflow.payload["max_dropped_severity"] == "SEVERITY_LOW"
        assert overflow.payload["first_seq"] == seqs[0]
        assert sp.append("check.result", check()) > 0


def test_concurrent_appends_get_unique_gapless_seqs(tmp_path: Path) -> None:
    got: list[int] = []
    lock = threading.Lock()
    with Spool.open(tmp_path) as sp:

        def worker() -> None:
            mine = [sp.append("check.result", check()) for _ in range(25)]
            mine += sp.append_many([("check.result", check())] * 5)
            with lock:
                got.extend(mine)

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(got) == list(range(1, 8 * 30 + 1))
        assert [seq for seq, _ in sp.pending(limit=10_000)] == sorted(got)
        assert [e.seq for e in events_in(sp)] == sorted(got)  # seq inside the event matches its row


def test_listeners_called_after_append_outside_the_lock(tmp_path: Path) -> None:
    calls: list[tuple[bool, int]] = []
    with Spool.open(tmp_path) as sp:

        def listener() -> None:
            # Inside the spool's lock this would time out (and sp.depth() would deadlock).
            free = sp._lock.acquire(timeout=1)
            if free:
                sp._lock.release()
            calls.append((free, sp.depth() if free else -1))

        def broken() -> None:
            raise RuntimeError("listener bug")

        sp.add_listener(listener)
        sp.add_listener(broken)
        sp.append("check.result", check())
        sp.append_many([("usb.blocked", {})] * 3)
        assert calls == [(True, 1), (True, 4)]
        sp.remove_listener(broken)
        with pytest.raises(EventError):
            sp.append("no.such.kind", {})
        assert calls == [(True, 1), (True, 4)]  # a rejected event wakes nobody


def test_rejected_events_consume_no_seq(tmp_path: Path) -> None:
    with Spool.open(tmp_path) as sp:
        assert sp.append("check.result", check()) == 1
        with pytest.raises(EventError):
            sp.append("check.result", {"no_such_field": 1})
        with pytest.raises(EventError):
            sp.append_many([("check.result", check()), ("check.result", check(), "fatal")])
        with pytest.raises(ValueError, match="recorded by the spool"):
            sp.append("spool.overflow", {"dropped": 1})
        assert sp.append("check.result", check()) == 2
        assert sp.depth() == 2
    with pytest.raises(ValueError):
        Spool.open(tmp_path, capacity=1)


def test_rebase_moves_unsent_events_of_a_lost_spool_above_the_collectors_last_seq(tmp_path):
    """The whole spool folder deleted: seqs restart at 1, so unsent events are moved up, never discarded."""
    from mamori.events import decode_bytes

    spool = Spool.open(tmp_path / "s", capacity=1000)  # no seq mark: history unknown until a Welcome
    spool.append_many([("check.result", {"check_id": f"c{i}"}) for i in range(3)])
    offset = spool.rebase(collector_last_seq=2)
    assert offset == 2, "even though the counter (4) is past the collector's 2, seqs 1-2 were never sent"
    rows = spool.pending()
    assert [s for s, _ in rows] == [3, 4, 5, 6]
    decoded = [decode_bytes(d) for _, d in rows]
    assert [e.seq for e in decoded] == [3, 4, 5, 6], "the serialized events carry the new seqs"
    assert [e.payload.get("check_id") for e in decoded[:3]] == ["c0", "c1", "c2"]
    assert decoded[3].kind == "agent.tamper" and "renumbered" in decoded[3].payload["detail"]
    assert spool.append("check.result", {}) == 7
    spool.close()
    reopened = Spool.open(tmp_path / "s", capacity=1000)
    assert reopened.rebase(collector_last_seq=5) == 0, "verified history: unacked-but-stored events stay put"
    assert reopened.append("check.result", {}) == 8
    reopened.close()


def test_new_agent_spool_is_verified_by_a_zero_welcome(tmp_path):
    spool = Spool.open(tmp_path / "s", capacity=1000)
    spool.append_many([("check.result", {})] * 3)
    assert spool.rebase(collector_last_seq=0) == 0
    assert spool.rebase(collector_last_seq=2) == 0, "after verification only a counter behind would move"
    assert [s for s, _ in spool.pending()] == [1, 2, 3]
    assert spool.rebase(collector_last_seq=10) == 10
    assert [s for s, _ in spool.pending()][:3] == [11, 12, 13]
    spool.close()


def test_a_verified_spool_behind_the_collector_was_restored_and_says_so(tmp_path):
    """A snapshot revert puts back a spool that knew its history: the renumbering is recorded as 'restored'."""
    from mamori.events import decode_bytes

    spool = Spool.open(tmp_path / "s", capacity=1000)
    spool.rebase(collector_last_seq=0)  # verified
    spool.append_many([("check.result", {})] * 2)
    assert spool.rebase(collector_last_seq=9) == 9  # lowest pending seq 1 -> 10
    tamper = decode_bytes(spool.pending()[-1][1])
    assert tamper.kind == "agent.tamper" and tamper.payload["what"] == "restored"
    assert "restored from an older copy" in tamper.payload["detail"]
    spool.close()
