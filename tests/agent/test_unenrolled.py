"""`mamori-agent run` before enrollment: it runs (removable-media control) and hands over once enrolled."""

from __future__ import annotations

import threading
import time

from agent import cli, runner
from agent import host as hostmod
from agent.config import StateDir
from agent.host.fake import FakeHost
from tests.agent.test_service_cli import enroll_fake


def test_run_unenrolled_waits_for_the_identity_then_restarts_enrolled(monkeypatch, tmp_path):
    host = FakeHost(state_dir=tmp_path / "state")
    monkeypatch.setattr(hostmod, "current", lambda: host)
    result: list[int] = []
    argv = ["run", "--state-dir", str(tmp_path / "state")]
    worker = threading.Thread(target=lambda: result.append(cli.main(argv)))
    worker.start()
    time.sleep(1.0)
    assert worker.is_alive() and not result  # no "not enrolled" refusal: it is running
    enroll_fake(StateDir(tmp_path / "state"))
    worker.join(15)
    assert result == [runner.RESTART_EXIT] and len(host.restarts) == 1  # a fresh process, enrolled


def test_run_unenrolled_stops_on_request(monkeypatch, tmp_path):
    host = FakeHost(state_dir=tmp_path / "state")
    monkeypatch.setattr(hostmod, "current", lambda: host)
    result: list[int] = []
    worker = threading.Thread(target=lambda: result.append(cli.main(["run", "--state-dir", str(tmp_path / "s")])))
    worker.start()
    time.sleep(1.0)
    runner.stop_agent()  # what the Windows service wrapper calls
    worker.join(15)
    assert result == [0] and host.restarts == []
