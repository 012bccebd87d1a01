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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypedDict

from agent.host.base import Emit, HostFacts, MediaControl, ServiceError, ServiceState, StopRequest
from mamori.i18n import _

SERVICE_NAME = "MamoriAgent"
DISPLAY_NAME = "Mamori Agent"
DESCRIPTION = (
    "Mamori endpoint agent: removable media control, posture checks and the audit trail for the "
    "information security policy. Stopping it is reported to security staff."
)
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


def service_command(
    state_dir: Path, config: str | None, frozen: bool | None = None, executable: str | None = None
) -> list[str]:
    """What the SCM starts: the frozen mamori-agent.exe, or python -m agent.host.windows.service, plus options."""
    frozen = getattr(sys, "frozen", False) if frozen is None else frozen
    exe = executable or sys.executable
    argv = [exe, "winservice"] if frozen else [exe, "-m", "agent.host.windows.service"]
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
                    scm,
                    SERVICE_NAME,
                    DISPLAY_NAME,
                    a.svc.SERVICE_ALL_ACCESS,
                    a.svc.SERVICE_WIN32_OWN_PROCESS,
                    a.svc.SERVICE_AUTO_START,
                    a.svc.SERVICE_ERROR_NORMAL,
                    image,
                    None,
                    0,
                    None,
                    None,
                    None,
                )
            except a.error as exc:
                if exc.winerror != ERROR_SERVICE_EXISTS:
                    raise ServiceError(f"CreateService: {exc.strerror}") from None
                handle = a.svc.OpenService(scm, SERVICE_NAME, a.svc.SERVICE_ALL_ACCESS)
                nc = a.svc.SERVICE_NO_CHANGE
                a.svc.ChangeServiceConfig(
                    handle,
                    a.svc.SERVICE_WIN32_OWN_PROCESS,
                    a.svc.SERVICE_AUTO_START,
                    nc,
                    image,
                    None,
                    0,
                    None,
                    None,
                    None,
                    DISPLAY_NAME,
                )
            try:
                a.svc.ChangeServiceConfig2(handle, a.svc.SERVICE_CONFIG_DESCRIPTION, DESCRIPTION)
                a.svc.ChangeServiceConfig2(
                    handle,
                    a.svc.SERVICE_CONFIG_FAILURE_ACTIONS,
                    {
                        "ResetPeriod": RESET_PERIOD_S,
                        "RebootMsg": None,
                        "Command": None,
                        "Actions": [(a.svc.SC_ACTION_RESTART, delay) for delay in RESTART_DELAYS_MS],
                    },
                )
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
        states = {
            a.svc.SERVICE_STOPPED: "stopped",
            a.svc.SERVICE_START_PENDING: "starting",
            a.svc.SERVICE_STOP_PENDING: "stopping",
            a.svc.SERVICE_RUNNING: "running",
        }
        starts = {
            a.svc.SERVICE_AUTO_START: "auto",
            a.svc.SERVICE_DEMAND_START: "demand",
            a.svc.SERVICE_DISABLED: "disabled",
        }

        def query(handle: Any) -> ServiceState:
            status = a.svc.QueryServiceStatusEx(handle)
            config = a.svc.QueryServiceConfig(handle)
            return ServiceState(
                True,
                starts.get(config[1], str(config[1])),
                states.get(status["CurrentState"], str(status["CurrentState"])),
                int(status.get("ProcessId", 0)),
                config[3],
            )

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

    def media_control(self, emit: Emit) -> MediaControl | str:
        import ctypes

        if not ctypes.windll.shell32.IsUserAnAdmin():
            return "not running as an administrator: the USBSTOR and RemovableStorageDevices settings cannot be set"
        from agent.host.windows.media import WindowsMediaControl

        return WindowsMediaControl(emit)

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


# ---- Registry and PowerShell sources for posture checks -------------------------------------------------
# Checks read the registry through a Source: LiveSource on Windows, RegFileSource over recorded `reg export`
# files in tests. Parsing and interpretation below is shared by both, so tests exercise the real logic.

HKLM = "HKEY_LOCAL_MACHINE"


class Source:
    """What a Windows check may read: registry values and subkeys, and JSON from a fixed PowerShell query."""

    def values(self, key: str) -> dict[str, object] | None:  # None: key absent
        raise NotImplementedError

    def subkeys(self, key: str) -> list[str]:
        raise NotImplementedError

    def query(self, name: str) -> object:
        raise NotImplementedError


