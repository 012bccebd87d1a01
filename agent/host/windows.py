"""Windows host: facts from the registry, state under %ProgramData%\\Mamori, the Windows service and Event Log.

Every call into Windows goes through `Win32` (the pywin32 modules), so tests replace it with a recorder.
"""

from __future__ import annotations

import logging
import os
import platform
import socket
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from agent.host.base import HostFacts, ServiceError, ServiceState, StopRequest

SERVICE_NAME = "MamoriAgent"
DISPLAY_NAME = "Mamori Agent"
DESCRIPTION = ("Mamori endpoint agent: removable media control, posture checks and the audit trail for the "
               "information security policy. Stopping it is reported to security staff.")
EVENT_SOURCE = SERVICE_NAME
# SCM recovery: restart after 5 s, again after 5 s, then every 30 s; the failure count resets after a day.
RESTART_DELAYS_MS = (5_000, 5_000, 30_000)
RESET_PERIOD_S = 86_400
ERROR_SERVICE_EXISTS = 1073
ERROR_SERVICE_DOES_NOT_EXIST = 1060
ERROR_SERVICE_NOT_ACTIVE = 1062
ENV_SERVICE = "MAMORI_WINDOWS_SERVICE"  # set by the service wrapper: logs go to the Event Log


def _machine_guid() -> str:
    import winreg  # only present on Windows

    with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, r"SOFTWARE\Microsoft\Cryptography") as key:
        value, _kind = winreg.QueryValueEx(key, "MachineGuid")
    return str(value)


class Win32:
    """The pywin32 modules the service layer uses (imported only on Windows)."""

    def __init__(self) -> None:
        import ntsecuritycon
        import pywintypes
        import servicemanager
        import win32evtlogutil
        import win32security
        import win32service

        self.svc = win32service
        self.sec = win32security
        self.ntsec = ntsecuritycon
        self.evt = win32evtlogutil
        self.error = pywintypes.error
        self.message_dll = servicemanager.__file__  # holds the generic message strings the Event Log shows


def service_command(state_dir: Path, config: str | None, frozen: bool | None = None,
                    executable: str | None = None) -> list[str]:
    """What the SCM starts: the frozen mamori-agent.exe, or python -m agent.host.winservice, plus options."""
    frozen = getattr(sys, "frozen", False) if frozen is None else frozen
    exe = executable or sys.executable
    argv = [exe, "winservice"] if frozen else [exe, "-m", "agent.host.winservice"]
    argv += ["--state-dir", str(state_dir)]
    if config:
        argv += ["--config", config]
    return argv


def command_line(argv: Sequence[str]) -> str:
    """A Windows command line (ImagePath) for argv, quoted as CommandLineToArgvW expects."""
    import subprocess

    return subprocess.list2cmdline(list(argv))


