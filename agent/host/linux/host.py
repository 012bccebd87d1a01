"""Linux host: facts from /etc/os-release and /etc/machine-id, state under /var/lib, systemd, the journal."""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from agent.host.base import Emit, HostFacts, MediaControl, ServiceManager, StopRequest

STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}


def parse_os_release(text: str) -> dict[str, str]:
    """KEY=value pairs of os-release(5); quotes removed, junk lines ignored."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if not sep or not key.isidentifier():
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        out[key] = value
    return out


def _read(path: str, limit: int = 65536) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read(limit)
    except OSError:
        return ""


class LinuxHost:
    def __init__(self, root: Path = Path("/")):
        self.root = root  # tests point this at a prepared tree

    def facts(self) -> HostFacts:
        release = parse_os_release(_read(str(self.root / "etc/os-release")))
        return HostFacts(
            hostname=socket.gethostname()[:255],
            os="linux",
            os_version=(release.get("PRETTY_NAME") or release.get("NAME") or "Linux")[:255],
            machine_id=_read(str(self.root / "etc/machine-id"), 256).strip()[:255],
        )

    def default_state_dir(self) -> Path:
        return Path("/var/lib/mamori-agent")

    def media_control(self, emit: Emit) -> MediaControl | str:
        if os.geteuid() != 0:
            return "not running as root: USB devices cannot be authorized or blocked"
        if not (self.root / "sys/bus/usb/devices").is_dir():
            return "no USB sysfs (/sys/bus/usb/devices): the kernel has no USB support or sysfs is not mounted"
        from agent.host.linux.media import LinuxMediaControl

        return LinuxMediaControl(emit, self.root)

    def service(self) -> ServiceManager:
        from agent.host.linux.systemd import SystemdService

        return SystemdService()

    def log_handler(self) -> logging.Handler:
        from mamori.logsetup import stderr_handler

        return stderr_handler()  # under systemd: the journal, with priorities

    def watch_stop(self, on_stop: Callable[[StopRequest], None]) -> bool:
        """Take SIGTERM/SIGINT/SIGHUP with sigwaitinfo, which tells who sent them.

        The signals are blocked in the calling thread before any other thread exists, so every later thread
        (gRPC, asyncio executors) inherits the block and only the waiting thread receives them.
        """
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)

        def wait() -> None:
            while True:
                info = signal.sigwaitinfo(STOP_SIGNALS)
                on_stop(describe_stop(info.si_signo, info.si_pid, info.si_uid, self.root))

        threading.Thread(target=wait, name="mamori-stop-signals", daemon=True).start()
        return True

    def restart_self(self, argv: Sequence[str]) -> int:
        """exec a fresh interpreter in place: same PID, so systemd keeps tracking it as the main process."""
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)  # the mask survives exec
        os.execv(sys.executable, [sys.executable, "-m", "agent.cli", *argv])
        return 0  # not reached


def describe_stop(
    signo: int, pid: int, uid: int, root: Path = Path("/"), under_service_manager: bool | None = None
) -> StopRequest:
    """Orderly only when systemd (PID 1) sent it to the service it started ($INVOCATION_ID is set)."""
    name = signal.Signals(signo).name
    if under_service_manager is None:
        under_service_manager = bool(os.environ.get("INVOCATION_ID"))
    if pid == 1 and under_service_manager:
        return StopRequest("service-stop", True)
    if pid == 0:
        return StopRequest(f"signal:{name} from the kernel or terminal", False)
    comm = _read(str(root / f"proc/{pid}/comm"), 64).strip() or "exited"
    return StopRequest(f"signal:{name} from pid {pid} ({comm}, uid {uid})", False)


HOST = LinuxHost  # what agent.host.current() starts on this OS