def _norm(key: str) -> str:
    key = key.strip().strip("[]")
    for short, full in (("HKLM\\", HKLM + "\\"), ("HKCU\\", "HKEY_CURRENT_USER\\")):
        if key.upper().startswith(short):
            key = full + key[len(short) :]
    return key.lower()


def parse_reg(text: str) -> dict[str, dict[str, object]]:
    """A `reg export` / regedit .reg file: {lower-case key path: {value name: value}}."""
    keys: dict[str, dict[str, object]] = {}
    current: dict[str, object] | None = None
    logical: list[str] = []
    buf = ""
    for raw in text.lstrip("\ufeff").splitlines():
        line = raw.rstrip()
        if line.endswith("\\") and not line.startswith("["):
            buf += line[:-1].strip()
            continue
        logical.append(buf + line.strip())
        buf = ""
    for line in logical:
        if not line or line.startswith(";") or line.startswith("Windows Registry Editor"):
            continue
        if line.startswith("[") and line.endswith("]"):
            path = line[1:-1]
            if path.startswith("-"):
                current = None
                continue
            current = keys.setdefault(_norm(path), {})
            continue
        if current is None or "=" not in line:
            continue
        if line.startswith("@="):
            name, data = "", line[2:]
        elif line.startswith('"'):
            end = _closing_quote(line)
            name, data = line[1:end].replace("\\\\", "\\").replace('\\"', '"'), line[end + 2 :]
        else:
            continue
        current[name] = _reg_value(data)
    return keys


def _closing_quote(line: str) -> int:
    i = 1
    while i < len(line):
        if line[i] == "\\":
            i += 2
            continue
        if line[i] == '"':
            return i
        i += 1
    return len(line) - 1


def _reg_value(data: str) -> object:
    if data.startswith('"'):
        return data[1:-1].replace("\\\\", "\\").replace('\\"', '"')
    if data.startswith("dword:"):
        return int(data[6:], 16)
    if data.startswith("hex(b):"):
        raw = bytes(int(b, 16) for b in data[7:].split(",") if b)
        return int.from_bytes(raw, "little")
    if data.startswith("hex(7):") or data.startswith("hex(2):"):
        raw = bytes(int(b, 16) for b in data[7:].split(",") if b)
        text = raw.decode("utf-16-le", errors="replace").rstrip("\x00")
        return text.split("\x00") if data.startswith("hex(7)") else text
    if data.startswith("hex:"):
        return bytes(int(b, 16) for b in data[4:].split(",") if b)
    return data


class RegFileSource(Source):
    """Recorded registry exports (and recorded PowerShell JSON) standing in for a live machine."""

    def __init__(self, reg_texts: list[str], queries: dict[str, object] | None = None):
        self.keys: dict[str, dict[str, object]] = {}
        for text in reg_texts:
            for k, v in parse_reg(text).items():
                self.keys.setdefault(k, {}).update(v)
        self.queries = queries or {}

    def values(self, key: str) -> dict[str, object] | None:
        return self.keys.get(_norm(key))

    def subkeys(self, key: str) -> list[str]:
        prefix = _norm(key) + "\\"
        return sorted({k[len(prefix) :].split("\\", 1)[0] for k in self.keys if k.startswith(prefix)})

    def query(self, name: str) -> object:
        if name not in self.queries:
            raise OSError(2, f"no recorded output for {name}")
        return self.queries[name]


class LiveSource(Source):
    """The running Windows machine (winreg, and PowerShell with a timeout)."""

    def values(self, key: str) -> dict[str, object] | None:
        import winreg

        hive, _sep, sub = key.partition("\\")
        root = {"HKLM": winreg.HKEY_LOCAL_MACHINE, HKLM: winreg.HKEY_LOCAL_MACHINE}[hive.upper()]
        try:
            with winreg.OpenKey(root, sub) as handle:
                out: dict[str, object] = {}
                for i in range(4096):
                    try:
                        name, value, _kind = winreg.EnumValue(handle, i)
                    except OSError:
                        break
                    out[name] = value
                return out
        except FileNotFoundError:
            return None

    def subkeys(self, key: str) -> list[str]:
        import winreg

        _hive, _sep, sub = key.partition("\\")
        try:
            with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, sub) as handle:
                names = []
                for i in range(4096):
                    try:
                        names.append(winreg.EnumKey(handle, i))
                    except OSError:
                        break
                return names
        except FileNotFoundError:
            return []

    def query(self, name: str) -> object:
        import json

        from agent.host.sysio import run

        script = QUERIES[name]
        done = run(["powershell.exe", "-NoProfile", "-NonInteractive", "-Command", script], timeout=120)
        if done.returncode != 0:
            raise OSError(0, f"PowerShell query {name} failed: {done.stderr.strip()[:300]}")
        return json.loads(done.stdout or "null")


