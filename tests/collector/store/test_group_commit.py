"""SQLite group commit: batches queued for the writer share one transaction, each its own savepoint."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
import sqlalchemy as sa

from collector.store.db import make_engine
from collector.store.ingest import BatchError, UnknownAgent, _writer_turn, store_batch
from tests.collector.store.test_store_ingest import T0, _agent, _events, _stored_seqs


@pytest.fixture
def sqlite_engine(tmp_path):
    from collector.store.db import upgrade

    url = f"sqlite:///{tmp_path / 'mamori.db'}"
    upgrade(url)
    eng = make_engine(url)
    yield eng
    eng.dispose()


def test_queued_batches_share_one_commit_and_a_refused_one_rolls_back_alone(sqlite_engine):
    engine = sqlite_engine
    good = [_agent(engine, "lgwan") for _ in range(5)]
    jumped = _agent(engine, "lgwan")
    store_batch(engine, jumped, _events([1]), T0)
    commits = []
    sa.event.listen(engine, "commit", lambda conn: commits.append(1))
    # seq window: a batch may not move the agent's seq a hundred million ahead; unknown agent: no row.
    work = [(a, _events(range(1, 51))) for a in good]
    work += [(jumped, _events([2, 10**9])), (str(uuid.uuid4()), _events([1]))]
    results: dict[int, object] = {}

    def run(i: int, agent_id: str, batch) -> None:
        try:
            results[i] = store_batch(engine, agent_id, batch, T0)
        except (BatchError, UnknownAgent) as exc:
            results[i] = exc

    writer = _writer_turn(engine)
    with writer.thread:  # every batch queues while the writer's turn is taken
        threads = [threading.Thread(target=run, args=(i, a, b)) for i, (a, b) in enumerate(work)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while len(writer.queue) < len(work) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(writer.queue) == len(work)
    for t in threads:
        t.join(30)
    assert len(commits) == 1, "one transaction for the whole queue"
    for i, agent_id in enumerate(good):
        assert results[i].acked_seq == 50 and results[i].stored == 50
        assert _stored_seqs(engine, agent_id) == list(range(1, 51))
    assert isinstance(results[5], BatchError) and isinstance(results[6], UnknownAgent)
    assert _stored_seqs(engine, jumped) == [1], "the refused batch stored nothing"
