"""A real agent's real checks on this machine, through a real collector's rules, into violations and audit reports.

The verdicts are whatever this machine's posture is: the test proves that every check result the collector stored
gave the same violations as the rules give on that evidence, and that the month's reports carry them, including a
violation first seen in an earlier month that is still open.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta

import sqlalchemy as sa

from agent.checks import CHECKS
from collector.rules import RULES
from collector.rules.base import Flag
from collector.rules.base import check as check_subject
from collector.rules.engine import judge
from collector.store.db import make_engine
from collector.store.models import agents, violations
from mamori import clock
from tests.e2e.harness import wait_for


def _month(day: datetime) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def _report(collector, tmp_path, period: str, fmt: str):
    out = tmp_path / f"{period}.{fmt}"
    collector.cli("report", "--period", period, "--format", fmt, "--out", str(out), "--lang", "ja")
    return out


def test_real_checks_give_the_violations_and_reports_they_should(collector, make_agent, tmp_path):
    collector.start()
    agent = make_agent("a")
    agent.enroll(collector, collector.token(segment="mynumber", department="市民課"))
    agent.write_config(shipper={"heartbeat_seconds": 1.0, "backoff_initial_seconds": 0.2})
    agent.start()

    def latest_results():
        got: dict[str, dict] = {}
        for e in collector.events("--agent", agent.agent_id, "--kind", "check.result"):
            if e["seq"] >= got.get(e["payload"]["check_id"], {}).get("seq", 0):
                got[e["payload"]["check_id"]] = e
        return got if set(got) >= set(CHECKS) else None

    results = wait_for(latest_results, timeout=120, interval=1.0, what="a check.result for every check")
    agent.stop()
    results = latest_results()

    # What the rules say on exactly the evidence the agent sent, judged here in the test's own process.
    expected = set()
    for cid, event in results.items():
        payload = event["payload"]
        subject = check_subject("mynumber", cid, payload["status"], payload["evidence"])
        for rule in RULES.values():
            if rule.check_id == cid and isinstance(judge(rule, subject), Flag):
                expected.add(rule.id)
    rows = json.loads(collector.cli("violations", "list", "--agent", agent.agent_id, "--json").stdout)
    by_check_rules = {r["rule_id"]: r for r in rows if RULES[r["rule_id"]].check_id}
    assert {k for k, r in by_check_rules.items() if r["status"] == "open"} == expected
    assert expected, "this machine's posture gives no violation at all on a マイナンバー系 terminal"

    # Each violation shows the check's own evidence, and its evidence id is an event that `events show` finds.
    for rule_id, row in by_check_rules.items():
        shown = json.loads(collector.cli("violations", "show", str(row["id"]), "--json").stdout)
        cid = RULES[rule_id].check_id
        assert shown["evidence"]["check"]["check_id"] == cid
        assert shown["evidence"]["check"]["evidence"] == results[cid]["payload"]["evidence"]
        ev = json.loads(collector.cli("events", "show", shown["event_id"], "--json").stdout)
        assert ev["event_id"] == shown["event_id"] and ev["payload"]["check_id"] == cid

    # Time passes: the terminal was enrolled two months ago and one violation was first seen last month.
    now = clock.now().astimezone(clock.JST)
    this_month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    last_month = (this_month - timedelta(days=1)).replace(day=1)
    old_id = sorted(r["id"] for r in by_check_rules.values() if r["status"] == "open")[0]
    engine = make_engine(f"sqlite:///{collector.data_dir / 'mamori.db'}")
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.update(agents)
                .where(agents.c.id == agent.agent_id)
                .values(enrolled_at=last_month - timedelta(days=31))
            )
            conn.execute(
                sa.update(violations)
                .where(violations.c.id == old_id)
                .values(first_seen=last_month + timedelta(days=2, hours=3))
            )
    finally:
        engine.dispose()
    old_rule = next(r["rule_id"] for r in by_check_rules.values() if r["id"] == old_id)

    for period, ended in ((_month(last_month), True), (_month(this_month), False)):
        data = json.loads(_report(collector, tmp_path, period, "json").read_text(encoding="utf-8"))
        assert data["period"]["ended"] is ended
        listed = {v["rule_id"]: v for v in data["violations"]}
        assert old_rule in listed and listed[old_rule]["status_name"] == "未対応"  # still open: 未是正
        dept = {r["department"]: r for r in data["by_department"]}["市民課"]
        assert dept["targets"] == 1 and dept["unresolved"] >= 1 and dept["mark"] == "×"
        if not ended:
            assert set(expected) <= set(listed) and "期間終了前" in data["period"]["label"]

    period = _month(this_month)
    hostname = json.loads(collector.cli("agents", "show", agent.agent_id, "--json").stdout)["hostname"]
    from openpyxl import load_workbook

    detail = load_workbook(_report(collector, tmp_path, period, "xlsx"))["違反明細"]
    cells = {c.value for row in detail.iter_rows() for c in row}
    assert set(expected) <= cells and hostname in cells
    text = _report(collector, tmp_path, period, "csv").read_text(encoding="utf-8-sig")
    flat = {v for r in csv.reader(io.StringIO(text)) for v in r}
    assert set(expected) <= flat
    html = _report(collector, tmp_path, period, "html").read_text(encoding="utf-8")
    assert all(rule_id in html for rule_id in expected) and "市民課" in html
