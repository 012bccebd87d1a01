"""Windows service layer with pywin32 replaced by a recorder: exact SCM calls, recovery actions, ACLs."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from agent.host.base import ServiceError
from agent.host.windows.host import WindowsHost, WindowsService, command_line, service_command
from agent.host.windows.service import ERROR_SERVICE_SPECIFIC_ERROR, AgentServiceLogic
from tests.agent.host.winfakes import Recorder, Win32Error

DATA = Path(__file__).parents[2] / "data"  # tests/agent/data


class FakeAcl:
    def __init__(self):
        self.aces: list[tuple] = []

    def AddAccessAllowedAceEx(self, *args):  # noqa: N802 - pywin32's name
        self.aces.append(args)


SVC = dict(
    SC_MANAGER_ALL_ACCESS=0xF003F,
    SERVICE_ALL_ACCESS=0xF01FF,
    SERVICE_WIN32_OWN_PROCESS=0x10,
    SERVICE_AUTO_START=2,
    SERVICE_DEMAND_START=3,
    SERVICE_DISABLED=4,
    SERVICE_ERROR_NORMAL=1,
    SERVICE_NO_CHANGE=0xFFFFFFFF,
    SERVICE_CONFIG_DESCRIPTION=1,
    SERVICE_CONFIG_FAILURE_ACTIONS=2,
    SERVICE_CONFIG_FAILURE_ACTIONS_FLAG=4,
    SC_ACTION_RESTART=1,
    SERVICE_CONTROL_STOP=1,
    SERVICE_STOPPED=1,
    SERVICE_START_PENDING=2,
    SERVICE_STOP_PENDING=3,
    SERVICE_RUNNING=4,
)
SEC = dict(
    WinLocalSystemSid=22,
    WinBuiltinAdministratorsSid=26,
    OBJECT_INHERIT_ACE=1,
    CONTAINER_INHERIT_ACE=2,
    ACL_REVISION=2,
    SE_FILE_OBJECT=1,
    OWNER_SECURITY_INFORMATION=1,
    DACL_SECURITY_INFORMATION=4,
    PROTECTED_DACL_SECURITY_INFORMATION=0x80000000,
)


def fake_api(svc_results: dict | None = None):
    calls: list = []
    acl = FakeAcl()
    query = json.loads((DATA / "win32-query-service.json").read_text())
    results = {
        "OpenSCManager": "scm",
        "CreateService": "svc",
        "OpenService": "svc",
        "QueryServiceStatusEx": query["QueryServiceStatusEx"],
        "QueryServiceConfig": tuple(query["QueryServiceConfig"]),
        **(svc_results or {}),
    }
    api = SimpleNamespace(
        svc=Recorder(calls, SVC, results),
        sec=Recorder(calls, SEC, {"CreateWellKnownSid": lambda kind, _d: f"SID{kind}", "ACL": lambda: acl}),
        ntsec=SimpleNamespace(FILE_ALL_ACCESS=0x1F01FF),
        evt=Recorder(calls, {}),
        error=Win32Error,
        message_dll=r"C:\mamori\servicemanager.pyd",
    )
    return api, calls, acl


STATE = Path("C:/ProgramData/Mamori")


def test_install_creates_an_auto_start_service_with_restart_recovery(tmp_path):
    api, calls, acl = fake_api()
    state = tmp_path / "Mamori"
    image = WindowsService(api, frozen=True).install(
        ["python", "-m", "agent.cli", "run", "--state-dir", str(state)], state
    )
    assert image == command_line(service_command(state, None, True))
    names = [c[0] for c in calls]
    assert names == [
        "CreateWellKnownSid",
        "CreateWellKnownSid",
        "ACL",
        "SetNamedSecurityInfo",
        "OpenSCManager",
        "CreateService",
        "ChangeServiceConfig2",
        "ChangeServiceConfig2",
        "ChangeServiceConfig2",
        "AddSourceToRegistry",
        "StartService",
        "CloseServiceHandle",
        "CloseServiceHandle",
    ]
    create = calls[names.index("CreateService")]
    # LocalSystem (account None), own process, automatic start, normal error control.
    assert create == (
        "CreateService",
        "scm",
        "MamoriAgent",
        "Mamori Agent",
        0xF01FF,
        0x10,
        2,
        1,
        image,
        None,
        0,
        None,
        None,
        None,
    )
    config2 = [c for c in calls if c[0] == "ChangeServiceConfig2"]
    assert config2[1] == (
        "ChangeServiceConfig2",
        "svc",
        2,
        {"ResetPeriod": 86400, "RebootMsg": None, "Command": None, "Actions": [(1, 5000), (1, 5000), (1, 30000)]},
    )
    assert config2[2] == ("ChangeServiceConfig2", "svc", 4, True)  # also on non-crash failures
    assert ("AddSourceToRegistry", "MamoriAgent", r"C:\mamori\servicemanager.pyd", "Application") in calls
    # %ProgramData%\Mamori: SYSTEM and Administrators only, inherited by children, parent ACEs cut off.
    assert acl.aces == [(2, 3, 0x1F01FF, "SID22"), (2, 3, 0x1F01FF, "SID26")]
    assert calls[names.index("SetNamedSecurityInfo")] == (
        "SetNamedSecurityInfo",
        str(state),
        1,
        1 | 4 | 0x80000000,
        "SID26",
        None,
        acl,
        None,
    )
    assert state.is_dir()


def test_frozen_and_source_service_commands():
    assert service_command(STATE, None, True, r"C:\Program Files\Mamori\Agent\mamori-agent.exe") == [
        r"C:\Program Files\Mamori\Agent\mamori-agent.exe",
        "winservice",
        "--state-dir",
        str(STATE),
    ]
    assert service_command(STATE, "C:/x.toml", False, r"C:\Python311\python.exe") == [
        r"C:\Python311\python.exe",
        "-m",
        "agent.host.windows.service",
        "--state-dir",
        str(STATE),
        "--config",
        "C:/x.toml",
    ]
    assert command_line([r"C:\Program Files\a.exe", "x"]) == '"C:\\Program Files\\a.exe" x'


def test_reinstall_updates_the_existing_service(tmp_path):
    api, calls, _acl = fake_api({"CreateService": Win32Error(1073, "CreateService", "exists")})
    WindowsService(api, frozen=True).install(["x", "run"], tmp_path / "M", start=False)
    names = [c[0] for c in calls]
    assert "OpenService" in names and "ChangeServiceConfig" in names and "StartService" not in names
    change = calls[names.index("ChangeServiceConfig")]
    assert change[1:4] == ("svc", 0x10, 2) and change[-1] == "Mamori Agent"


def test_other_create_errors_are_reported(tmp_path):
    api, _calls, _acl = fake_api({"CreateService": Win32Error(5, "CreateService", "Access is denied.")})
    with pytest.raises(ServiceError, match="Access is denied"):
        WindowsService(api).install(["x"], tmp_path / "M")


def test_remove_stops_deletes_and_unregisters_the_event_source():
    api, calls, _acl = fake_api()
    assert WindowsService(api).uninstall() is True
    assert [c for c in calls if c[0] not in ("CloseServiceHandle",)] == [
        ("OpenSCManager", None, None, 0xF003F),
        ("OpenService", "scm", "MamoriAgent", 0xF01FF),
        ("ControlService", "svc", 1),
        ("DeleteService", "svc"),
        ("RemoveSourceFromRegistry", "MamoriAgent", "Application"),
    ]


def test_remove_of_a_stopped_or_missing_service():
    api, calls, _acl = fake_api({"ControlService": Win32Error(1062, "ControlService", "not started")})
    assert WindowsService(api).uninstall() is True and ("DeleteService", "svc") in calls
    api, _calls, _acl = fake_api({"OpenService": Win32Error(1060, "OpenService", "does not exist")})
    assert WindowsService(api).uninstall() is False
    assert WindowsService(api).state().installed is False


def test_state_from_recorded_query():
    api, _calls, _acl = fake_api()
    st = WindowsService(api).state()
    assert (st.installed, st.enabled, st.active, st.main_pid) == (True, "auto", "running", 5312)
    assert st.unit_path.endswith("--state-dir C:\\ProgramData\\Mamori")


def test_service_logic_runs_the_agent_and_turns_scm_stops_into_orderly_stops(monkeypatch):
    monkeypatch.delenv("MAMORI_WINDOWS_SERVICE", raising=False)
    seen, stops = [], []
    logic = AgentServiceLogic(
        ["--state-dir", r"C:\ProgramData\Mamori"],
        run_main=lambda argv: seen.append(argv) or 0,
        stop=lambda reason, orderly: stops.append((reason, orderly)) or True,
    )
    assert logic.run() == 0 and seen == [["run", "--state-dir", r"C:\ProgramData\Mamori"]]
    logic.stop("service-stop")
    assert stops == [("service-stop", True)]
    assert logic.final_status(0) == (0, 0)
    # The self-watchdog's restart status makes the SCM run its recovery actions.
    assert logic.final_status(75) == (ERROR_SERVICE_SPECIFIC_ERROR, 75)


def test_service_host_logs_to_the_event_log_and_restarts_through_the_scm(monkeypatch):
    host = WindowsHost(api=fake_api()[0])
    monkeypatch.delenv("MAMORI_WINDOWS_SERVICE", raising=False)
    assert host.watch_stop(lambda _req: None) is False
    monkeypatch.setenv("MAMORI_WINDOWS_SERVICE", "1")
    assert host.watch_stop(lambda _req: None) is True
    assert host.restart_self(["run"]) == 75


def test_stop_before_the_agent_runs_is_kept(monkeypatch):
    from agent import runner

    monkeypatch.setattr(runner, "_pending_stop", [])
    assert runner.stop_agent("service-stop") is False
    assert runner._pending_stop[0].reason == "service-stop" and runner._pending_stop[0].orderly
