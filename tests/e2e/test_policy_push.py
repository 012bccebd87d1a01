"""Policies reach agents: on connect, and live when staff change them while the agent is connected."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime

from collector.store import queries
from collector.store.db import make_engine
from mamori import policy
from tests.e2e.harness import wait_for
from tests.e2e.test_delivery import enrolled


def applied(collector, agent_id):
    return [e["payload"] for e in collector.events("--agent", agent_id, "--kind", "policy.applied")]


def test_policy_pushed_on_connect_and_live_on_change(collector, make_agent):
    collector.start()
    agent = enrolled(collector, make_agent, "a", segment="internet")
    agent.start()
    default_version = policy.version_of(policy.DEFAULTS["internet"])
    wait_for(
        lambda: any(p.get("version") == default_version for p in applied(collector, agent.agent_id)),
        what="segment default applied",
    )
    cached = json.loads((agent.state_dir / "policy.json").read_text())
    assert cached["document"] == policy.DEFAULTS["internet"]

    changed = copy.deepcopy(policy.DEFAULTS["internet"])
    changed["usb"]["mode"] = "audit"
    version = policy.version_of(changed)
    queries.set_policy(
        make_engine(f"sqlite:///{collector.data_dir / 'mamori.db'}"),
        segment="internet",
        version=version,
        document=changed,
        updated_by="tester",
        updated_at=datetime.now(UTC),
    )
    wait_for(
        lambda: any(p.get("version") == version for p in applied(collector, agent.agent_id)),
        timeout=20,
        what="changed policy pushed without reconnecting",
    )
    assert json.loads((agent.state_dir / "policy.json").read_text())["document"]["usb"]["mode"] == "audit"
    assert agent.log().count("connected to collector") == 1, "no reconnect was needed"
    status = json.loads(agent.cli("status", "--json").stdout)
    # What the running agent enforces: the policy the collector just pushed (its cache file holds the same).
    assert status["usb_mode"] == "audit" and status["policy_source"] == "collector"