class WindowsService:
    """Install, start, stop, remove and query the agent's Windows service."""

    def __init__(self, api: Any = None, frozen: bool | None = None):
        self._api = api
        self.frozen = frozen

    @property
    def api(self) -> Any:
        if self._api is None:
            self._api = Win32()
        return self._api

    def _scm(self) -> Any:
        return self.api.svc.OpenSCManager(None, None, self.api.svc.SC_MANAGER_ALL_ACCESS)

    def install(self, argv: Sequence[str], state_dir: Path, start: bool = True) -> str:
        """Create (or update) the service: automatic start as LocalSystem, restart on any failure."""
        a = self.api
        config = argv[argv.index("--config") + 1] if "--config" in argv else None
        image = command_line(service_command(state_dir, config, self.frozen))
        secure_state_dir(state_dir, a)
        scm = self._scm()
        try:
            try:
                handle = a.svc.CreateService(
                    scm, SERVICE_NAME, DISPLAY_NAME, a.svc.SERVICE_ALL_ACCESS, a.svc.SERVICE_WIN32_OWN_PROCESS,
                    a.svc.SERVICE_AUTO_START, a.svc.SERVICE_ERROR_NORMAL, image, None, 0, None, None, None)
            except a.error as exc:
                if exc.winerror != ERROR_SERVICE_EXISTS:
                    raise ServiceError(f"CreateService: {exc.strerror}") from None
                handle = a.svc.OpenService(scm, SERVICE_NAME, a.svc.SERVICE_ALL_ACCESS)
                nc = a.svc.SERVICE_NO_CHANGE
                a.svc.ChangeServiceConfig(handle, a.svc.SERVICE_WIN32_OWN_PROCESS, a.svc.SERVICE_AUTO_START, nc,
                                          image, None, 0, None, None, None, DISPLAY_NAME)
            try:
                a.svc.ChangeServiceConfig2(handle, a.svc.SERVICE_CONFIG_DESCRIPTION, DESCRIPTION)
                a.svc.ChangeServiceConfig2(handle, a.svc.SERVICE_CONFIG_FAILURE_ACTIONS, {
                    "ResetPeriod": RESET_PERIOD_S, "RebootMsg": None, "Command": None,
                    "Actions": [(a.svc.SC_ACTION_RESTART, delay) for delay in RESTART_DELAYS_MS]})
                # Also when the agent exits with an error status (self-watchdog restart), not only on a crash.
                a.svc.ChangeServiceConfig2(handle, a.svc.SERVICE_CONFIG_FAILURE_ACTIONS_FLAG, True)
                a.evt.AddSourceToRegistry(EVENT_SOURCE, a.message_dll, "Application")
                if start:
                    a.svc.StartService(handle, None)
            finally:
                a.svc.CloseServiceHandle(handle)
        finally:
            a.svc.CloseServiceHandle(scm)
        return image

    def _with_service(self, action: Callable[[Any], Any], missing_ok: bool = False) -> Any:
        a = self.api
        scm = self._scm()
        try:
            try:
                handle = a.svc.OpenService(scm, SERVICE_NAME, a.svc.SERVICE_ALL_ACCESS)
            except a.error as exc:
                if exc.winerror == ERROR_SERVICE_DOES_NOT_EXIST and missing_ok:
                    return None
                raise ServiceError(f"OpenService {SERVICE_NAME}: {exc.strerror}") from None
            try:
                return action(handle)
            finally:
                a.svc.CloseServiceHandle(handle)
        finally:
            a.svc.CloseServiceHandle(scm)

    def start(self) -> None:
        self._with_service(lambda h: self.api.svc.StartService(h, None))

    def stop(self) -> None:
        def stop(handle: Any) -> None:
            try:
                self.api.svc.ControlService(handle, self.api.svc.SERVICE_CONTROL_STOP)
            except self.api.error as exc:
                if exc.winerror != ERROR_SERVICE_NOT_ACTIVE:
                    raise ServiceError(f"ControlService: {exc.strerror}") from None
        self._with_service(stop)

    def uninstall(self) -> bool:
        a = self.api

        def remove(handle: Any) -> bool:
            try:
                a.svc.ControlService(handle, a.svc.SERVICE_CONTROL_STOP)
            except a.error as exc:
                if exc.winerror != ERROR_SERVICE_NOT_ACTIVE:
                    raise ServiceError(f"ControlService: {exc.strerror}") from None
            a.svc.DeleteService(handle)
            a.evt.RemoveSourceFromRegistry(EVENT_SOURCE, "Application")
            return True

        return bool(self._with_service(remove, missing_ok=True))

    def state(self) -> ServiceState:
        a = self.api
        states = {a.svc.SERVICE_STOPPED: "stopped", a.svc.SERVICE_START_PENDING: "starting",
                  a.svc.SERVICE_STOP_PENDING: "stopping", a.svc.SERVICE_RUNNING: "running"}
        starts = {a.svc.SERVICE_AUTO_START: "auto", a.svc.SERVICE_DEMAND_START: "demand",
                  a.svc.SERVICE_DISABLED: "disabled"}

        def query(handle: Any) -> ServiceState:
            status = a.svc.QueryServiceStatusEx(handle)
            config = a.svc.QueryServiceConfig(handle)
            return ServiceState(True, starts.get(config[1], str(config[1])),
                                states.get(status["CurrentState"], str(status["CurrentState"])),
                                int(status.get("ProcessId", 0)), config[3])

        return self._with_service(query, missing_ok=True) or ServiceState(False, "-", "-", 0, "")


def secure_state_dir(path: Path, api: Any) -> None:
    """Create the state folder readable and writable by SYSTEM and Administrators only (no inherited ACEs)."""
    path.mkdir(parents=True, exist_ok=True)
    sec, ntsec = api.sec, api.ntsec
    system = sec.CreateWellKnownSid(sec.WinLocalSystemSid, None)
    admins = sec.CreateWellKnownSid(sec.WinBuiltinAdministratorsSid, None)
    dacl = sec.ACL()
    inherit = sec.OBJECT_INHERIT_ACE | sec.CONTAINER_INHERIT_ACE  # files and folders created inside get it too
    for sid in (system, admins):
        dacl.AddAccessAllowedAceEx(sec.ACL_REVISION, inherit, ntsec.FILE_ALL_ACCESS, sid)
    info = sec.OWNER_SECURITY_INFORMATION | sec.DACL_SECURITY_INFORMATION | sec.PROTECTED_DACL_SECURITY_INFORMATION
    sec.SetNamedSecurityInfo(str(path), sec.SE_FILE_OBJECT, info, admins, None, dacl, None)


class WindowsHost:
    def __init__(self, api: Any = None):
        self._api = api

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

    def service(self) -> WindowsService:
        return WindowsService(self._api)

    def log_handler(self) -> logging.Handler:
        if os.environ.get(ENV_SERVICE):
            # The service's own messages go to the Application log under source MamoriAgent.
            from logging.handlers import NTEventLogHandler

            handler: logging.Handler = NTEventLogHandler(EVENT_SOURCE)
            handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
            return handler
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        return handler

    def watch_stop(self, on_stop: Callable[[StopRequest], None]) -> bool:
        # No signals from the SCM: the service wrapper calls runner.stop_agent() from SvcStop/SvcShutdown.
        return os.environ.get(ENV_SERVICE) is not None

    def restart_self(self, argv: Sequence[str]) -> int:
        # Exit with an error status: the SCM's recovery actions (FAILURE_ACTIONS_FLAG) start a fresh process.
        from agent.runner import RESTART_EXIT

        return RESTART_EXIT
