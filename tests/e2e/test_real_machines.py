"""Agents on real machines (issue 11): a second run, a tampered cache in status, a full disk, a restored folder."""

from __future__ import annotations

import json

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


def _status(agent, lang="en"):
    return run_cli("agent.cli", "--state-dir", str(agent.state_dir), "status", *(["--json"] if lang == "json" else []),
                   env={"MAMORI_LANG": "ja" if lang == "ja" else "en"})


def test_status_shows_what_the_agent_enforces_after_the_cache_was_edited(collector, make_agent):
    collector.start()
    a = make_agent("a")
    a.enroll(collector, collector.token())
    a.write_config(**FAST)
    a.start()
    wait_for(lambda: (a.state_dir / "policy.json").exists(), what="policy pushed on connect")
    a.stop()
    collector.stop()  # unreachable: no push will replace the edited cache
    cache = a.state_dir / "policy.json"
    record = json.loads(cache.read_text())
    record["document"]["usb"]["mode"] = "audit"
    cache.write_text(json.dumps(record))
    a.start()
    running = wait_for(lambda: (s := json.loads(_status(a, "json").stdout))["running"]
                       and s["status_updated_at"] and s, what="status of the running agent")
    assert (running["policy_source"], running["usb_mode"], running["policy_cache_rejected"]) == \
        ("strictest", "block", True), running
    assert "最も厳しいポリシー" in _status(a, "ja").stdout
    a.stop()
    a.start()  # a restart still does not trust the edit, and says so
    wait_for(lambda: "enforcing the strictest policy" in a.log(), what="the next run distrusts the edit too")
    a.stop()
    stopped = json.loads(_status(a, "json").stdout)
    assert (stopped["policy_source"], stopped["usb_mode"], stopped["policy_cache_rejected"]) == \
        ("strictest", "block", True), stopped