# Fixed PowerShell queries (never built from input); each prints JSON.
QUERIES = {
    "w32tm_status": "w32tm /query /status /verbose | Out-String | ConvertTo-Json",
    "defender": (
        "Get-MpComputerStatus|Select-Object AMServiceEnabled,AntivirusEnabled,RealTimeProtectionEnabled,"
        "AntivirusSignatureAge,AntivirusSignatureVersion,AMRunningMode,"
        "@{n='AntivirusSignatureLastUpdated';e={$_.AntivirusSignatureLastUpdated.ToString('o')}}"
        "|ConvertTo-Json"
    ),
    "bitlocker": (
        "@(Get-BitLockerVolume|%{[pscustomobject]@{MountPoint=$_.MountPoint;"
        'VolumeType="$($_.VolumeType)";ProtectionStatus="$($_.ProtectionStatus)";'
        'VolumeStatus="$($_.VolumeStatus)";EncryptionPercentage=$_.EncryptionPercentage;'
        'EncryptionMethod="$($_.EncryptionMethod)";'
        'KeyProtector=@($_.KeyProtector|%{"$($_.KeyProtectorType)"})}})|ConvertTo-Json -Depth 3'
    ),
    "local_admins": (
        "@(Get-LocalGroupMember -SID S-1-5-32-544|%{[pscustomobject]@{Name=$_.Name;"
        'SID=$_.SID.Value;ObjectClass=$_.ObjectClass;PrincipalSource="$($_.PrincipalSource)"}})'
        "|ConvertTo-Json -Depth 3"
    ),
    "windows_update": (
        "$s=New-Object -ComObject Microsoft.Update.Session;$q=$s.CreateUpdateSearcher();"
        "$r=$q.Search(\"IsInstalled=0 and IsHidden=0 and Type='Software'\");"
        "$p=@($r.Updates|%{[pscustomobject]@{Title=$_.Title;KB=($_.KBArticleIDs -join ',');"
        "Severity=$_.MsrcSeverity;Released=$_.LastDeploymentChangeTime.ToString('o');"
        "Categories=@($_.Categories|%{$_.Name})}});"
        "$n=$q.GetTotalHistoryCount();$h=@(if($n -gt 0){$q.QueryHistory(0,[Math]::Min($n,200))|"
        "%{[pscustomobject]@{Date=$_.Date.ToString('o');Title=$_.Title;ResultCode=$_.ResultCode;"
        "Operation=$_.Operation}}});$a=New-Object -ComObject Microsoft.Update.AutoUpdate;"
        "[pscustomobject]@{Pending=$p;History=$h;LastSearchSuccess=$a.Results.LastSearchSuccessDate.ToString('o');"
        "LastInstallSuccess=$a.Results.LastInstallationSuccessDate.ToString('o')}|ConvertTo-Json -Depth 4"
    ),
}

