"""OS-facing layer: the only place in the agent that knows which operating system it runs on."""

from __future__ import annotations

import sys

from agent.host.base import Host, HostFacts


def current() -> Host:
    """The Host implementation for this machine."""
    if sys.platform == "win32":
        from agent.host.windows.host import WindowsHost

        return WindowsHost()
    from agent.host.linux.host import LinuxHost

    return LinuxHost()


__all__ = ["Host", "HostFacts", "current"]
