"""systemd units and default configs: rendered files are current, parse with the schemas, pass systemd-analyze."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from agent import config as agent_config
from agent.host.linux import systemd
from collector import config as collector_config
from mamori.tomlconf import load

REPO = Path(__file__).resolve().parents[2]
LINUX = REPO / "packaging/linux"
SYSTEMD_UNITS = Path("/usr/lib/systemd/system")


def test_rendered_files_are_current():
    proc = subprocess.run(
        [sys.executable, str(REPO / "packaging/render.py"), "--check"], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize(
    "name,schema", [("agent.toml", agent_config.SCHEMA), ("collector.toml", collector_config.SCHEMA)]
)
def test_default_configs_document_every_key_and_load_as_defaults(name, schema):
    path = REPO / "packaging/config" / name
    assert load(path, schema) == {k.name: k.default for k in schema}
    lines = path.read_text(encoding="utf-8").splitlines()
    for key in schema:
        leaf = key.name.rpartition(".")[2]
        at = next(i for i, line in enumerate(lines) if line.startswith(f"{leaf} = "))
        assert lines[at - 1].startswith("# ") and lines[at - 1] != "# ", f"{key.name} has no comment"


def _verify(tmp_path: Path, units: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """systemd-analyze verify against a scratch root that has systemd's own units and our executables."""
    if shutil.which("systemd-analyze") is None:
        pytest.fail("systemd-analyze missing: packaging/dev/bootstrap.sh installs systemd")
    root = tmp_path / "root"
    shutil.copytree(SYSTEMD_UNITS, root / "usr/lib/systemd/system", symlinks=True)
    unit_dir = root / "etc/systemd/system"
    unit_dir.mkdir(parents=True)
    for name, text in units.items():
        (unit_dir / name).write_text(text, encoding="utf-8")
        for line in text.splitlines():
            if line.startswith("ExecStart="):
                exe = root / line.split("=", 1)[1].split()[0].lstrip("/")
                exe.parent.mkdir(parents=True, exist_ok=True)
                exe.write_text("#!/bin/sh\n")
                exe.chmod(0o755)
    return subprocess.run(
        ["systemd-analyze", "verify", "--man=no", f"--root={root}", *[f"/etc/systemd/system/{n}" for n in units]],
        capture_output=True,
        text=True,
    )


def test_units_pass_systemd_analyze_verify(tmp_path):
    units = {
        name: (LINUX / name).read_text(encoding="utf-8")
        for name in ("mamori-agent.service", "mamori-collector.service")
    }
    proc = _verify(tmp_path, units)
    # Warnings (unknown keys, bad values) do not change the exit status: any output about our units fails.
    assert proc.returncode == 0 and "mamori" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr


def test_verify_catches_a_broken_unit(tmp_path):
    """The check above can fail: a misspelt directive is reported."""
    text = systemd.render_unit(["/opt/x/bin/mamori-agent", "run"], Path("/var/lib/x"))
    proc = _verify(tmp_path, {"mamori-agent.service": text.replace("NoNewPrivileges", "NoNewPrivilege")})
    assert "NoNewPrivilege" in proc.stdout + proc.stderr


def _directives(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            out.setdefault(key, []).append(value)
    return out


def test_agent_unit_keeps_sysfs_writable_and_restarts_always():
    d = _directives((LINUX / "mamori-agent.service").read_text(encoding="utf-8"))
    assert d["Restart"] == ["always"] and d["StartLimitIntervalSec"] == ["0"]
    # /sys/bus/usb/devices/*/authorized must stay writable: these would make /sys read-only or hide devices.
    assert d["ProtectKernelTunables"] == ["no"] and d["PrivateDevices"] == ["no"] and d["ProtectClock"] == ["no"]
    assert d["ProtectSystem"] == ["strict"] and d["ReadWritePaths"] == ["/var/lib/mamori-agent"]
    assert "User" not in d  # root
    assert d["ExecStart"] == [
        "/opt/mamori/agent/bin/mamori-agent run --state-dir /var/lib/mamori-agent --config /etc/mamori/agent.toml"
    ]


def test_collector_unit_runs_unprivileged_with_its_own_state():
    d = _directives((LINUX / "mamori-collector.service").read_text(encoding="utf-8"))
    assert d["User"] == ["mamori"] and d["StateDirectory"] == ["mamori"] and d["ProtectSystem"] == ["strict"]
    assert d["Restart"] == ["always"] and d["CapabilityBoundingSet"] == [""]
    assert "MAMORI_CONFIG=/etc/mamori/collector.toml" in d["Environment"][0]


def test_unit_quotes_paths_with_spaces_and_percent():
    text = systemd.render_unit(["/opt/my agent/bin/python", "-m", "agent.cli", "run"], Path("/srv/50%/state"))
    d = _directives(text)
    assert d["ExecStart"] == ['"/opt/my agent/bin/python" -m agent.cli run']
    assert d["ReadWritePaths"] == ["/srv/50%%/state"]
