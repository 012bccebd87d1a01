"""The agent's systemd unit (one renderer for the .deb and `service install`) and systemctl calls."""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

from agent.host.base import ServiceError, ServiceState
from agent.host.linux.early import EarlyFiles

UNIT_NAME = "mamori-agent.service"
UNIT_DIR = Path("/etc/systemd/system")  # where `service install` puts it; the .deb uses /lib/systemd/system
SYSLOG_IDENTIFIER = "mamori-agent"

# Each directive with the reason it is there (or why a hardening option is deliberately off). The agent
# runs as root: it writes /sys/bus/usb/devices/*/authorized and authorized_default to block USB storage.
_SERVICE = """\
[Unit]
Description=Mamori endpoint agent (removable media control, posture checks, audit trail)
Documentation=https://github.com/mamori/mamori
# The agent works offline (it spools); network-online only makes the first connection faster.
Wants=network-online.target
After=network-online.target
# Never stop retrying: a security agent that gives up restarting has been switched off.
StartLimitIntervalSec=0
# Runs enrolled or not: before `mamori-agent enroll` it enforces the strictest removable-media policy,
# and restarts itself as the enrolled agent once the identity appears.

[Service]
# exec: the start fails visibly if the interpreter or the program cannot be executed.
Type=exec
ExecStart={exec_start}
# Restart after any exit, crash, kill -9 or self-watchdog restart.
Restart=always
RestartSec=5
# SIGTERM to the agent only, so it can record agent.stopped and flush; SIGKILL to stragglers after that.
KillMode=mixed
TimeoutStopSec=20
# Logs go to the journal under this name: journalctl -t mamori-agent (priorities from <N> prefixes).
SyslogIdentifier={ident}
SyslogLevelPrefix=yes
Environment=PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
# Keys, spool and policy cache are readable by root only.
UMask=0077
# A hard ceiling behind the agent's own watchdog (watchdog.memory_limit_mib, default 200 MiB).
MemoryMax=400M

# --- hardening that leaves the agent able to do its work ---
# It never needs setuid programs or new privileges.
NoNewPrivileges=yes
RestrictSUIDSGID=yes
# The whole file system is read-only except the state folder below and the API trees /dev, /proc, /sys:
# the agent writes /sys/bus/usb/devices/*/authorized, which ProtectSystem=strict leaves writable.
ProtectSystem=strict
ReadWritePaths={state_dir}
# Read-only, not hidden: the MFA check reads per-user PAM files (e.g. ~/.config/Yubico/u2f_keys).
ProtectHome=read-only
PrivateTmp=yes
# OFF on purpose: ProtectKernelTunables=yes remounts /sys read-only, and the agent must write
# /sys/bus/usb/devices/*/authorized and authorized_default to block and allow USB devices.
ProtectKernelTunables=no
# OFF on purpose: it needs /dev/bus/usb and the block devices of removable media.
PrivateDevices=no
# OFF on purpose: ProtectClock=yes implies a DeviceAllow= list, which would hide /dev/bus/usb too.
ProtectClock=no
# It never loads kernel modules, reads the kernel log ring, changes cgroups or the host name.
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectHostname=yes
# Sockets: the collector (IPv4/IPv6), local IPC, and netlink for udev device events and interface state.
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
RestrictNamespaces=yes
RestrictRealtime=yes
LockPersonality=yes
SystemCallArchitectures=native
# Not set: MemoryDenyWriteExecute (libffi closures used through ctypes by pyusb need W+X pages on some
# builds), CapabilityBoundingSet (root's DAC override is how it reads users' PAM files and writes sysfs).

[Install]
WantedBy=multi-user.target
"""


def render_unit(exec_start: Sequence[str], state_dir: Path) -> str:
    """The agent's unit file for the given command line and state folder."""
    return _SERVICE.format(
        exec_start=" ".join(_quote(a) for a in exec_start), ident=SYSLOG_IDENTIFIER, state_dir=_quote(str(state_dir))
    )


def _quote(arg: str) -> str:
    # systemd's own quoting: double quotes, backslash escapes; specifiers (%) must be doubled.
    arg = arg.replace("%", "%%")
    if arg and all(c.isalnum() or c in "/._-:=,+@%" for c in arg):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


Runner = Callable[[Sequence[str]], subprocess.CompletedProcess[str]]


def _run(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=60, check=False)


class SystemdService:
    """Install, remove and query the agent's unit through systemctl (runner is replaced in tests)."""

    def __init__(self, unit_dir: Path = UNIT_DIR, runner: Runner = _run, early: EarlyFiles | None = None):
        self.unit_dir = unit_dir
        self.run = runner
        self.early = early or EarlyFiles()

    @property
    def unit_path(self) -> Path:
        return self.unit_dir / UNIT_NAME

    def install(self, argv: Sequence[str], state_dir: Path, start: bool = True) -> str:
        """Write the unit, reload systemd, enable it at boot and (re)start it; returns the unit path."""
        state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # ReadWritePaths= must exist
        text = render_unit(argv, state_dir)
        tmp = self.unit_path.with_name(UNIT_NAME + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.chmod(0o644)
        tmp.replace(self.unit_path)
        # Deny-by-default from boot and for controllers added later, also while the agent is not running.
        self.early.install()
        self.run(["udevadm", "control", "--reload"])  # no udevd (a container): the files still count at boot
        self._check("daemon-reload")
        self._check("enable", UNIT_NAME)
        if start:
            self._check("restart", UNIT_NAME)
        return str(self.unit_path)

    def start(self) -> None:
        self._check("start", UNIT_NAME)

    def stop(self) -> None:
        self._check("stop", UNIT_NAME)

    def uninstall(self) -> bool:
        """Stop and disable the agent, remove the unit; False when there was none."""
        if not self.unit_path.exists():
            return False
        self.run(["systemctl", "disable", "--now", UNIT_NAME])  # may already be stopped: not fatal
        self.unit_path.unlink()
        self.early.uninstall()
        self.run(["udevadm", "control", "--reload"])
        self._check("daemon-reload")
        return True

    def state(self) -> ServiceState:
        out = self.run(
            ["systemctl", "show", UNIT_NAME, "--property=LoadState,UnitFileState,ActiveState,MainPID,FragmentPath"]
        )
        props = parse_show(out.stdout)
        return ServiceState(
            installed=props.get("LoadState") == "loaded",
            enabled=props.get("UnitFileState", "") or "-",
            active=props.get("ActiveState", "") or "-",
            main_pid=int(props.get("MainPID", "0") or 0),
            unit_path=props.get("FragmentPath", ""),
        )

    def _check(self, *args: str) -> None:
        result = self.run(["systemctl", *args])
        if result.returncode != 0:
            raise ServiceError(f"systemctl {shlex.join(args)} failed: {(result.stderr or result.stdout).strip()}")


def parse_show(text: str) -> dict[str, str]:
    """`systemctl show` KEY=value lines."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip()] = value.strip()
    return out
