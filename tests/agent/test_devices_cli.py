"""`mamori-agent devices`: attached devices with the decision in force and USBGuard's rule line, as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from agent.config import StateDir
from agent.policy_cache import PolicyCache
from mamori import policy as policy_doc
from tests.mamori.test_usbguard_compat import FIXTURES, build_sysfs

WORKTREE = Path(__file__).resolve().parents[2]
GENERATED = [
    line for line in (FIXTURES / "generate-policy.rules").read_text().splitlines() if line and not line.startswith("#")
]


def _agent(state: Path, sysfs: Path, *args: str, lang: str = "en") -> subprocess.CompletedProcess[str]:
    env = os.environ | {"PYTHONPATH": str(WORKTREE)}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "agent.cli",
            "--lang",
            lang,
            "devices",
            "--state-dir",
            str(state),
            "--sysfs-root",
            str(sysfs),
            *args,
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=WORKTREE,
        timeout=60,
    )


def _enrol(state: Path, segment: str, allow: list[str]) -> None:
    """An enrolled state folder holding a policy the collector pushed (allowlist with `allow`)."""
    state.mkdir(parents=True, exist_ok=True)
    (state / "identity.json").write_text(
        json.dumps(
            {
                "agent_id": "a" * 8,
                "segment": segment,
                "department": "市民課",
                "collector_host": "127.0.0.1",
                "telemetry_port": 1,
                "enroll_port": 2,
                "enrolled_at": "2026-11-01T00:00:00+00:00",
            }
        )
    )
    sd = StateDir(state)
    for path in (sd.key, sd.cert, sd.ca_cert):
        path.write_text("x")
    doc = policy_doc.DEFAULTS[segment] | {
        "usb": {"mode": "allowlist", "allow": allow, "temporary": [], "restore_on_exit": False}
    }
    doc = policy_doc.validate(doc)
    PolicyCache(sd.policy, segment).apply(policy_doc.version_of(doc), policy_doc.canonical(doc))


def test_unenrolled_terminal_lists_devices_under_the_strictest_policy(tmp_path):
    build_sysfs(tmp_path / "root", FIXTURES / "sysfs.umockdev")
    run = _agent(tmp_path / "state", tmp_path / "root", "--json")
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert (data["policy_source"], data["usb_mode"]) == ("strictest", "block")
    assert [d["rule"] for d in data["devices"]] == GENERATED  # what usbguard generate-policy printed
    sticks = [d for d in data["devices"] if d["id"] == "46f4:0001"]
    assert [d["storage"] for d in sticks] == ["block", "block"]
    audio = next(d for d in data["devices"] if d["id"] == "0d8c:0014")
    assert audio["device_allowed"] and audio["interfaces"] == ["01:01:00", "01:02:00", "01:02:00", "03:00:00"]


def test_a_generate_policy_line_allows_that_stick_only(tmp_path):
    build_sysfs(tmp_path / "root", FIXTURES / "sysfs.umockdev")
    ok = next(line for line in GENERATED if "MAMORI-OK-0001" in line)
    _enrol(tmp_path / "state", "lgwan", [ok])
    run = _agent(tmp_path / "state", tmp_path / "root", "--json")
    assert run.returncode == 0, run.stderr
    by_port = {d["port"]: d for d in json.loads(run.stdout)["devices"]}
    assert by_port["1-1"]["storage"] == "allow" and by_port["1-1"]["decided_by"] == f"rule 1: {ok}"
    assert by_port["1-2"]["storage"] == "block"  # same id and name, another serial and hash
    table = _agent(tmp_path / "state", tmp_path / "root", lang="ja")
    assert table.returncode == 0 and "許可" in table.stdout and ok in table.stdout


def test_no_sysfs_is_a_one_line_error(tmp_path):
    run = _agent(tmp_path / "state", tmp_path / "nothing")
    assert run.returncode == 2 and run.stderr.count("\n") == 1 and "sys/bus/usb/devices" in run.stderr
