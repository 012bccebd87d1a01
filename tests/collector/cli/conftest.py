"""A collector data folder made by `init`, and a helper that runs CLI commands in-process."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from collector.cli import main
from collector.store import queries
from collector.store.db import make_engine
from collector.store.ingest import store_batch
from mamori import clock
from mamori.events import Event
from mamori.ids import uuid7

# The collector's clock in these tests: a fixed instant, never today's date. A test moves it with `cli.now = ...`.
FROZEN = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)


class Cli:
    def __init__(self, root, capsys):
        self.root, self.capsys = root, capsys
        self.now = FROZEN
        self.engine = make_engine(f"sqlite:///{root / 'mamori.db'}")
        self.seq: dict[str, int] = {}

    def run(self, *args: str, lang: str = "ja") -> tuple[int, str, str]:
        self.capsys.readouterr()
        code = main([*args, "--data-dir", str(self.root), "--lang", lang])
        out = self.capsys.readouterr()
        return code, out.out, out.err

    def json(self, *args: str):
        code, out, err = self.run(*args, "--json")
        assert code == 0, err
        return json.loads(out)

    def agent(self, segment="mynumber", department="市民課", hostname=None, seen=None) -> str:
        agent_id = str(uuid.uuid4())
        now = self.now
        queries.create_agent(
            self.engine,
            agent_id=agent_id,
            segment=segment,
            department=department,
            hostname=hostname or f"pc-{agent_id[:4]}",
            os="linux",
            os_version="12",
            agent_version="0.1",
            machine_id=agent_id,
            cert_serial=uuid.uuid4().int,
            cert_sha256="ab" * 32,
            cert_not_after=now + timedelta(days=365),
            enrolled_at=now - timedelta(days=10),
        )
        if seen is not None:
            from collector.store.ingest import touch_agent

            touch_agent(self.engine, agent_id, seen_at=seen)
        return agent_id

    def send(self, agent_id: str, kind: str, payload: dict, at: datetime | None = None):
        at = at or self.now
        self.seq[agent_id] = self.seq.get(agent_id, 0) + 1
        ev = Event(
            kind=kind, payload=payload, severity="info", seq=self.seq[agent_id], event_id=str(uuid7()), occurred_at=at
        )
        store_batch(self.engine, agent_id, [ev], received_at=at)
        return ev

    def check(self, agent_id: str, check_id: str, status: str, evidence: dict, at=None):
        return self.send(
            agent_id,
            "check.result",
            {"check_id": check_id, "status": status, "evidence_json": json.dumps(evidence)},
            at,
        )


@pytest.fixture(scope="session")
def _initialised(tmp_path_factory):
    root = tmp_path_factory.mktemp("collector") / "data"
    assert main(["init", "--host", "127.0.0.1", "--data-dir", str(root)]) == 0
    return root


@pytest.fixture
def cli(_initialised, tmp_path, capsys, monkeypatch):
    import shutil

    root = tmp_path / "data"
    shutil.copytree(_initialised, root)
    c = Cli(root, capsys)
    monkeypatch.setattr(clock, "now", lambda: c.now)
    yield c
    c.engine.dispose()
