"""time_sync: chronyc / timedatectl (recorded outputs through real subprocesses), w32tm, this machine."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.checks import base, time_sync
from agent.host.linux import timesync
from agent.host.windows import host as windows
from tests.agent.checks.conftest import make_ctx

DATA = Path(__file__).parent / "data" / "time"


def tool(root: Path, name: str, script: str) -> None:
    path = root / "usr/bin" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + script + "\n")
    path.chmod(0o755)


def check(root: Path, **settings) -> base.Result:
    return base.execute(time_sync, make_ctx("lgwan", root, **settings))


@pytest.mark.parametrize(
    ("recorded", "status", "words"),
    [
        ("chronyc_tracking_synced.txt", "pass", "-0.000 s"),
        ("chronyc_tracking_unsynced.txt", "fail", "not synchronised"),
        ("chronyc_tracking_offset.txt", "fail", "+95.1 s"),
    ],
)
def test_chrony(tmp_path, recorded, status, words):
    tool(tmp_path, "chronyc", f"cat {DATA / recorded}")
    res = check(tmp_path)
    assert res.status == status, res.summary
    assert words in res.summary


def test_offset_limit_comes_from_policy(tmp_path):
    tool(tmp_path, "chronyc", f"cat {DATA / 'chronyc_tracking_offset.txt'}")
    assert check(tmp_path, clock_max_offset_seconds=120).status == "pass"


def test_chronyd_down_falls_back_to_timedatectl(tmp_path):
    tool(tmp_path, "chronyc", "echo '506 Cannot talk to daemon'; exit 1")
    tool(tmp_path, "timedatectl", "printf 'Timezone=Asia/Tokyo\\nNTP=yes\\nNTPSynchronized=yes\\n'")
    res = check(tmp_path)
    assert res.status == "pass" and "systemd-timesyncd" in res.summary


def test_nothing_synchronising_fails(tmp_path):
    tool(tmp_path, "timedatectl", "printf 'NTP=no\\nNTPSynchronized=no\\n'")
    res = check(tmp_path)
    assert res.status == "fail" and res.evidence["tried"] == ["timedatectl: NTP=no"]


def test_hanging_tool_is_bounded(tmp_path, monkeypatch):
    tool(tmp_path, "chronyc", "sleep 30")
    monkeypatch.setattr(timesync, "COMMAND_TIMEOUT", 0.5)
    res = base.execute(time_sync, make_ctx("lgwan", tmp_path), timeout=20)
    assert res.status == "fail" and "no answer within" in res.evidence["tried"][0]


def test_this_machine():
    res = check(Path("/"))
    assert res.status in ("pass", "fail")
    assert res.summary


@pytest.mark.parametrize(("recorded", "status"), [("w32tm_synced.txt", "pass"), ("w32tm_unsynced.txt", "fail")])
def test_windows(recorded, status):
    ctx = make_ctx("lgwan")
    ctx.platform = "windows"
    ctx.windows = windows.RegFileSource([], {"w32tm_status": (DATA / recorded).read_text()})
    res = base.execute(time_sync, ctx)
    assert res.status == status


def test_windows_without_source_or_query():
    ctx = make_ctx("lgwan")
    ctx.platform = "windows"
    assert base.execute(time_sync, ctx).status == "not_applicable"
    ctx.windows = windows.RegFileSource([])
    assert base.execute(time_sync, ctx).status == "error"


def test_verdict_is_a_pure_function_of_the_facts():
    from agent.host.facts import TimeSyncFacts

    settings = {"clock_max_offset_seconds": 60.0}
    far = TimeSyncFacts(service="chrony", synchronised=True, offset_seconds=-61.0)
    assert time_sync.verdict(far, settings).status == "fail"
    assert time_sync.verdict(far, {"clock_max_offset_seconds": 120.0}).status == "pass"
    unknown = time_sync.verdict(
        TimeSyncFacts(service="systemd-timesyncd", synchronised=True, ntp_enabled=True), settings
    )
    assert unknown.status == "pass" and unknown.evidence == {
        "service": "systemd-timesyncd",
        "synchronised": True,
        "ntp_enabled": True,
        "limit_seconds": 60.0,
    }
    assert time_sync.verdict(TimeSyncFacts(unavailable="none"), settings).status == "not_applicable"
