"""The check scheduler: results recorded on change, a daily full report, state kept across restarts."""

from __future__ import annotations

import json
import types

from agent.check_scheduler import CheckScheduler
from agent.checks.base import Result
from agent.policy_cache import PolicyCache
from agent.spool import Spool
from mamori.events import decode_bytes
from mamori.i18n import N_


def fake_check(outcomes: list[tuple[str, str]]):
    def run(ctx):
        status, summary = outcomes[0]
        return Result(status, summary, {"segment": ctx.segment, "lock": ctx.settings["screen_lock_max_minutes"]})

    return types.SimpleNamespace(
        ID="fake",
        TITLE=N_("Fake"),
        PLATFORMS=("linux", "windows"),
        INTERVAL_SECONDS=60,
        SEVERITY="high",
        REMEDIATION=N_("fix"),
        run=run,
    )


def events(spool: Spool) -> list:
    return [decode_bytes(data) for _seq, data in spool.pending(0, 1000)]


def test_records_on_change_only_and_full_report_daily(tmp_path):
    spool = Spool.open(tmp_path / "spool")
    outcomes = [("pass", "all good")]
    check = fake_check(outcomes)
    sched = CheckScheduler(
        spool, PolicyCache(tmp_path / "policy.json", "lgwan"), "lgwan", tmp_path / "checks.json", checks={"fake": check}
    )
    assert len(sched.tick(now=0)) == 1
    assert sched.tick(now=30) == []  # not due yet
    sched.tick(now=61)  # due, same result: nothing recorded
    got = events(spool)
    assert len(got) == 1 and got[0].kind == "check.result"
    assert got[0].payload["status"] == "pass" and got[0].severity == "info"
    assert json.loads(got[0].payload["evidence_json"]) == {"segment": "lgwan", "lock": 10}
    outcomes[0] = ("fail", "broken")
    sched.tick(now=122)
    got = events(spool)
    assert [e.payload["status"] for e in got] == ["pass", "fail"]
    assert got[1].severity == "high" and got[1].payload["remediation"]
    # A restarted agent remembers what it recorded: no duplicate for an unchanged result.
    again = CheckScheduler(
        spool,
        PolicyCache(tmp_path / "policy.json", "lgwan"),
        "lgwan",
        tmp_path / "checks.json",
        checks={"fake": check},
        full_report_seconds=0,
    )
    again.tick(now=0)
    got = events(spool)
    assert len(got) == 3 and got[2].payload.get("full_report") is True  # only the (now due) full report
    spool.close()


def test_disabled_checks_do_not_run(tmp_path):
    spool = Spool.open(tmp_path / "spool")
    cache = PolicyCache(tmp_path / "policy.json", "lgwan")
    cache.apply(
        "v1",
        json.dumps(
            {"schema": 1, "segment": "lgwan", "usb": {"mode": "audit"}, "checks": {"disabled": ["fake"]}}
        ).encode(),
    )
    sched = CheckScheduler(spool, cache, "lgwan", tmp_path / "checks.json", checks={"fake": fake_check([("pass", "")])})
    assert sched.tick(now=0) == []
    spool.close()


def test_a_new_enrollment_reports_every_check_at_once(tmp_path):
    spool = Spool.open(tmp_path / "spool")
    check = fake_check([("pass", "all good")])
    policy = PolicyCache(tmp_path / "policy.json", "lgwan")
    first = CheckScheduler(spool, policy, "lgwan", tmp_path / "checks.json", checks={"fake": check}, agent_id="old")
    first.tick(now=0)
    # Restarted under the same identity: an unchanged result is not sent again before the daily report.
    CheckScheduler(spool, policy, "lgwan", tmp_path / "checks.json", checks={"fake": check}, agent_id="old").tick(now=0)
    assert len(events(spool)) == 1
    # Restarted after enroll --force: the new id's posture goes out whole, on the first round.
    CheckScheduler(spool, policy, "lgwan", tmp_path / "checks.json", checks={"fake": check}, agent_id="new").tick(now=0)
    got = events(spool)
    assert len(got) == 2 and got[1].payload.get("full_report") is True and got[1].payload["check_id"] == "fake"
    spool.close()
