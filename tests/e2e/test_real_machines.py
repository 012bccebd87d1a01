"""Agents on real machines (issue 11): a second run, a tampered cache in status, a full disk, a restored folder."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from tests.e2e.harness import run_cli, wait_for
from tests.e2e.test_tamper import FAST, events_of, wait_event


def test_second_run_on_the_same_state_folder_is_refused(collector, make_agent):
    collector.start()
    a = make_agent("a")
    a.enroll(collector, collector.token())
    a.write_config(**FAST)
    a.start()
    wait_event(collector, a, "agent.started", lambda e: True, "first start")
    second = run_cli(
        "agent.cli", "--state-dir", str(a.state_dir), "run", check=False, timeout=20, env={"MAMORI_LANG": "ja"}
    )
    assert second.returncode == 1
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1 and "既に" in lines[0], second.stderr
    assert a.proc.poll() is None  # the first run goes on
    assert a.stop() == 0
    a.start()
    wait_for(lambda: len(events_of(collector, a, "agent.started")) == 2, what="restart")
    starts = events_of(collector, a, "agent.started")
    assert [e["payload"]["previous_exit"] for e in starts] == ["first", "clean"]  # no false unclean stop
    assert not [e for e in events_of(collector, a, "agent.stopped") if "found at start" in e["payload"]["reason"]]


def _status(agent, lang="en"):
    return run_cli(
        "agent.cli",
        "--state-dir",
        str(agent.state_dir),
        "status",
        *(["--json"] if lang == "json" else []),
        env={"MAMORI_LANG": "ja" if lang == "ja" else "en"},
    )


def test_status_shows_what_the_agent_enforces_after_the_cache_was_edited(collector, make_agent):
    collector.start()
    a = make_agent("a")
    a.enroll(collector, collector.token())
    a.write_config(**FAST)
    a.start()
    wait_for(lambda: (a.state_dir / "policy.json").exists(), what="policy pushed on connect")
    a.stop()
    collector.stop()  # unreachable: no push will replace the edited cache
    cache = a.state_dir / "policy.json"
    record = json.loads(cache.read_text())
    record["document"]["usb"]["mode"] = "audit"
    cache.write_text(json.dumps(record))
    a.start()
    running = wait_for(
        lambda: (s := json.loads(_status(a, "json").stdout))["running"] and s["status_updated_at"] and s,
        what="status of the running agent",
    )
    assert (running["policy_source"], running["usb_mode"], running["policy_cache_rejected"]) == (
        "strictest",
        "block",
        True,
    ), running
    assert "最も厳しいポリシー" in _status(a, "ja").stdout
    a.stop()
    a.start()  # a restart still does not trust the edit, and says so
    wait_for(lambda: "enforcing the strictest policy" in a.log(), what="the next run distrusts the edit too")
    a.stop()
    stopped = json.loads(_status(a, "json").stdout)
    assert (stopped["policy_source"], stopped["usb_mode"], stopped["policy_cache_rejected"]) == (
        "strictest",
        "block",
        True,
    ), stopped


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MiB tmpfs to hold an agent's state folder, unmounted at the end."""
    where = tmp_path / "a"
    where.mkdir()
    if (
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(where)], capture_output=True).returncode
        != 0
    ):
        pytest.skip("mounting a tmpfs is not permitted here (needs root)")
    yield where
    subprocess.run(["umount", "-l", str(where)], check=False)


def _fill(folder):
    """Take every free byte, as a runaway log would."""
    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as f:
        for chunk in (65536, 4096, 512, 1):
            try:
                while True:
                    f.write(b"x" * chunk)
            except OSError:
                pass
    return filler


def _touch_config(path, mark):
    """Change the config's last byte in place: a config edit (an event to record) that needs no free space."""
    with open(path, "r+b") as f:
        f.seek(-2, 2)
        f.write(mark.encode())


