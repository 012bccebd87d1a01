"""The Windows service wrapper: the SCM starts it, it runs the agent and turns SCM stops into orderly stops.

Started as `python -m agent.host.windows.service --state-dir DIR [--config FILE]`, or as `mamori-agent.exe
winservice ...` when frozen with PyInstaller (packaging/windows). `AgentServiceLogic` holds what the service
does and is tested without Windows; `service_class()` binds it to pywin32's ServiceFramework.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from agent.host.windows.host import DESCRIPTION, DISPLAY_NAME, ENV_SERVICE, SERVICE_NAME

ERROR_SERVICE_SPECIFIC_ERROR = 1066  # "the service has returned a service-specific error code"
STOP_WAIT_HINT_MS = 20_000  # the agent records its stop and flushes for up to shipper.stop_flush_seconds


class AgentServiceLogic:
    """Run `mamori-agent run` with the service's options; stop it when the SCM says so."""

    def __init__(
        self,
        options: Sequence[str],
        run_main: Callable[[list[str]], int] | None = None,
        stop: Callable[[str, bool], bool] | None = None,
    ):
        self.options = list(options)  # --state-dir DIR [--config FILE]
        self._run_main = run_main
        self._stop = stop

    def argv(self) -> list[str]:
        return ["run", *self.options]  # --state-dir and --config are accepted after the subcommand

    def run(self) -> int:
        os.environ[ENV_SERVICE] = "1"  # logging to the Event Log, stops come from SvcStop, not signals
        if self._run_main is None:
            from agent.cli import main

            self._run_main = main
        try:
            return int(self._run_main(self.argv()) or 0)
        except SystemExit as exc:  # argparse errors and the like
            return exc.code if isinstance(exc.code, int) else 2

    def stop(self, reason: str) -> None:
        if self._stop is None:
            from agent.runner import stop_agent

            self._stop = stop_agent
        self._stop(reason, True)

    @staticmethod
    def final_status(code: int) -> tuple[int, int]:
        """(win32ExitCode, svcExitCode) to report: non-zero makes the SCM run its recovery actions."""
        return (0, 0) if code == 0 else (ERROR_SERVICE_SPECIFIC_ERROR, code)


def service_class(logic: AgentServiceLogic) -> type:
    import servicemanager
    import win32service
    import win32serviceutil

    class MamoriAgentService(win32serviceutil.ServiceFramework):
        _svc_name_ = SERVICE_NAME
        _svc_display_name_ = DISPLAY_NAME
        _svc_description_ = DESCRIPTION

        def GetAcceptedControls(self) -> int:  # pywin32's names
            # Shutdown too: a shutdown is an orderly stop and must not look like a kill at the next start.
            return super().GetAcceptedControls() | win32service.SERVICE_ACCEPT_SHUTDOWN

        def SvcStop(self) -> None:
            self.ReportServiceStatus(win32service.SERVICE_STOP_PENDING, waitHint=STOP_WAIT_HINT_MS)
            logic.stop("service-stop")

        def SvcShutdown(self) -> None:
            logic.stop("system-shutdown")

        def SvcRun(self) -> None:
            self.ReportServiceStatus(win32service.SERVICE_RUNNING)
            servicemanager.LogInfoMsg(f"{DISPLAY_NAME} started")
            code = logic.run()
            win32_code, service_code = logic.final_status(code)
            if code:
                servicemanager.LogErrorMsg(f"{DISPLAY_NAME} exited with status {code}; recovery restarts it")
            self.ReportServiceStatus(win32service.SERVICE_STOPPED, win32ExitCode=win32_code, svcExitCode=service_code)

    return MamoriAgentService


def dispatch(options: Sequence[str]) -> None:
    """Hand this process to the SCM (it only works when the SCM started it)."""
    import servicemanager

    servicemanager.Initialize()
    servicemanager.PrepareToHostSingle(service_class(AgentServiceLogic(options)))
    servicemanager.StartServiceCtrlDispatcher()


def main(argv: Sequence[str] | None = None) -> Any:
    return dispatch(list(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    main()
