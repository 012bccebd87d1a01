"""Linux service layer: systemctl calls, unit install/remove, journal priorities, who sent a stop signal."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from agent.host.base import ServiceError
from agent.host.linux.early import MODPROBE_CONF, UDEV_RULE, EarlyFiles
from agent.host.linux.host import describe_stop
from agent.host.linux.systemd import SystemdService, parse_show
from mamori.logsetup import JournalFormatter

DATA = Path(__file__).parents[2] / "data"  # tests/agent/data


class FakeSystemctl:
    def __init__(self, fail: str = "", show: str = "systemctl-show-active.txt"):
        self.calls: list[list[str]] = []
        self.fail = fail
        self.show = (DATA / show).read_text()

    def __call__(self, argv):
        self.calls.append(list(argv))
        if self.fail and self.fail in argv:
            return subprocess.CompletedProcess(argv, 1, "", f"Failed to {self.fail} unit: Access denied")
        return subprocess.CompletedProcess(argv, 0, self.show if "show" in argv else "", "")


def test_install_writes_unit_then_reloads_enables_and_restarts(tmp_path):
    fake = FakeSystemctl()
    svc = SystemdService(tmp_path / "units", fake, EarlyFiles(tmp_path / "udev", tmp_path / "modprobe.d"))
    (tmp_path / "units").mkdir()
    where = svc.install(
        ["/venv/bin/python", "-m", "agent.cli", "run", "--state-dir", str(tmp_path / "st")], tmp_path / "st"
    )
    unit = Path(where).read_text()
    assert f"ExecStart=/venv/bin/python -m agent.cli run --state-dir {tmp_path}/st" in unit
    assert f"ReadWritePaths={tmp_path}/st" in unit and (tmp_path / "st").is_dir()
    assert "ConditionPathExists" not in unit  # it runs (strictest policy) before enrollment too
    # Deny-by-default before the agent runs: the udev rule and the usbcore option come with the unit.
    assert (tmp_path / "udev/70-mamori-usb.rules").read_text() == UDEV_RULE
    assert (tmp_path / "modprobe.d/mamori-usb.conf").read_text() == MODPROBE_CONF
    assert fake.calls == [
        ["udevadm", "control", "--reload"],
        ["systemctl", "daemon-reload"],
        ["systemctl", "enable", "mamori-agent.service"],
        ["systemctl", "restart", "mamori-agent.service"],
    ]


def test_refusal_is_reported_with_systemctls_words(tmp_path):
    (tmp_path / "units").mkdir()
    svc = SystemdService(tmp_path / "units", FakeSystemctl(fail="enable"), EarlyFiles(tmp_path, tmp_path))
    with pytest.raises(ServiceError, match="Access denied"):
        svc.install(["/x"], tmp_path / "st")


def test_uninstall_disables_and_removes(tmp_path):
    (tmp_path / "units").mkdir()
    fake = FakeSystemctl()
    svc = SystemdService(tmp_path / "units", fake, EarlyFiles(tmp_path / "udev", tmp_path / "modprobe.d"))
    assert svc.uninstall() is False and fake.calls == []
    svc.install(["/x"], tmp_path / "st", start=False)
    fake.calls.clear()
    assert svc.uninstall() is True
    assert not svc.unit_path.exists() and not list((tmp_path / "udev").iterdir())
    assert fake.calls == [
        ["systemctl", "disable", "--now", "mamori-agent.service"],
        ["udevadm", "control", "--reload"],
        ["systemctl", "daemon-reload"],
    ]


def test_state_from_recorded_systemctl_show():
    st = SystemdService(runner=FakeSystemctl()).state()
    assert (st.installed, st.enabled, st.active, st.main_pid) == (True, "enabled", "active", 48213)
    st = SystemdService(runner=FakeSystemctl(show="systemctl-show-missing.txt")).state()
    assert (st.installed, st.enabled, st.active, st.main_pid) == (False, "-", "inactive", 0)
    assert parse_show("junk\nA=b=c\n") == {"A": "b=c"}


def test_journal_lines_carry_syslog_priority():
    fmt = JournalFormatter()
    rec = logging.LogRecord("mamori.agent", logging.WARNING, __file__, 1, "spool full\nsecond line", None, None)
    assert fmt.format(rec) == "<4>mamori.agent: spool full\n<4>second line"
    rec = logging.LogRecord("mamori.agent", logging.INFO, __file__, 1, "ok", None, None)
    assert fmt.format(rec) == "<6>mamori.agent: ok"


def test_describe_stop(tmp_path):
    (tmp_path / "proc/4242").mkdir(parents=True)
    (tmp_path / "proc/4242/comm").write_text("kill\n")
    assert describe_stop(15, 1, 0, tmp_path, under_service_manager=True).orderly
    outside = describe_stop(15, 1, 0, tmp_path, under_service_manager=False)
    assert not outside.orderly and outside.reason == "signal:SIGTERM from pid 1 (exited, uid 0)"
    user = describe_stop(15, 4242, 1000, tmp_path, under_service_manager=True)
    assert not user.orderly and user.reason == "signal:SIGTERM from pid 4242 (kill, uid 1000)"


_WATCH = textwrap.dedent("""
    import sys, threading, time
    sys.path[:0] = {paths!r}
    from agent.host.linux.host import LinuxHost
    done = threading.Event()
    got = []
    LinuxHost().watch_stop(lambda req: (got.append(req), done.set()))
    threading.Thread(target=lambda: None).start()  # later threads inherit the block
    print("ready", flush=True)
    done.wait(20)
    print(got[0].orderly, got[0].reason, flush=True)
""")


def _watch_script(tmp_path: Path) -> Path:
    repo = Path(__file__).resolve().parents[4]
    script = tmp_path / "watch.py"
    script.write_text(_WATCH.format(paths=[str(repo)]))
    return script


def test_signal_sender_is_identified_for_real(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, str(_watch_script(tmp_path))],
        stdout=subprocess.PIPE,
        text=True,
        env={"INVOCATION_ID": "0123456789abcdef", "PATH": "/usr/bin:/bin"},
    )
    assert proc.stdout.readline().strip() == "ready"
    proc.terminate()  # from this process, not PID 1: not the service manager even under systemd
    out, _ = proc.communicate(timeout=20)
    me = Path(f"/proc/{os.getpid()}/comm").read_text().strip()
    assert out.strip() == f"False signal:SIGTERM from pid {os.getpid()} ({me}, uid {os.getuid()})"


@pytest.mark.skipif(shutil.which("unshare") is None, reason="util-linux unshare missing")
def test_sigterm_from_pid_1_under_a_service_manager_is_orderly(tmp_path):
    """In a new PID namespace the shell is PID 1, as systemd is for the services it starts."""
    script = _watch_script(tmp_path)
    shell = (
        f"INVOCATION_ID=abc {sys.executable} {script} > {tmp_path}/out & "
        f"while ! grep -q ready {tmp_path}/out 2>/dev/null; do sleep 0.05; done; kill -TERM $!; wait $!"
    )
    proc = subprocess.run(
        ["unshare", "--pid", "--fork", "--kill-child", "sh", "-c", shell], capture_output=True, text=True, timeout=60
    )
    if proc.returncode != 0 and "Operation not permitted" in proc.stderr:
        pytest.skip(f"cannot create a PID namespace here: {proc.stderr.strip()}")
    assert (tmp_path / "out").read_text().splitlines()[-1] == "True service-stop"
