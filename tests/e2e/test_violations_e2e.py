"""Real processes: a critical event is an open violation once the agent has its ack; serve ticks state rules."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

from collector.store import queries
from collector.store.db import make_engine
from tests.e2e.harness import wait_for


def test_media_write_on_mynumber_is_a_violation_when_acked(collector, make_agent):
    collector.start()
    agent = make_agent()
    agent.enroll(collector, collector.token(segment="mynumber", department="市民課"))
    agent.write_config(checks={"enabled": False})  # this machine's own posture would add AUT-001 etc.
    agent.emit(3, kind="media.write")
    agent.start()
    wait_for(lambda: agent.spool_depth() == 0, timeout=60, what="the batch to be acked")
    # Acked means stored and judged in one transaction: the violation must already be there.
    rows = json.loads(collector.cli("violations", "list", "--json").stdout)
    # The test agent cannot control this machine's USB (not root, or no USB sysfs): that is MED-006, not ours here.
    rows = [r for r in rows if r["rule_id"] != "MED-006"]
    assert [(r["rule_id"], r["severity"], r["status"], r["count"]) for r in rows] == [
        ("MED-002", "critical", "open", 3)
    ]
    assert rows[0]["agent_id"] == agent.agent_id and rows[0]["department"] == "市民課"


def test_serve_runs_state_rules_on_its_tick(collector, tmp_path):
    config = collector.data_dir / "collector.toml"
    config.write_text(config.read_text().replace("tick_seconds = 60.0", "tick_seconds = 1.0"))
    policy = tmp_path / "lgwan.toml"
    policy.write_text(
        collector.cli("policy", "show", "--segment", "lgwan").stdout.replace(
            "office_hours_only = true", "office_hours_only = false"
        )
    )
    collector.cli("policy", "set", str(policy))
    engine = make_engine(f"sqlite:///{collector.data_dir / 'mamori.db'}")
    long_ago = datetime.now(UTC) - timedelta(hours=2)
    try:
        queries.create_agent(
            engine,
            agent_id=str(uuid.uuid4()),
            segment="lgwan",
            department="税務課",
            hostname="silent-pc",
            os="linux",
            os_version="12",
            agent_version="0.1",
            machine_id="m",
            cert_serial=1,
            cert_sha256="ab" * 32,
            cert_not_after=long_ago + timedelta(days=365),
            enrolled_at=long_ago,
        )
    finally:
        engine.dispose()
    collector.start()
    rows = wait_for(
        lambda: json.loads(collector.cli("violations", "list", "--json").stdout),
        timeout=30,
        interval=0.5,
        what="OPS-002 from the scheduler",
    )
    assert [(r["rule_id"], r["hostname"]) for r in rows] == [("OPS-002", "silent-pc")]
    assert "state rules ran" in collector.log()