# ---- Logon MFA (Windows Hello for Business, smart-card-forced logon, credential providers) ------------
CP_KEY = HKLM + r"\SOFTWARE\Microsoft\Windows\CurrentVersion\Authentication\Credential Providers"
CP_FILTER_KEY = HKLM + r"\SOFTWARE\Microsoft\Windows\CurrentVersion\Authentication\Credential Provider Filters"
SYSTEM_POLICY = HKLM + r"\SOFTWARE\Microsoft\Windows\CurrentVersion\Policies\System"
SYSTEM_POLICY2 = HKLM + r"\SOFTWARE\Policies\Microsoft\Windows\System"
WHFB_POLICY = HKLM + r"\SOFTWARE\Policies\Microsoft\PassportForWork"
WHFB_MDM = HKLM + r"\SOFTWARE\Microsoft\Policies\PassportForWork"
PASSWORD_CP = "{60b78e88-ead8-445c-9cfd-0b87f74ea6cd}"
TS_KEY = HKLM + r"\SYSTEM\CurrentControlSet\Control\Terminal Server"
TS_POLICY = HKLM + r"\SOFTWARE\Policies\Microsoft\Windows NT\Terminal Services"
# Credential providers that ship with Windows (lower case); anything else is third-party.
INBOX_CPS = {
    g.lower()
    for g in (
        "{01A30791-40AE-4653-AB2E-FD210019AE88}",
        "{1b283861-754f-4022-ad47-a5eaaa618894}",
        "{1ee7337f-85ac-45e2-a23c-37c753209769}",
        "{2135f72a-90b5-4ed3-a7f1-8bb705ac276a}",
        "{25CBB996-92ED-457e-B28C-4774084BD562}",
        "{27FBDB57-B613-4AF2-9D7E-4FA7A66C21AD}",
        "{3dd6bec0-8193-4ffe-ae25-e08e39ea4063}",
        "{48B4E58D-2791-456C-9091-D524C6C706F2}",
        "{600e7adb-da3e-41a4-9225-3c0399e88c0c}",
        PASSWORD_CP,
        "{8AF662BF-65A0-4D0A-A540-A338A999D36F}",
        "{8FD7E19C-3BF7-489B-A72C-846AB3678C96}",
        "{94596c7e-3744-41ce-893e-bbf09122f76a}",
        "{BEC09223-B018-416D-A0AC-523971B639F5}",
        "{C5D7540A-CD51-453B-B22B-05305BA03F07}",
        "{C885AA15-1764-4293-B82A-0586ADD46B35}",
        "{cb82ea12-9f71-446d-89e1-8d0924e1256e}",
        "{D6886603-9D2F-4EB2-B667-1971041FA96B}",
        "{e74e57b0-6c6d-44d5-9cda-fb2df5ed7435}",
        "{F8A1793B-7873-4046-B2A7-1F318747F427}",
        "{f64945df-4fa9-4068-a2fb-61af319edd33}",
        "{503739d0-4c5e-4cfd-b3ba-d881334f0df2}",
    )
}


class LogonMfa:
    def __init__(self) -> None:
        self.enforced = False
        self.reason = ""  # in the staff's language
        self.facts: dict[str, object] = {}

    def evidence(self) -> dict[str, object]:
        return {"source": "registry", **self.facts}


def _dword(values: dict[str, object] | None, name: str) -> int | None:
    if not values:
        return None
    for k, v in values.items():
        if k.lower() == name.lower() and isinstance(v, int):
            return v
    return None


def logon_mfa(src: Source) -> LogonMfa:
    out = LogonMfa()
    scforce = _dword(src.values(SYSTEM_POLICY), "scforceoption") == 1
    whfb = _dword(src.values(WHFB_POLICY), "Enabled") == 1
    # Intune/MDM sets it per tenant: ...\PassportForWork\<tenant>\Device\Policies UsePassportForWork=1.
    for tenant in src.subkeys(WHFB_MDM):
        whfb = whfb or _dword(src.values(f"{WHFB_MDM}\\{tenant}\\Device\\Policies"), "UsePassportForWork") == 1
    sys2 = src.values(SYSTEM_POLICY2) or {}
    excluded_raw = next((v for k, v in sys2.items() if k.lower() == "excludedcredentialproviders"), "")
    excluded = {g.strip().lower() for g in str(excluded_raw).split(",") if g.strip()}
    providers = {g.lower(): src.values(f"{CP_KEY}\\{g}") or {} for g in src.subkeys(CP_KEY)}
    password_disabled = PASSWORD_CP in excluded or _dword(providers.get(PASSWORD_CP), "Disabled") == 1
    third_party = {
        g: str(v.get("", "")) for g, v in providers.items() if g not in INBOX_CPS and _dword(v, "Disabled") != 1
    }
    filters = {
        g.lower(): str((src.values(f"{CP_FILTER_KEY}\\{g}") or {}).get("", "")) for g in src.subkeys(CP_FILTER_KEY)
    }
    third_filters = {g: n for g, n in filters.items() if g not in INBOX_CPS}
    ts = src.values(TS_KEY) or {}
    ts_policy = src.values(TS_POLICY) or {}
    deny = _dword(ts_policy, "fDenyTSConnections")
    deny = _dword(ts, "fDenyTSConnections") if deny is None else deny
    out.facts = {
        "rdp_enabled": deny == 0,
        "scforceoption": scforce,
        "windows_hello_for_business": whfb,
        "excluded_credential_providers": sorted(excluded),
        "password_provider_disabled": password_disabled,
        "third_party_credential_providers": third_party,
        "third_party_filters": third_filters,
    }
    if scforce:
        out.enforced, out.reason = True, _("smart card required (scforceoption=1)")
    elif password_disabled and (whfb or third_party):
        alt = "Windows Hello for Business" if whfb else ", ".join(third_party.values() or third_party)
        out.enforced = True
        out.reason = _("password provider filtered; logon with {alt}").format(alt=alt)
    elif third_party and third_filters:
        names = ", ".join(n or g for g, n in third_party.items())
        out.enforced = True
        out.reason = _("third-party credential provider {names} with a provider filter").format(names=names)
    else:
        out.reason = (
            _("Windows Hello for Business is enabled but the password provider is still available")
            if whfb
            else _("no second factor is enforced and the password provider is available")
        )
    return out


