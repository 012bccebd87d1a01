"""`mamori-agent service ...` and `mamori-agent status` against a fake host."""

from __future__ import annotations

import json
import os
import sys

import pytest

from agent import cli
from agent import host as hostmod
from agent.config import StateDir
from agent.host.fake import FakeHost
from agent.runstate import record_checks, write_status
from agent.spool import Spool
from mamori import events


@pytest.fixture
def fake(monkeypatch, tmp_path):
    host = FakeHost(state_dir=tmp_path / "state")
    monkeypatch.setattr(hostmod, "current", lambda: host)
    return host


def enroll_fake(state: StateDir) -> None:
    state.root.mkdir(parents=True, exist_ok=True)
    state.identity.write_text(
        json.dumps(
            {
                "agent_id": "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
                "segment": "lgwan",
                "department": "情報政策課",
                "collector_host": "127.0.0.1",
                "telemetry_port": 7443,
                "enroll_port": 7444,
                "enrolled_at": "2026-11-29T09:00:00+00:00",
            }
        )
    )
    for path in (state.key, state.cert, state.ca_cert):
        path.write_text("-----BEGIN PLACEHOLDER-----\n")


def test_install_registers_this_interpreter_with_the_state_folder(fake, tmp_path, capsys):
    cfg = tmp_path / "agent.toml"
    assert cli.main(["--lang", "en", "service", "install", "--config", str(cfg)]) == 0
    assert fake.fake_service.argv == [
        sys.executable,
        "-m",
        "agent.cli",
        "run",
        "--state-dir",
        str(tmp_path / "state"),
        "--config",
        str(cfg),
    ]
    assert fake.fake_service.running
    assert "Installed the agent service" in capsys.readouterr().out


def test_uninstall_records_the_switch_off_before_stopping(fake, tmp_path, capsys):
    state = StateDir(tmp_path / "state")
    enroll_fake(state)
    cli.main(["service", "install", "--no-start"])
    assert cli.main(["--lang", "en", "service", "uninstall"]) == 0
    assert "no longer protected" in capsys.readouterr().out
    with Spool.open(state.spool) as spool:
        (ev,) = [events.decode_bytes(d) for _s, d in spool.pending()]
    assert ev.kind == "agent.stopped" and ev.severity == "high"
    assert ev.payload["reason"].startswith("service uninstalled by ")
    assert cli.main(["--lang", "en", "service", "uninstall"]) == 0
    assert "not installed" in capsys.readouterr().out


def test_service_status_json_and_exit_code(fake, capsys):
    assert cli.main(["service", "status", "--json"]) == 3
    assert json.loads(capsys.readouterr().out)["installed"] is False
    cli.main(["service", "install"])
    capsys.readouterr()
    assert cli.main(["service", "status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["active"] == "active"


def test_permission_problems_tell_staff_what_to_do(fake, monkeypatch, capsys):
    def refuse(*_a, **_k):
        raise PermissionError(13, "Permission denied", "/etc/systemd/system/mamori-agent.service")

    monkeypatch.setattr(fake.fake_service, "install", refuse)
    assert cli.main(["--lang", "en", "service", "install"]) == 2
    assert "run this as root or as an administrator" in capsys.readouterr().err


def test_status_shows_connection_spool_policy_and_checks(fake, tmp_path, capsys):
    state = StateDir(tmp_path / "state")
    enroll_fake(state)
    with Spool.open(state.spool) as spool:
        spool.append("check.result", {"check_id": "x", "status": "pass"})
    write_status(state, {"pid": os.getpid(), "connected": True, "last_connected_at": "2026-11-29T10:00:00+00:00"})
    record_checks(state, [{"check_id": "mfa", "status": "fail", "summary": "pam_u2f not in common-auth"}])
    assert cli.main(["status", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    # No run answers on the control channel: status.json alone never makes an agent running or connected.
    assert data["running"] is False and data["connected"] is False and data["spool_depth"] == 1
    assert data["last_connected_at"] == "2026-11-29T10:00:00+00:00"
    assert data["policy_source"] == "strictest" and data["usb_mode"] == "block"
    assert data["last_checks"][0]["check_id"] == "mfa" and data["last_checks"][0]["status"] == "fail"
    assert cli.main(["--lang", "en", "status"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Stopped: the agent is not running")
    assert "Connected to the collector" in out and "pam_u2f not in common-auth" in out


def test_status_of_a_dead_agent_is_not_connected(fake, tmp_path, capsys):
    state = StateDir(tmp_path / "state")
    enroll_fake(state)
    write_status(state, {"pid": 2**22 + 12345, "connected": True})  # no such process
    cli.main(["status", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert data["running"] is False and data["connected"] is False


def test_status_says_media_control_is_not_in_force_rather_than_block(fake, tmp_path, capsys):
    from agent.usb.state import payload

    state = StateDir(tmp_path / "state")
    enroll_fake(state)
    write_status(state, {"pid": os.getpid(), "connected": True})
    record_checks(state, [payload(False, "block", "no USB sysfs (/sys/bus/usb/devices)", "LinuxHost")])
    assert cli.main(["status", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["media_control_active"] is False and data["usb_mode"] == "block"  # the policy's mode
    assert cli.main(["--lang", "ja", "status"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if "外部記録媒体の制御モード" in line)
    assert "有効になっていません (ポリシーのモード block)" in row
    record_checks(state, [payload(True, "block", "", "LinuxHost")])  # the control came up
    assert cli.main(["--lang", "en", "status"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if "Removable media mode" in line)
    assert "block" in row and "not in force" not in row
