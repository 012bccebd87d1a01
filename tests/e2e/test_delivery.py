"""Events flow from real agents to a real collector over mutual TLS, exactly once, through crashes."""

from __future__ import annotations

import time

from tests.e2e.harness import wait_for

FAST = {
    "shipper": {
        "heartbeat_seconds": 1.0,
        "backoff_initial_seconds": 0.2,
        "backoff_max_seconds": 1.0,
        "batch_max_events": 50,
    },
    # Delivery is counted event by event here; the posture checks' own events have their own e2e test.
    "checks": {"enabled": False},
}


def seqs(events, agent_id):
    return sorted(e["seq"] for e in events if e["agent_id"] == agent_id and e["seq"] is not None)


def enrolled(collector, make_agent, name, segment="lgwan"):
    agent = make_agent(name)
    agent.enroll(collector, collector.token(segment=segment))
    agent.write_config(**FAST)
    return agent


def delivered_all(collector, agent, n):
    """Wait until the agent's spool is empty and the collector holds seqs 1..n without holes."""

    def check():
        got = seqs(collector.events("--agent", agent.agent_id), agent.agent_id)
        return got if len(got) >= n else None

    return wait_for(check, timeout=60, interval=0.5, what=f"{n} events from {agent.agent_id}")


def test_two_agents_events_stored_once_each(collector, make_agent):
    collector.start()
    a = enrolled(collector, make_agent, "a", "mynumber")
    b = enrolled(collector, make_agent, "b", "internet")
    a.emit(30)
    b.emit(20)
    a.start()
    b.start()
    got_a = delivered_all(collector, a, 33)  # enrolled, started, policy x2 + 30 emitted... at least 33
    got_b = delivered_all(collector, b, 23)
    assert got_a == list(range(1, len(got_a) + 1)), "each seq exactly once, no holes"
    assert got_b == list(range(1, len(got_b) + 1))
    agents = {x["id"]: x for x in collector.agents()}
    assert agents[a.agent_id]["segment"] == "mynumber"
    assert agents[b.agent_id]["segment"] == "internet"
    events_a = collector.events("--agent", a.agent_id)
    kinds_a = [e["kind"] for e in events_a]
    assert sum(1 for e in events_a if e["payload"].get("check_id") == "mamori.test_event") == 30
    assert "agent.enrolled" in kinds_a and "agent.started" in kinds_a and "policy.applied" in kinds_a


def test_collector_down_whole_time_then_all_delivered_in_order(collector, make_agent):
    collector.start()
    a = enrolled(collector, make_agent, "a")
    collector.stop()
    a.start()
    for _ in range(5):
        a.emit(40)
        time.sleep(0.2)
    time.sleep(1.5)  # the agent keeps retrying against a closed port
    assert a.proc.poll() is None, "the agent must keep running while the collector is down"
    assert a.spool_depth() >= 200
    collector.start()
    got = delivered_all(collector, a, 203)
    assert got == list(range(1, len(got) + 1))
    events = collector.events("--agent", a.agent_id)
    # Stored in the order they happened: occurred_at rises with seq.
    ordered = sorted((e for e in events if e["seq"]), key=lambda e: e["seq"])
    times = [e["occurred_at"] for e in ordered]
    assert times == sorted(times)
    wait_for(lambda: a.spool_depth() == 0, what="spool drained after acks")


def test_collector_killed_mid_stream_every_event_once(collector, make_agent):
    collector.start()
    a = enrolled(collector, make_agent, "a")
    a.start()
    wait_for(lambda: collector.events("--agent", a.agent_id), what="first events")
    a.emit(3000)
    time.sleep(0.3)
    collector.kill9()
    a.emit(500)
    collector.start()
    got = delivered_all(collector, a, 3504)
    assert got == list(range(1, len(got) + 1)), "no duplicate and no hole after a collector crash"


def test_agent_killed_mid_batch_nothing_lost_nothing_duplicated(collector, make_agent):
    collector.start()
    a = enrolled(collector, make_agent, "a")
    a.emit(3000)
    a.start()
    wait_for(lambda: len(collector.events("--agent", a.agent_id)) > 50, what="delivery under way")
    a.kill9()
    a.start()
    got = delivered_all(collector, a, 3004)
    assert got == list(range(1, len(got) + 1))
    started = [e for e in collector.events("--agent", a.agent_id, "--kind", "agent.started")]
    assert [e["payload"].get("previous_exit") for e in sorted(started, key=lambda e: e["seq"])] == ["first", "unclean"]
