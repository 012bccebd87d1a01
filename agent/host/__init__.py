"""OS-facing layer: the only place in the agent that knows which operating system it runs on."""

from __future__ import annotations

import sys
from types import ModuleType

from agent.host.base import Host, HostFacts


def current() -> Host:
    """The Host implementation for this machine."""
    if sys.platform == "win32":
        from agent.host.windows import WindowsHost

        return WindowsHost()
    from agent.host.linux import LinuxHost

    return LinuxHost()


def control_transport() -> ModuleType:
    """The control channel's transport for this machine: listen(root), connect(root, timeout), address(root)."""
    if sys.platform == "win32":
        from agent.host import control_windows

        return control_windows
    from agent.host import control_unix

    return control_unix


__all__ = ["Host", "HostFacts", "current"]
