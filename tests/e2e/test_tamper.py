"""Stops and tampering reach the collector as agent.stopped / agent.tamper, with who and what."""

from __future__ import annotations

import json
import os

from tests.e2e.harness import wait_for

FAST = {
    "shipper": {"heartbeat_seconds": 1.0, "backoff_initial_seconds": 0.2, "backoff_max_seconds": 1.0},
    "watchdog": {"interval_seconds": 0.2},
    "integrity": {"check_seconds": 0.5},
}


def events_of(collector, agent, kind):
    return sorted(collector.events("--agent", agent.agent_id, "--kind", kind), key=lambda e: e["seq"])


def wait_event(collector, agent, kind, match, what):
    def find():
        return [e for e in events_of(collector, agent, kind) if match(e)]

    return wait_for(find, timeout=60, interval=0.3, what=what)[0]


def test_stops_are_recorded_with_their_sender(collector, make_agent):
    collector.start()
    a = make_agent("a")
    a.enroll(collector, collector.token())
    a.write_config(**FAST)
    a.start()
    wait_event(collector, a, "agent.started", lambda e: True, "first start")
    assert a.stop() == 0  # SIGTERM from this test process: a person, not the service manager
    stopped = wait_event(collector, a, "agent.stopped", lambda e: True, "stop event")
    assert stopped["payload"]["reason"].startswith(f"signal:SIGTERM from pid {os.getpid()} (")
    assert stopped["severity"] == "high"

    a.start()
    wait_for(lambda: len(events_of(collector, a, "agent.started")) == 2, what="second start")
    a.kill9()
    a.start()
    killed = wait_event(
        collector, a, "agent.stopped", lambda e: "killed" in e["payload"]["reason"], "kill -9 found at the next start"
    )
    assert killed["severity"] == "high"
    starts = events_of(collector, a, "agent.started")
    assert [e["payload"]["previous_exit"] for e in starts] == ["first", "clean", "unclean"]
    # Reported as of when the killed run was last seen alive, not when the next run found out.
    assert killed["occurred_at"] < starts[-1]["occurred_at"]


def test_edited_policy_cache_is_reported_and_not_trusted(collector, make_agent):
    collector.start()
    a = make_agent("a")
    a.enroll(collector, collector.token())
    a.write_config(**FAST)
    a.start()
    wait_for(lambda: (a.state_dir / "policy.json").exists(), what="policy pushed on connect")
    a.stop()
    cache = a.state_dir / "policy.json"
    record = json.loads(cache.read_text())
    record["document"]["usb"]["mode"] = "audit"  # someone loosens the cached policy by hand
    cache.write_text(json.dumps(record))
    a.start()
    tamper = wait_event(
        collector, a, "agent.tamper", lambda e: e["payload"]["what"] == "policy_cache", "policy cache tamper"
    )
    assert tamper["severity"] == "high"
    applied = [e for e in events_of(collector, a, "policy.applied") if e["seq"] > tamper["seq"]]
    assert applied[0]["payload"]["mode"] == "strictest", "an edited cache is not trusted"
    # The collector sends the policy again on connect; the agent's own write is the new baseline.
    wait_for(
        lambda: any(
            e["payload"]["mode"] == "collector" and e["seq"] > tamper["seq"]
            for e in events_of(collector, a, "policy.applied")
        ),
        what="policy re-sent",
    )
    a.stop()
    a.start()
    wait_for(lambda: len(events_of(collector, a, "agent.started")) == 3, what="third start")
    assert len(events_of(collector, a, "agent.tamper")) == 1, "a clean restart reports nothing"


def test_config_edits_are_reported_at_start_and_while_running(collector, make_agent):
    collector.start()
    a = make_agent("a")
    a.enroll(collector, collector.token())
    config = a.write_config(**FAST)
    a.start()
    wait_event(collector, a, "agent.started", lambda e: True, "start")
    with config.open("a") as f:
        f.write("# edited while running\n")
    running = wait_event(
        collector, a, "agent.tamper", lambda e: e["payload"]["what"] == "config", "config edited while running"
    )
    assert "while the agent runs" in running["payload"]["detail"] and running["severity"] == "medium"
    a.stop()
    with config.open("a") as f:
        f.write("# edited while stopped\n")
    a.start()
    wait_for(
        lambda: [
            e for e in events_of(collector, a, "agent.tamper") if "since the last start" in e["payload"]["detail"]
        ],
        what="config edit found at start",
    )


def test_self_watchdog_restarts_the_agent_and_reports_it(collector, make_agent):
    collector.start()
    a = make_agent("a")
    a.enroll(collector, collector.token())
    a.write_config(**{**FAST, "watchdog": {"interval_seconds": 0.2, "memory_limit_mib": 1}})
    a.start()
    stopped = wait_event(
        collector,
        a,
        "agent.stopped",
        lambda e: e["payload"]["reason"].startswith("watchdog: memory"),
        "watchdog restart",
    )
    assert stopped["severity"] == "medium"
    # Restarted in place (exec: same PID, so systemd keeps tracking it), after an orderly shutdown.
    after = wait_event(collector, a, "agent.started", lambda e: e["seq"] > stopped["seq"], "restart")
    assert after["payload"]["pid"] == a.proc.pid and after["payload"]["previous_exit"] == "clean"


def test_spool_deleted_while_running_restarts_and_reports_spool_corrupt(collector, make_agent):
    collector.start()
    a = make_agent("a")
    a.enroll(collector, collector.token())
    a.write_config(**FAST)
    a.start()
    wait_event(collector, a, "policy.applied", lambda e: True, "connected")
    wait_for(lambda: a.spool_depth() == 0, what="spool drained")
    (a.state_dir / "spool" / "spool.db").unlink()
    wait_event(collector, a, "spool.corrupt", lambda e: True, "spool.corrupt after the restart")
    stopped = wait_event(collector, a, "agent.stopped", lambda e: "spool" in e["payload"]["reason"], "stop reason")
    assert stopped["severity"] == "high"