# ---- Windows Update Agent ------------------------------------------------------------------------------
WU_POLICY = HKLM + r"\SOFTWARE\Policies\Microsoft\Windows\WindowsUpdate"
WU_REBOOT = HKLM + r"\SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update\RebootRequired"


class PendingUpdate(TypedDict):
    title: str
    kb: str
    severity: str
    released: datetime | None
    security: bool


class WindowsUpdate:
    def __init__(self) -> None:
        self.pending: list[PendingUpdate] = []
        self.last_install: datetime | None = None
        self.last_search: datetime | None = None
        self.server = ""
        self.reboot_required = False


def _when(text: object) -> datetime | None:
    if not isinstance(text, str) or not text or text.startswith("0001-"):
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def windows_update(src: Source) -> WindowsUpdate:
    """Pending updates and history from the Update Agent (the `windows_update` query), WSUS from policy."""
    data = src.query("windows_update")
    if not isinstance(data, dict):
        raise OSError(0, "Windows Update query returned no object")
    wu = WindowsUpdate()
    pending = data.get("Pending") or []
    for item in pending if isinstance(pending, list) else [pending]:
        if not isinstance(item, dict):
            continue
        cats = item.get("Categories") or []
        cats = cats if isinstance(cats, list) else [cats]
        wu.pending.append(
            {
                "title": str(item.get("Title", ""))[:200],
                "kb": str(item.get("KB", "")),
                "severity": str(item.get("Severity") or ""),
                "released": _when(item.get("Released")),
                "security": "Security Updates" in cats or bool(item.get("Severity")),
            }
        )
    history = data.get("History") or []
    for item in history if isinstance(history, list) else [history]:
        # ResultCode 2 = succeeded, 3 = succeeded with errors; Operation 1 = installation.
        if isinstance(item, dict) and item.get("Operation") == 1 and item.get("ResultCode") in (2, 3):
            when = _when(item.get("Date"))
            if when and (wu.last_install is None or when > wu.last_install):
                wu.last_install = when
    wu.last_install = wu.last_install or _when(data.get("LastInstallSuccess"))
    wu.last_search = _when(data.get("LastSearchSuccess"))
    policy = src.values(WU_POLICY) or {}
    wu.server = str(policy.get("WUServer", ""))
    wu.reboot_required = src.values(WU_REBOOT) is not None
    return wu


# ---- Windows Defender Firewall profiles (group policy overrides the local setting) ---------------------
FW_LOCAL = HKLM + r"\SYSTEM\CurrentControlSet\Services\SharedAccess\Parameters\FirewallPolicy"
FW_POLICY = HKLM + r"\SOFTWARE\Policies\Microsoft\WindowsFirewall"
FW_PROFILES = {"domain": "DomainProfile", "private": "StandardProfile", "public": "PublicProfile"}
FW_POLICY_PROFILES = {"domain": "DomainProfile", "private": "PrivateProfile", "public": "PublicProfile"}


def firewall_profiles(src: Source) -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    for name, key in FW_PROFILES.items():
        local = src.values(f"{FW_LOCAL}\\{key}") or {}
        gpo = src.values(f"{FW_POLICY}\\{FW_POLICY_PROFILES[name]}") or {}
        enabled = _dword(gpo, "EnableFirewall")
        enabled = _dword(local, "EnableFirewall") if enabled is None else enabled
        inbound = _dword(gpo, "DefaultInboundAction")
        inbound = _dword(local, "DefaultInboundAction") if inbound is None else inbound
        # Windows defaults: firewall on, inbound blocked (DefaultInboundAction 1 = block, 0 = allow).
        out[name] = {"enabled": enabled != 0, "inbound_allowed": inbound == 0, "set_by": "policy" if gpo else "local"}
    return out


HOST = WindowsHost  # what agent.host.current() starts on this OS
