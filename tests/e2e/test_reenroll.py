"""Real processes: `enroll --force` gives the terminal a new identity without a false OPS-003 gap."""

from __future__ import annotations

import json

import grpc
import pytest

from agent.checks import CHECKS
from tests.e2e import clients
from tests.e2e.harness import run_cli, wait_for

SHIPPER = {"heartbeat_seconds": 1.0, "backoff_initial_seconds": 0.2, "backoff_max_seconds": 1.0}


def seqs(collector, agent_id):
    return sorted(e["seq"] for e in collector.events("--agent", agent_id) if e["seq"] is not None)


def reenroll(agent, collector):
    out = agent.cli(
        "enroll",
        "--collector",
        f"127.0.0.1:{collector.enroll_port}",
        "--token",
        collector.token(segment="mynumber", department="市民課"),
        "--ca-cert",
        str(collector.data_dir / "ca.crt"),
        "--json",
        "--force",
    )
    old, agent.agent_id = agent.agent_id, json.loads(out.stdout)["agent_id"]
    return old, out


def test_reenroll_delivers_unsent_events_under_the_new_id_and_supersedes_the_old(collector, make_agent):
    collector.start()
    agent = make_agent()
    agent.enroll(collector, collector.token(segment="mynumber", department="市民課"))
    agent.write_config(shipper=SHIPPER)
    agent.emit(2, kind="media.write")  # MED-002: an open violation on the old record
    agent.start()
    wait_for(
        lambda: (
            {e["payload"]["check_id"] for e in collector.events("--agent", agent.agent_id, "--kind", "check.result")}
            >= set(CHECKS)
        ),
        timeout=120,
        interval=1.0,
        what="the old identity's first full posture",
    )
    agent.stop()
    collector.stop()
    agent.emit(5)  # recorded while the collector is away: unsent under the old identity
    collector.start()
    old_key, old_cert = (agent.state_dir / "agent.key").read_bytes(), (agent.state_dir / "agent.crt").read_bytes()
    old, out = reenroll(agent, collector)
    agent.start()

    def full_posture():
        got = collector.events("--agent", agent.agent_id, "--kind", "check.result")
        full = {e["payload"]["check_id"] for e in got if e["payload"].get("full_report")}
        return full >= set(CHECKS) and agent.spool_depth() == 0

    wait_for(full_posture, timeout=120, interval=1.0, what="the new identity's full posture report")
    agent.stop()

    got = seqs(collector, agent.agent_id)
    assert got == list(range(1, len(got) + 1)), "the new identity's sequence starts at 1 without holes"
    assert collector.events("--kind", "sequence.gap") == []
    assert "Restart the agent service" in out.stderr and old in out.stderr
    new_events = collector.events("--agent", agent.agent_id)
    assert sum(1 for e in new_events if e["payload"].get("check_id") == "mamori.test_event") == 5, "none lost"
    kinds = [e["kind"] for e in sorted(new_events, key=lambda e: e["seq"] or 0)]
    assert kinds.index("agent.enrolled") > max(
        i
        for i, e in enumerate(sorted(new_events, key=lambda e: e["seq"] or 0))
        if e["payload"].get("check_id") == "mamori.test_event"
    )
    violations = json.loads(collector.cli("violations", "list", "--json").stdout)
    assert not [v for v in violations if v["rule_id"] == "OPS-003"]
    assert [v["status"] for v in violations if v["agent_id"] == old and v["rule_id"] == "MED-002"] == ["resolved"]
    assert all(v["status"] == "resolved" for v in violations if v["agent_id"] == old)
    [closed] = [v for v in violations if v["agent_id"] == old and v["rule_id"] == "MED-002"]
    # Written in the collector's language (the e2e processes run with MAMORI_LANG=en; Japanese by default).
    assert closed["resolution_note"] == f"replaced by re-enrollment (new ID {agent.agent_id})"
    agents = {a["id"]: a for a in collector.agents()}
    assert (agents[old]["status"], agents[old]["superseded_by"]) == ("superseded", agent.agent_id)
    assert agents[agent.agent_id]["status"] == "active"
    shown = collector.cli("agents", "show", old).stdout
    assert "superseded" in shown and "Replaced by (new ID)" in shown and agent.agent_id in shown
    audit = json.loads(collector.cli("audit-log", "list", "--action", "agent.supersede", "--json").stdout)
    assert [a["target"] for a in audit] == [f"agent:{old}"]
    summary = json.loads(collector.cli("summary", "--json").stdout)["agents"]["mynumber"]
    assert (summary["total"], summary["superseded"], summary["silent"]) == (1, 1, 0)
    # The old certificate is no identity any more.
    with pytest.raises(grpc.RpcError) as err:
        clients.stream(collector.port, (collector.data_dir / "ca.crt").read_bytes(), old_key, old_cert, [])
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED and "superseded" in err.value.details()


def test_reenroll_while_the_old_service_runs_loses_nothing_and_raises_no_gap(collector, make_agent):
    collector.start()
    agent = make_agent()
    agent.enroll(collector, collector.token(segment="mynumber", department="市民課"))
    agent.write_config(shipper=SHIPPER, checks={"enabled": False})
    agent.start()
    wait_for(lambda: agent.spool_depth() == 0 and seqs(collector, agent.agent_id), timeout=60, what="first delivery")
    # The service is not restarted yet. Without --lang the CLI speaks Japanese and says what to do.
    old = agent.agent_id
    out = run_cli(
        "agent.cli",
        "--state-dir",
        str(agent.state_dir),
        "enroll",
        "--force",
        "--collector",
        f"127.0.0.1:{collector.enroll_port}",
        "--token",
        collector.token(segment="mynumber"),
        "--ca-cert",
        str(collector.data_dir / "ca.crt"),
        env={"MAMORI_LANG": "ja"},
    )
    assert "サービスを再起動してください" in out.stdout and old in out.stdout
    agent.agent_id = json.loads(agent.cli("status", "--json").stdout)["agent_id"]
    assert agent.agent_id != old
    agent.emit(20)
    wait_for(lambda: agent.spool_depth() == 0, timeout=60, what="delivery by the not yet restarted service")
    agent.stop()
    agent.start()  # the restart the CLI asked for
    wait_for(
        lambda: (
            "agent.started" in [e["kind"] for e in collector.events("--agent", agent.agent_id)]
            and agent.spool_depth() == 0
        ),
        timeout=60,
        what="delivery after the restart",
    )
    agent.stop()
    got = seqs(collector, agent.agent_id)
    assert got == list(range(1, len(got) + 1))
    assert collector.events("--kind", "sequence.gap") == []
    emitted = [e for e in collector.events() if e["payload"].get("check_id") == "mamori.test_event"]
    assert len(emitted) == 20 and {e["agent_id"] for e in emitted} == {agent.agent_id}
