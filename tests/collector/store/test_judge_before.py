"""Rules judged before the writer's turn: what stays in the write transaction, and a segment changed meanwhile."""

from __future__ import annotations

import sqlalchemy as sa

from collector.store import ingest
from collector.store.db import make_engine, upgrade
from collector.store.ingest import store_batch
from collector.store.models import agents, violations
from tests.collector.store.test_store_ingest import T0, _agent, _events


def _engine(tmp_path):
    url = f"sqlite:///{tmp_path / 'mamori.db'}"
    upgrade(url)
    return make_engine(url)


def _statements(engine):
    seen: list[str] = []
    sa.event.listen(engine, "before_cursor_execute", lambda c, cur, st, *a: seen.append(st.split()[0:4]))
    return seen


def test_a_batch_without_rule_kinds_never_reaches_the_rule_engine(tmp_path):
    engine = _engine(tmp_path)
    agent = _agent(engine, "lgwan")
    seen = _statements(engine)
    assert store_batch(engine, agent, _events(range(1, 11), kind="file.created"), T0).stored == 10
    text = " ".join(" ".join(s) for s in seen)
    for table in ("policies", "exceptions", "violations", "check_state"):
        assert table not in text, table
    engine.dispose()


def test_policy_and_exceptions_are_read_before_the_write_transaction(tmp_path):
    engine = _engine(tmp_path)
    agent = _agent(engine, "lgwan")
    seen = _statements(engine)
    store_batch(engine, agent, _events([1, 2]), T0)
    begin = next(i for i, s in enumerate(seen) if s[:2] == ["BEGIN", "IMMEDIATE"])
    before = " ".join(" ".join(s) for s in seen[:begin])
    assert "policies" in before and "exceptions" in before
    with engine.connect() as conn:  # and the verdict is written: MED-005 open, counting both blocks
        row = conn.execute(
            sa.select(violations.c.rule_id, violations.c.count).where(
                violations.c.agent_id == agent, violations.c.rule_id == "MED-005"
            )
        ).one()
    assert row.count == 2
    engine.dispose()


def test_an_agent_moved_to_another_segment_after_the_judgement_is_judged_again(tmp_path, monkeypatch):
    engine = _engine(tmp_path)
    agent = _agent(engine, "lgwan")
    judge = ingest._judge

    def judge_then_move(engine_, agent_id, batch):
        judgement = judge(engine_, agent_id, batch)
        with engine_.begin() as conn:  # the segment changes between the judgement and the writer's turn
            conn.execute(sa.update(agents).where(agents.c.id == agent_id).values(segment="mynumber"))
        return judgement

    monkeypatch.setattr(ingest, "_judge", judge_then_move)
    store_batch(engine, agent, _events([1]), T0)
    with engine.connect() as conn:
        segment = conn.execute(
            sa.select(violations.c.segment).where(violations.c.agent_id == agent, violations.c.rule_id == "MED-005")
        ).scalar_one()
    assert segment == "mynumber"
    engine.dispose()
