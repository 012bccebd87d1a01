"""The Windows control pipe with pywin32 replaced by a recorder: its DACL, its flags, a request answered over it."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from agent.control import protocol
from agent.control.daemon import AgentControl
from agent.control.server import ControlServer
from agent.host.windows import control as cw
from tests.agent.host.windows.test_host import SEC, Recorder, Win32Error

STATE = Path("C:/ProgramData/Mamori")


class FakeAcl:
    def __init__(self) -> None:
        self.aces: list[tuple] = []

    def AddAccessAllowedAce(self, *args):  # noqa: N802 - pywin32's name
        self.aces.append(args)


class FakeDescriptor:
    def __init__(self) -> None:
        self.owner = self.dacl = None

    def SetSecurityDescriptorOwner(self, sid, defaulted):  # noqa: N802
        self.owner = sid

    def SetSecurityDescriptorDacl(self, present, dacl, defaulted):  # noqa: N802
        self.dacl = dacl


class FakePipeEnd:
    """The client's bytes as ReadFile returns them, and what the agent wrote back."""

    def __init__(self, incoming: bytes) -> None:
        self.incoming, self.written = incoming, b""

    def read(self, _handle, size):
        chunk, self.incoming = self.incoming[:size], self.incoming[size:]
        if not chunk:
            raise Win32Error(cw.ERROR_BROKEN_PIPE, "ReadFile", "The pipe has been ended.")
        return 0, chunk

    def write(self, _handle, data):
        self.written += bytes(data)
        return 0, len(data)


def fake_api(end: FakePipeEnd | None = None, create_file=None):
    calls: list = []
    acl = FakeAcl()
    sec = Recorder(
        calls,
        SEC,
        {
            "CreateWellKnownSid": lambda kind, _d: f"SID{kind}",
            "ACL": lambda: acl,
            "SECURITY_DESCRIPTOR": FakeDescriptor,
            "SECURITY_ATTRIBUTES": lambda: SimpleNamespace(),
        },
    )
    end = end or FakePipeEnd(b"")
    api = SimpleNamespace(
        pipe=Recorder(calls, {}, {"CreateNamedPipe": "pipe-handle", "GetNamedPipeClientProcessId": 4242}),
        file=Recorder(
            calls,
            {},
            {"ReadFile": end.read, "WriteFile": end.write, **({"CreateFile": create_file} if create_file else {})},
        ),
        sec=sec,
        ntsec=SimpleNamespace(FILE_ALL_ACCESS=0x1F01FF),
        error=Win32Error,
    )
    return api, calls, acl


def test_the_pipe_admits_system_and_administrators_only():
    api, _calls, acl = fake_api()
    attributes = cw.pipe_security(api)
    assert acl.aces == [(SEC["ACL_REVISION"], 0x1F01FF, "SID22"), (SEC["ACL_REVISION"], 0x1F01FF, "SID26")]
    assert attributes.SECURITY_DESCRIPTOR.dacl is acl and attributes.SECURITY_DESCRIPTOR.owner == "SID26"
    assert attributes.bInheritHandle == 0


def test_the_first_instance_refuses_a_squatter_and_remote_clients():
    api, calls, _acl = fake_api()
    listener = cw.listen(STATE, api)
    (create,) = [c for c in calls if c[0] == "CreateNamedPipe"]
    name, mode, pipe_mode = create[1:4]
    assert name == cw.address(STATE) and name.startswith("\\\\.\\pipe\\mamori-agent-")
    assert mode == cw.PIPE_ACCESS_DUPLEX | cw.FILE_FLAG_FIRST_PIPE_INSTANCE
    assert pipe_mode & cw.PIPE_REJECT_REMOTE_CLIENTS
    assert create[-1].SECURITY_DESCRIPTOR.dacl.aces  # created with the DACL, never open for a moment
    assert cw.address(Path("c:/programdata/mamori")) == name  # one pipe per folder, whatever the case
    assert cw.address(Path("C:/Other")) != name
    listener.accept()
    later = [c for c in calls if c[0] == "CreateNamedPipe"][1]
    assert later[2] == cw.PIPE_ACCESS_DUPLEX  # the next instances join the one the agent owns


def test_a_request_is_answered_over_the_pipe():
    request = protocol.encode(protocol.EmitRequest("check.result", 2, None))
    end = FakePipeEnd(request)
    api, calls, _acl = fake_api(end)
    listener = cw.listen(STATE, api)
    stream, peer = listener.accept()
    assert peer.allowed and peer.who == "pid 4242"
    answers = AgentControl(lambda: {}, None)  # unenrolled: no spool to record into
    server = ControlServer(listener, answers.handle)
    server.serve(stream, peer)  # what a connection thread does, on the recorded pipe
    reply = protocol.decode(end.written[4:], protocol.REPLIES)
    assert reply == protocol.ErrorReply("not_enrolled", "not enrolled: there is no spool and no collector to send to")
    names = [c[0] for c in calls]
    assert names.index("FlushFileBuffers") < names.index("DisconnectNamedPipe") < names.index("CloseHandle")


@pytest.mark.parametrize(
    "code,expected", [(cw.ERROR_FILE_NOT_FOUND, FileNotFoundError), (cw.ERROR_ACCESS_DENIED, PermissionError)]
)
def test_the_client_sees_not_running_and_refused_as_the_socket_errors(code, expected):
    def refuse(*_args):
        raise Win32Error(code, "CreateFile", "no")

    api, _calls, _acl = fake_api(create_file=refuse)
    with pytest.raises(expected):
        cw.connect(STATE, 1.0, api)


def test_a_busy_pipe_is_waited_for():
    attempts = []

    def busy_once(*_args):
        attempts.append(1)
        if len(attempts) == 1:
            raise Win32Error(cw.ERROR_PIPE_BUSY, "CreateFile", "All pipe instances are busy.")
        return "client-handle"

    api, calls, _acl = fake_api(create_file=busy_once)
    stream, _peer = cw.connect(STATE, 5.0, api)
    assert len(attempts) == 2 and any(c[0] == "WaitNamedPipe" for c in calls)
    stream.close()
    assert ("CloseHandle", "client-handle") in calls
