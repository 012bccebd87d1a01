"""The OS release on Linux: /etc/os-release, else /usr/lib/os-release (os-release(5))."""

from __future__ import annotations

from pathlib import Path

from agent.host.facts import OsReleaseFacts
from agent.host.sysio import HostIOError, read_text


def read(root: Path) -> OsReleaseFacts:
    from agent.host.linux.host import parse_os_release

    for name in ("etc/os-release", "usr/lib/os-release"):
        try:
            rel = parse_os_release(read_text(root / name, 65536).text)
            break
        except HostIOError:
            continue
    else:
        return OsReleaseFacts(family="linux", problem="no os-release file")
    os_id, version = rel.get("ID", ""), rel.get("VERSION_ID", "")
    if not os_id:
        return OsReleaseFacts(family="linux", problem="os-release has no ID")
    label = rel.get("PRETTY_NAME") or f"{os_id} {version}"
    return OsReleaseFacts(family="linux", os_id=os_id, version=version, label=label[:100])
