"""Windows host: facts from the registry, state under %ProgramData%\\Mamori."""

from __future__ import annotations

import os
import platform
import socket
from pathlib import Path

from agent.host.base import Emit, HostFacts, MediaControl


def _machine_guid() -> str:
    import winreg  # only present on Windows

    with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, r"SOFTWARE\Microsoft\Cryptography") as key:
        value, _kind = winreg.QueryValueEx(key, "MachineGuid")
    return str(value)


class WindowsHost:
    def facts(self) -> HostFacts:
        try:
            guid = _machine_guid()
        except OSError:
            guid = ""
        return HostFacts(
            hostname=socket.gethostname()[:255],
            os="windows",
            os_version=f"Windows {platform.release()} {platform.version()}"[:255],
            machine_id=guid[:255],
        )

    def default_state_dir(self) -> Path:
        return Path(os.environ.get("ProgramData", r"C:\ProgramData")) / "Mamori"

    def media_control(self, emit: Emit) -> MediaControl | str:
        import ctypes

        if not ctypes.windll.shell32.IsUserAnAdmin():  # type: ignore[attr-defined]
            return "not running as an administrator: the USBSTOR and RemovableStorageDevices settings cannot be set"
        from agent.host.windows_media import WindowsMediaControl

        return WindowsMediaControl(emit)
