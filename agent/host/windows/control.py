"""The control channel on Windows: a local named pipe whose DACL admits only SYSTEM and Administrators.

Every call into Windows goes through `PipeApi` (the pywin32 modules), so tests replace it with a recorder.
The first instance is created with FILE_FLAG_FIRST_PIPE_INSTANCE, so a process that took the name first
makes the agent fail loudly instead of sharing it; remote clients are rejected by the pipe itself.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

from agent.control.protocol import Peer

PIPE_PREFIX = "\\\\.\\pipe\\mamori-agent-"
# Win32 ABI values (winbase.h / winnt.h): fixed, so the module needs no pywin32 until it talks to Windows.
PIPE_ACCESS_DUPLEX = 0x3
FILE_FLAG_FIRST_PIPE_INSTANCE = 0x00080000
PIPE_TYPE_BYTE = PIPE_READMODE_BYTE = PIPE_WAIT = 0x0
PIPE_REJECT_REMOTE_CLIENTS = 0x8
PIPE_UNLIMITED_INSTANCES = 255
GENERIC_READ, GENERIC_WRITE, OPEN_EXISTING = 0x80000000, 0x40000000, 3
BUFFER_BYTES = 64 * 1024
DEFAULT_TIMEOUT_MS = 5000
ERROR_FILE_NOT_FOUND, ERROR_ACCESS_DENIED, ERROR_BROKEN_PIPE = 2, 5, 109
ERROR_PIPE_BUSY, ERROR_NO_DATA, ERROR_PIPE_NOT_CONNECTED, ERROR_PIPE_CONNECTED = 231, 232, 233, 535


class PipeApi:
    """The pywin32 modules the pipe uses (imported only on Windows)."""

    def __init__(self) -> None:
        import ntsecuritycon
        import pywintypes
        import win32file
        import win32pipe
        import win32security

        self.pipe, self.file, self.sec, self.ntsec = win32pipe, win32file, win32security, ntsecuritycon
        self.error = pywintypes.error


def address(root: Path) -> str:
    """One pipe per state folder (tests run several agents); Windows paths compare without case."""
    return PIPE_PREFIX + hashlib.sha256(str(root).casefold().encode("utf-8")).hexdigest()[:16]


def os_error(exc: Any) -> OSError:
    """A pywintypes.error as the OSError the platform-neutral client expects."""
    code, text = getattr(exc, "winerror", 0), f"{getattr(exc, 'funcname', '')}: {getattr(exc, 'strerror', exc)}"
    if code == ERROR_FILE_NOT_FOUND:
        return FileNotFoundError(code, text)
    if code == ERROR_ACCESS_DENIED:
        return PermissionError(code, text)
    if code in (ERROR_BROKEN_PIPE, ERROR_NO_DATA, ERROR_PIPE_NOT_CONNECTED):
        return BrokenPipeError(code, text)
    return OSError(code, text)


def pipe_security(api: Any) -> Any:
    """SECURITY_ATTRIBUTES for the pipe: owner Administrators, a DACL of SYSTEM and Administrators only."""
    sec, ntsec = api.sec, api.ntsec
    system = sec.CreateWellKnownSid(sec.WinLocalSystemSid, None)
    admins = sec.CreateWellKnownSid(sec.WinBuiltinAdministratorsSid, None)
    dacl = sec.ACL()
    for sid in (system, admins):  # no Everyone, no Users, no inherited ACEs: nobody else may even open it
        dacl.AddAccessAllowedAce(sec.ACL_REVISION, ntsec.FILE_ALL_ACCESS, sid)
    descriptor = sec.SECURITY_DESCRIPTOR()
    descriptor.SetSecurityDescriptorOwner(admins, False)
    descriptor.SetSecurityDescriptorDacl(1, dacl, 0)
    attributes = sec.SECURITY_ATTRIBUTES()
    attributes.SECURITY_DESCRIPTOR = descriptor
    attributes.bInheritHandle = 0
    return attributes


class PipeStream:
    def __init__(self, api: Any, handle: Any, server: bool) -> None:
        self._api, self._handle, self._server = api, handle, server

    def recv(self, size: int) -> bytes:
        try:
            _code, data = self._api.file.ReadFile(self._handle, size)
        except self._api.error as exc:
            if exc.winerror in (ERROR_BROKEN_PIPE, ERROR_PIPE_NOT_CONNECTED):
                return b""  # the other end closed: like recv() on a socket
            raise os_error(exc) from None
        return bytes(data)

    def sendall(self, data: bytes) -> None:
        try:
            self._api.file.WriteFile(self._handle, data)  # a blocking byte pipe writes all of it
        except self._api.error as exc:
            raise os_error(exc) from None

    def close(self) -> None:
        if self._handle is None:
            return
        try:
            if self._server:
                self._api.file.FlushFileBuffers(self._handle)  # the client reads the reply before we cut it
                self._api.pipe.DisconnectNamedPipe(self._handle)
        except self._api.error:
            pass
        finally:
            self._api.file.CloseHandle(self._handle)
            self._handle = None


class PipeListener:
    def __init__(self, name: str, api: Any) -> None:
        self.name, self._api = name, api
        self._security = pipe_security(api)
        self._closed = False
        self._pending = self._create(first=True)  # at once: a squatter on the name fails the agent's start

    def _create(self, first: bool = False) -> Any:
        mode = PIPE_ACCESS_DUPLEX | (FILE_FLAG_FIRST_PIPE_INSTANCE if first else 0)
        try:
            return self._api.pipe.CreateNamedPipe(
                self.name,
                mode,
                PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS,
                PIPE_UNLIMITED_INSTANCES,
                BUFFER_BYTES,
                BUFFER_BYTES,
                DEFAULT_TIMEOUT_MS,
                self._security,
            )
        except self._api.error as exc:
            raise os_error(exc) from None

    def accept(self) -> tuple[PipeStream, Peer] | None:
        handle = self._pending
        try:
            self._api.pipe.ConnectNamedPipe(handle, None)
        except self._api.error as exc:
            if exc.winerror != ERROR_PIPE_CONNECTED:  # connected between create and connect: that is fine
                self._api.file.CloseHandle(handle)
                self._pending = None if self._closed else self._create()
                raise os_error(exc) from None
        if self._closed:  # close() woke us with a connection of its own
            self._api.file.CloseHandle(handle)
            return None
        self._pending = self._create()  # the next client finds an instance while this one is answered
        pid = self._api.pipe.GetNamedPipeClientProcessId(handle)
        return PipeStream(self._api, handle, server=True), Peer(True, f"pid {pid}")  # the DACL let it in

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:  # ConnectNamedPipe blocks: one connection of our own lets the accepting thread see closed
            self._api.file.CloseHandle(
                self._api.file.CreateFile(self.name, GENERIC_READ | GENERIC_WRITE, 0, None, OPEN_EXISTING, 0, None)
            )
        except self._api.error:
            pass


def listen(root: Path, api: Any = None) -> PipeListener:
    return PipeListener(address(root), api or PipeApi())


def connect(root: Path, timeout: float, api: Any = None) -> tuple[PipeStream, Peer]:
    """FileNotFoundError: no agent listens; PermissionError: not SYSTEM or an administrator."""
    api = api or PipeApi()
    name = address(root)
    deadline = time.monotonic() + timeout
    while True:
        try:
            handle = api.file.CreateFile(name, GENERIC_READ | GENERIC_WRITE, 0, None, OPEN_EXISTING, 0, None)
            break
        except api.error as exc:
            left = deadline - time.monotonic()
            if exc.winerror != ERROR_PIPE_BUSY or left <= 0:  # busy: every instance is answering someone
                raise os_error(exc) from None
            try:
                api.pipe.WaitNamedPipe(name, max(1, int(left * 1000)))
            except api.error:
                pass
    return PipeStream(api, handle, server=False), Peer(True, "the agent's pipe")
