"""Posture checks run inside a real `mamori-agent run` and their results reach the collector's store."""

from __future__ import annotations

import time

from agent.checks import CHECKS
from mamori.evidence import EVIDENCE, Failure
from tests.e2e.harness import wait_for


def test_agent_run_records_every_check_and_the_collector_stores_them(collector, make_agent):
    collector.start()
    agent = make_agent("a")
    agent.enroll(collector, collector.token(segment="mynumber"))
    agent.write_config(shipper={"heartbeat_seconds": 1.0, "backoff_initial_seconds": 0.2})
    agent.start()

    def stored():
        got = [e for e in collector.events("--agent", agent.agent_id, "--kind", "check.result")]
        ids = {e["payload"]["check_id"] for e in got}
        return got if ids >= set(CHECKS) else None

    got = wait_for(stored, timeout=120, interval=1.0, what="a check.result for every check")
    agent.stop()
    by_id = {e["payload"]["check_id"]: e for e in got if e["payload"]["check_id"] in CHECKS}
    for cid, event in by_id.items():
        payload = event["payload"]
        assert payload["status"] in ("pass", "fail", "not_applicable", "error")
        assert payload["summary"]
        # Decoded where the collector received it: stored once, as an object that fits the check's schema.
        assert "evidence_json" not in payload and isinstance(payload["evidence"], dict)
        assert set(payload["evidence"]) - {"truncated", "keys"} <= EVIDENCE[cid].declared() | Failure.declared(), cid
        if payload["status"] == "fail":
            assert payload["remediation"] and event["severity"] in ("medium", "high", "critical"), cid
    # The same unchanged results are not recorded again by a restarted agent.
    before = len(got)
    agent.start()
    wait_for(
        lambda: (
            "agent.started"
            in [
                e["kind"]
                for e in collector.events("--agent", agent.agent_id)
                if e["seq"] and e["seq"] > max(x["seq"] for x in got)
            ]
        ),
        timeout=60,
        what="second start stored",
    )
    time.sleep(5)  # the checks' first round after the restart
    agent.stop()
    after = collector.events("--agent", agent.agent_id, "--kind", "check.result")
    assert len(after) <= before + 1  # at most one result whose summary moved (e.g. an age in days)
