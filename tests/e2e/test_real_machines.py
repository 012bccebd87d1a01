"""Agents on real machines (issue 11): a second run, a tampered cache in status, a full disk, a restored folder."""

from __future__ import annotations

from tests.e2e.harness import run_cli, wait_for
from tests.e2e.test_tamper import FAST, events_of, wait_event


def test_second_run_on_the_same_state_folder_is_refused(collector, make_agent):
    collector.start()
    a = make_agent("a")
    a.enroll(collector, collector.token())
    a.write_config(**FAST)
    a.start()
    wait_event(collector, a, "agent.started", lambda e: True, "first start")
    second = run_cli("agent.cli", "--state-dir", str(a.state_dir), "run", check=False, timeout=20,
                     env={"MAMORI_LANG": "ja"})
    assert second.returncode == 1
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1 and "既に" in lines[0], second.stderr
    assert a.proc.poll() is None  # the first run goes on
    assert a.stop() == 0
    a.start()
    wait_for(lambda: len(events_of(collector, a, "agent.started")) == 2, what="restart")
    starts = events_of(collector, a, "agent.started")
    assert [e["payload"]["previous_exit"] for e in starts] == ["first", "clean"]  # no false unclean stop
    assert not [e for e in events_of(collector, a, "agent.stopped") if "found at start" in e["payload"]["reason"]]
