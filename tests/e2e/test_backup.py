"""Backup while a collector ingests, restore into a new data folder, serve from it: the data and the CA carry over."""

from __future__ import annotations

import json

from tests.e2e.harness import Collector, wait_for
from tests.e2e.test_delivery import FAST, seqs


def test_backup_during_ingest_restores_into_a_new_folder_that_agents_reach(tmp_path, collector, make_agent):
    collector.start()
    agent = make_agent("a")
    agent.enroll(collector, collector.token())
    agent.write_config(**FAST)
    agent.emit(10000)
    agent.start()
    wait_for(lambda: len(collector.events("--agent", agent.agent_id)) > 100, what="ingest under way")
    before = len(seqs(collector.events(), agent.agent_id))
    backup = tmp_path / "backup"
    out = collector.cli("backup", str(backup), "--json")  # while batches keep arriving
    assert json.loads(out.stdout)["database"] == "sqlite"
    after = len(seqs(collector.events(), agent.agent_id))
    # A restore into the folder being served is refused, --force or not.
    assert collector.cli("restore", str(backup), "--force", check=False).returncode == 2
    agent.stop()
    collector.stop()

    restored = Collector(tmp_path / "restored", port=collector.port, enroll_port=collector.enroll_port)
    proc = restored.cli("restore", str(backup))
    assert "Restored" in proc.stdout
    restored.start()
    try:
        # The copy is one consistent moment of a moving store: events 1..n of the agent, no holes.
        got = seqs(restored.events(), agent.agent_id)
        assert got == list(range(1, len(got) + 1)) and before <= len(got) <= after
        assert [a["id"] for a in restored.agents()] == [agent.agent_id]
        # Same CA and server key: the agent's certificate is accepted and its new events arrive.
        agent.emit(5)
        agent.start()
        wait_for(
            lambda: len(seqs(restored.events("--agent", agent.agent_id), agent.agent_id)) >= len(got) + 5,
            timeout=60,
            what="new events through the restored collector",
        )
        # Events the first collector stored after the backup are gone from the agent's spool: a recorded gap.
        gaps = [e for e in restored.events("--kind", "sequence.gap") if e["agent_id"] == agent.agent_id]
        assert len(got) == after or gaps
    finally:
        agent.stop()
        restored.stop()


def test_a_serving_collector_archives_events_past_retention(tmp_path, collector):
    from datetime import timedelta

    from collector.store import queries
    from collector.store.db import make_engine
    from collector.store.ingest import store_batch
    from mamori import clock
    from mamori.events import Event
    from mamori.ids import uuid7

    # Relative to the collector's own clock (this process's), the outcome is the same on any date.
    old = clock.now() - timedelta(days=800)
    engine = make_engine(f"sqlite:///{collector.data_dir / 'mamori.db'}")
    try:
        queries.create_agent(
            engine,
            agent_id="00000000-0000-4000-8000-000000000001",
            segment="lgwan",
            department="市民課",
            hostname="pc-1",
            os="linux",
            os_version="12",
            agent_version="0.1",
            machine_id="m1",
            cert_serial=1,
            cert_sha256="ab" * 32,
            cert_not_after=clock.now() + timedelta(days=365),
            enrolled_at=old,
        )
        ev = Event(
            kind="agent.started",
            payload={"agent_version": "0.1"},
            severity="info",
            seq=1,
            event_id=str(uuid7()),
            occurred_at=old,
        )
        store_batch(engine, "00000000-0000-4000-8000-000000000001", [ev], received_at=old)
    finally:
        engine.dispose()
    collector.start()
    month = f"{old.year:04d}-{old.month:02d}"
    listed = wait_for(
        lambda: json.loads(collector.cli("archive", "list", "--json").stdout),
        timeout=30,
        what="the serving collector's first retention run",
    )
    assert [(a["month"], a["events"], a["verified"]) for a in listed] == [(month, 1, True)]
    assert collector.events() == []
    shown = json.loads(collector.cli("archive", "show", month, "--json").stdout)
    assert [e["event_id"] for e in shown] == [ev.event_id]
    assert f"retention: {month} archived" in collector.log()
    collector.stop()
