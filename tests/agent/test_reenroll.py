"""enroll --force: the spool's unsent events move into the new identity's sequence, once and safely."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent import reenroll
from agent.spool import Restamped, Spool
from mamori.events import decode_bytes


def test_adopt_restamps_unsent_events_from_one_for_a_new_identity(tmp_path: Path) -> None:
    with Spool.open(tmp_path) as sp:
        assert reenroll.adopt(sp, tmp_path, "old") == 0  # first enrollment: claimed, nothing moves
        for i in range(8):
            sp.append("check.result", {"check_id": f"c{i}", "status": "pass"})
        sp.ack(5)  # 1..5 delivered under the old id; 6..8 are not
        before = [decode_bytes(d) for _, d in sp.pending()]
        assert reenroll.adopt(sp, tmp_path, "new") == 3
        after = [decode_bytes(d) for _, d in sp.pending()]
        assert [e.seq for e in after] == [1, 2, 3]
        assert [(e.event_id, e.occurred_at, e.payload) for e in after] == [
            (e.event_id, e.occurred_at, e.payload) for e in before
        ]
        assert sp.append("agent.enrolled", {"agent_id": "new"}) == 4
        assert reenroll.adopt(sp, tmp_path, "new") == 0  # again (run after enroll): nothing moves
    with Spool.open(tmp_path) as sp:  # the seq mark agrees with the new numbering across a restart
        assert sp.append("check.result", {"check_id": "x", "status": "pass"}) == 5


def test_a_spool_from_before_owner_files_is_claimed_not_restamped(tmp_path: Path) -> None:
    with Spool.open(tmp_path) as sp:
        sp.append("check.result", {"check_id": "c", "status": "pass"})
        sp.append("check.result", {"check_id": "c", "status": "pass"})
        assert reenroll.adopt(sp, tmp_path, "current") == 0
        assert [s for s, _ in sp.pending()] == [1, 2]
        assert reenroll.owner(tmp_path) == "current"


def test_a_shipper_of_the_old_numbering_can_neither_ack_nor_read(tmp_path: Path) -> None:
    with Spool.open(tmp_path) as sp, Spool.open(tmp_path) as other_process:
        for i in range(6):
            sp.append("check.result", {"check_id": f"c{i}", "status": "pass"})
        epoch = sp.epoch()
        sp.ack(3, epoch)
        other_process.restamp()  # enroll --force in another process
        with pytest.raises(Restamped):
            sp.ack(6, epoch)  # the old record's ack: would delete renumbered events it never saw
        with pytest.raises(Restamped):
            sp.pending(3, 100, epoch)
        assert [s for s, _ in sp.pending(0, 100, sp.epoch())] == [1, 2, 3]
