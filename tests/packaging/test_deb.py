"""The .deb packages, built by packaging/linux/build-deb.sh, installed, used, upgraded, removed and purged
in a Debian 12 debootstrap chroot (cached per day under ~/.cache/mamori by packaging/linux/chroot-tarball.sh).

Slow (about 1-2 minutes: the build makes two virtualenvs); marked `slow`, run by default.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from agent.spool import Spool
from mamori import events
from tests.e2e.harness import free_port

REPO = Path(__file__).resolve().parents[2]
LINUX = REPO / "packaging/linux"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="chroot and dpkg in a chroot need root"),
]


def sh(*argv: str, timeout: float = 600, **kw) -> str:
    proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, **kw)
    assert proc.returncode == 0, f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


@pytest.fixture(scope="module")
def debs(tmp_path_factory):
    """Version 0.1.0 of both packages, and 0.1.0+upgrade1 repacked from them (only the version differs)."""
    for tool in ("dpkg-deb", "debootstrap"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} missing: run packaging/dev/bootstrap.sh")
    out = tmp_path_factory.mktemp("dist")
    built = sh("bash", str(LINUX / "build-deb.sh"), "--out", str(out), "--version", "0.1.0").split()
    first = {Path(p).name.split("_")[0]: Path(p) for p in built}
    upgrade = {}
    for name, deb in first.items():
        tree = out / f"{name}-tree"
        sh("dpkg-deb", "-R", str(deb), str(tree))
        control = tree / "DEBIAN/control"
        control.write_text(control.read_text().replace("Version: 0.1.0\n", "Version: 0.1.0+upgrade1\n"))
        upgrade[name] = out / f"{name}_0.1.0+upgrade1.deb"
        sh("dpkg-deb", "--root-owner-group", "-Zgzip", "-z1", "-b", str(tree), str(upgrade[name]))
        shutil.rmtree(tree)
    return first, upgrade


@pytest.fixture
def root(tmp_path):
    tarball = sh("bash", str(LINUX / "chroot-tarball.sh")).strip()
    root = tmp_path / "root"
    root.mkdir()
    sh("tar", "-C", str(root), "-xf", tarball)
    return root


def test_install_use_upgrade_remove_purge(debs, root, tmp_path):
    first, upgrade = debs

    def chroot(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            ["chroot", str(root), *argv],
            capture_output=True,
            text=True,
            timeout=300,
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"},
        )
        if check:
            assert proc.returncode == 0, f"{argv} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        return proc

    def dpkg(*args: str) -> None:
        for deb in args:
            if deb.endswith(".deb"):
                shutil.copy(deb, root / "tmp")
        chroot("dpkg", *[f"/tmp/{Path(a).name}" if a.endswith(".deb") else a for a in args])

    def version(pkg: str) -> str:
        return chroot("dpkg-query", "-W", "-f=${Version} ${Status}", pkg, check=False).stdout

    # --- install: user, data, config, unit enabled for boot ---
    dpkg("-i", str(first["mamori-collector"]), str(first["mamori-agent"]))
    assert version("mamori-agent") == version("mamori-collector") == "0.1.0 install ok installed"
    assert chroot("getent", "passwd", "mamori").stdout.split(":")[6].strip() == "/usr/sbin/nologin"
    data, agent_state = root / "var/lib/mamori", root / "var/lib/mamori-agent"
    uid = int(chroot("id", "-u", "mamori").stdout)
    assert data.stat().st_uid == uid and data.stat().st_mode & 0o777 == 0o700
    assert {"ca.crt", "ca.key", "server.crt", "server.key", "mamori.db"} <= {p.name for p in data.iterdir()}
    conf = root / "etc/mamori/collector.toml"
    assert conf.stat().st_mode & 0o777 == 0o640 and "127.0.0.1" in conf.read_text()
    assert agent_state.stat().st_mode & 0o777 == 0o700
    wants = root / "etc/systemd/system/multi-user.target.wants"
    for unit in ("mamori-agent.service", "mamori-collector.service"):
        assert os.readlink(wants / unit) == f"/lib/systemd/system/{unit}"
    assert not (root / "opt/mamori/agent/lib/python3.11/site-packages/collector").exists()

    # --- use: the packaged collector serves, the packaged agent enrolls and delivers ---
    port, enroll_port = free_port(), free_port()
    log = (tmp_path / "collector.log").open("wb")
    server = subprocess.Popen(
        [
            "chroot",
            str(root),
            "/usr/bin/mamori-collector",
            "serve",
            "--listen",
            f"127.0.0.1:{port}",
            "--enroll-listen",
            f"127.0.0.1:{enroll_port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while b"serving telemetry" not in (tmp_path / "collector.log").read_bytes():
            assert server.poll() is None and time.monotonic() < deadline, (tmp_path / "collector.log").read_text()
            time.sleep(0.2)
        token = json.loads(
            chroot(
                "mamori-collector", "token", "create", "--segment", "lgwan", "--department", "情報政策課", "--json"
            ).stdout
        )["token"]
        chroot(
            "mamori-agent",
            "enroll",
            "--collector",
            f"127.0.0.1:{enroll_port}",
            "--token",
            token,
            "--ca-cert",
            "/var/lib/mamori/ca.crt",
        )
        agent = subprocess.Popen(
            [
                "chroot",
                str(root),
                "/opt/mamori/agent/bin/mamori-agent",
                "run",
                "--state-dir",
                "/var/lib/mamori-agent",
                "--config",
                "/etc/mamori/agent.toml",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                kinds = {e["kind"] for e in json.loads(chroot("mamori-collector", "events", "list", "--json").stdout)}
                if {"agent.enrolled", "agent.started", "policy.applied"} <= kinds:
                    break
                assert time.monotonic() < deadline, kinds
                time.sleep(0.5)
        finally:
            agent.terminate()
            agent.wait(30)
    finally:
        server.terminate()
        server.wait(30)
    # Files the staff CLI created as root belong to the service's user.
    assert all(p.stat().st_uid == uid for p in data.iterdir())

    # --- upgrade: local config edits and all data stay ---
    agent_conf = root / "etc/mamori/agent.toml"
    agent_conf.write_text(agent_conf.read_text().replace('level = "info"', 'level = "debug"'))
    ca_before = hashlib.sha256((data / "ca.crt").read_bytes()).hexdigest()
    conf_before = conf.read_text()
    identity = (agent_state / "identity.json").read_text()
    dpkg("-i", str(upgrade["mamori-collector"]), str(upgrade["mamori-agent"]))
    assert version("mamori-agent") == "0.1.0+upgrade1 install ok installed"
    assert 'level = "debug"' in agent_conf.read_text()
    assert hashlib.sha256((data / "ca.crt").read_bytes()).hexdigest() == ca_before
    assert conf.read_text() == conf_before and (agent_state / "identity.json").read_text() == identity
    assert (data / "mamori.db").stat().st_size > 0

    # --- remove: programs and units go, data and config stay, the removal is on record ---
    dpkg("-r", "mamori-agent", "mamori-collector")
    assert not (root / "opt/mamori/agent").exists() and not (root / "opt/mamori/collector").exists()
    assert not (wants / "mamori-agent.service").exists()
    assert not (root / "lib/systemd/system/mamori-agent.service").exists()
    assert (agent_state / "identity.json").exists() and (data / "ca.crt").exists()
    assert agent_conf.exists() and conf.exists()
    with Spool.open(agent_state / "spool") as spool:
        last = events.decode_bytes(spool.pending(0, 10_000)[-1][1])
    assert last.kind == "agent.stopped" and last.payload["reason"].startswith("package removed by ")

    # --- purge: everything goes (the system user stays, as Debian recommends) ---
    dpkg("-P", "mamori-agent", "mamori-collector")
    assert not agent_state.exists() and not data.exists() and not (root / "etc/mamori").exists()
    assert version("mamori-agent").strip() == "" or "not-installed" in version("mamori-agent")
