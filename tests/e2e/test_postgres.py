"""Stateless collectors: two processes on one PostgreSQL serve the same agents, exactly once."""

from __future__ import annotations

import shutil
import uuid

import pytest

from tests.e2e.harness import Collector, wait_for
from tests.e2e.proxy import Proxy
from tests.e2e.test_delivery import FAST, delivered_all, seqs

pytestmark = pytest.mark.postgres


def test_agent_moved_between_two_collectors_mid_stream(tmp_path, postgres_server, procs, make_agent):
    name = "e2e_" + uuid.uuid4().hex[:8]
    postgres_server.create_database(name)
    first = Collector(tmp_path / "c1").init(database_url=postgres_server.url(name))
    procs.append(first)
    second_dir = tmp_path / "c2"
    shutil.copytree(first.data_dir, second_dir)  # same CA, certificate and database: one logical collector
    second = Collector(second_dir)
    procs.append(second)
    balancer = Proxy(first.port)
    try:
        for c in (first, second):
            cfg = c.data_dir / "collector.toml"
            cfg.write_text(
                cfg.read_text().replace("advertised_telemetry_port = 0", f"advertised_telemetry_port = {balancer.port}")
            )
            c.start()
        agent = make_agent("a")
        agent.enroll(first, first.token())
        agent.write_config(**FAST)
        agent.emit(3000)
        agent.start()
        wait_for(lambda: len(first.events("--agent", agent.agent_id)) > 100, what="delivery through the first")
        balancer.switch(second.port)
        agent.emit(500)
        wait_for(
            lambda: "connected" in second.log() and agent.agent_id in second.log(),
            what="the agent reconnected through the second collector",
        )
        first.kill9()
        got = delivered_all(second, agent, 3504)
        assert got == list(range(1, len(got) + 1)), "every event exactly once across both collectors"
        # Revocation through either collector's CLI reaches the stream on the other.
        second.cli("agents", "revoke", agent.agent_id)
        wait_for(lambda: "has been revoked" in agent.log(), timeout=20, what="stream closed after revocation")
        assert seqs(second.events(), agent.agent_id) == got
    finally:
        balancer.close()