def test_full_disk_keeps_the_agent_running_and_reports_what_it_could_not_record(collector, make_agent, small_disk):
    collector.start()
    a = make_agent("a")
    assert a.state_dir == small_disk
    a.enroll(collector, collector.token())
    config = a.write_config(**FAST, checks={"enabled": False})
    with config.open("a") as f:
        f.write("# padding 0\n")
    a.start()
    wait_event(collector, a, "policy.applied", lambda e: True, "connected")
    wait_for(lambda: a.spool_depth() == 0, what="spool drained")

    # The disk fills while the agent runs: acks cannot delete, events cannot be stored.
    filler = _fill(small_disk)
    _touch_config(config, "1")  # agent.tamper (config) while the disk is full
    wait_for(lambda: "counting them" in a.log(), what="the agent counts what it cannot record")
    assert a.proc.poll() is None, a.log()
    a.stop()  # agent.stopped cannot be recorded either; the count survives the restart
    a.start()
    wait_for(lambda: "running (segment" in a.log(), what="second run")
    _touch_config(config, "2")
    wait_for(lambda: "changed while the agent runs" in a.log(), what="the second run notices the edit")
    assert a.proc.poll() is None, a.log()
    filler.unlink()
    first = wait_event(
        collector,
        a,
        "spool.overflow",
        lambda e: e["payload"].get("reason") == "disk full",
        "spool.overflow once space returns",
    )
    p = first["payload"]
    assert p["dropped"] >= 2 and p["first_lost_at"] <= p["last_lost_at"], p
    assert p["max_dropped_severity"] == "SEVERITY_HIGH"  # agent.stopped after a signal from a person

    # The disk is full when the agent starts: the spool cannot even open, enforcement starts all the same.
    a.stop()
    filler = _fill(small_disk)
    a.start()
    wait_for(lambda: "cannot be opened" in a.log(), what="spool open fails on the full disk")
    wait_for(lambda: "removable-media control" in a.log(), what="enforcement started without the spool")
    wait_for(lambda: "running (segment" in a.log(), what="the agent runs")
    assert a.proc.poll() is None, a.log()
    status = json.loads(_status(a, "json").stdout)  # status works on the full disk too, and tells the loss
    assert status["running"] and status["events_not_recorded"] >= 1, status
    filler.unlink()
    wait_for(
        lambda: (
            len([e for e in events_of(collector, a, "spool.overflow") if e["payload"].get("reason") == "disk full"])
            == 2
        ),
        timeout=60,
        what="the start's own events counted and reported",
    )
    assert a.proc.poll() is None
    a.stop()


def test_restored_state_folder_delivers_everything_and_is_recorded(collector, make_agent, tmp_path):
    collector.start()
    a = make_agent("a")
    a.enroll(collector, collector.token())
    a.write_config(**FAST, checks={"enabled": False})
    a.start()
    wait_event(collector, a, "policy.applied", lambda e: True, "connected")
    wait_for(lambda: a.spool_depth() == 0, what="spool drained")
    collector.stop()
    a.emit(3)  # spooled, not yet sent, when the snapshot is taken
    a.stop()
    snapshot = tmp_path / "snapshot"
    shutil.copytree(a.state_dir, snapshot)
    collector.start()
    a.start()
    wait_for(lambda: a.spool_depth() == 0 and len(collector.events("--agent", a.agent_id)) > 0, what="delivered")
    a.emit(5)
    wait_for(lambda: a.spool_depth() == 0, what="second batch delivered")
    a.stop()
    before = {e["event_id"] for e in collector.events("--agent", a.agent_id)}
    shutil.rmtree(a.state_dir)
    shutil.copytree(snapshot, a.state_dir)  # the VM snapshot is reverted
    a.start()
    a.emit(4)
    wait_for(lambda: a.spool_depth() == 0, what="everything after the restore delivered")
    after = collector.events("--agent", a.agent_id)
    new = [e for e in after if e["event_id"] not in before]
    tests = [e for e in new if e["kind"] == "check.result" and e["payload"]["check_id"] == "mamori.test_event"]
    assert len(tests) == 4, [(e["kind"], e["seq"], e["payload"]) for e in new]
    tamper = [e for e in new if e["kind"] == "agent.tamper"]
    assert [t["payload"]["what"] for t in tamper] == ["restored"], tamper
    assert any(
        v["rule_id"] == "OPS-003"
        for v in json.loads(collector.cli("violations", "list", "--agent", a.agent_id, "--json").stdout)
    )
    a.stop()


def test_a_terminal_whose_batches_keep_failing_is_a_violation(collector, make_agent):
    collector.start()
    a = make_agent("a")
    a.enroll(collector, collector.token())
    a.write_config(**FAST, checks={"enabled": False})
    a.start()
    wait_event(collector, a, "policy.applied", lambda e: True, "connected")
    a.stop()
    collector.stop()
    # The agent bounds its own events (an oversized one becomes event.oversize), so what it cannot foresee is the
    # collector's own setting: batches above a limit set lower than the agent's batch size are refused every time.
    config = collector.data_dir / "collector.toml"
    config.write_text(re.sub(r"(?m)^max_batch_events = .*$", "max_batch_events = 2", config.read_text()))
    a.emit(5)
    collector.start()
    a.start()
    refused = wait_event(collector, a, "batch.refused", lambda e: True, "refusals recorded by the collector")
    assert refused["seq"] is None and refused["payload"]["consecutive"] == 3
    assert "exceeds the limit of 2" in refused["payload"]["error"]  # the wire-edge validation's words
    [v] = [
        v
        for v in json.loads(collector.cli("violations", "list", "--agent", a.agent_id, "--json").stdout)
        if v["rule_id"] == "OPS-003"
    ]
    assert "3 batches in a row refused" in v["detail"]
    a.stop()
