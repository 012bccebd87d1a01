"""A 一時許可 granted on the collector reaches a connected agent as a policy update within a heartbeat."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from tests.e2e.harness import wait_for
from tests.e2e.test_delivery import enrolled


def test_approval_and_revocation_reach_the_running_agent(collector, make_agent):
    collector.start()
    agent = enrolled(collector, make_agent, "a", "lgwan")
    agent.start()

    def cached_usb():
        try:
            return json.loads((agent.state_dir / "policy.json").read_text())["document"]["usb"]
        except (OSError, ValueError, KeyError):
            return None

    wait_for(lambda: cached_usb() is not None, timeout=30, what="first policy")
    until = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    perm = json.loads(
        collector.cli(
            "devices",
            "approve",
            "--serial",
            "E2E-SER",
            "--agent",
            agent.agent_id,
            "--until",
            until,
            "--reason",
            "e2e",
            "--json",
        ).stdout
    )
    usb = wait_for(lambda: (u := cached_usb()) and u["temporary"] and u, timeout=30, what="approval on the agent")
    assert usb["temporary"][0]["id"] == perm["id"] and usb["temporary"][0]["serial"] == "E2E-SER"
    collector.cli("devices", "revoke", perm["id"])
    wait_for(lambda: (u := cached_usb()) is not None and u["temporary"] == [], timeout=30, what="revocation")
    kinds = [e["kind"] for e in collector.events("--agent", agent.agent_id)]
    assert kinds.count("policy.applied") >= 3 and "policy.rejected" not in kinds
