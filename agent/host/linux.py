"""Linux host: facts from /etc/os-release and /etc/machine-id, state under /var/lib."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from agent.host.base import Emit, HostFacts, MediaControl


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
        from agent.host.linux_media import LinuxMediaControl

        return LinuxMediaControl(emit, self.root)
