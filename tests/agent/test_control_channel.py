"""The control channel with a real `mamori-agent run` on a Unix socket: status, debug emit, devices, refusals."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from agent.config import StateDir
from agent.control import protocol
from agent.control.daemon import AgentControl
from agent.control.server import ControlServer
from agent.host.linux.control import SOCKET_NAME, UnixListener
from mamori import policy as policy_doc
from tests.agent.test_devices_cli import GENERATED, _enrol
from tests.mamori.test_usbguard_compat import FIXTURES, build_sysfs

WORKTREE = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the refused peer is run as nobody, which needs root")


def _cli(state: Path, *args: str, lang: str = "en", user: str | None = None) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"PYTHONPATH": str(WORKTREE)}
    uid = pwd.getpwnam(user).pw_uid if user else None
    return subprocess.run(
        [sys.executable, "-m", "agent.cli", "--lang", lang, "--state-dir", str(state), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=WORKTREE,
        timeout=60,
        preexec_fn=(lambda: os.setuid(uid)) if uid is not None else None,  # noqa: PLW1509 - a test's own child
    )


def _wait(predicate, what: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def daemon(tmp_path):
    """An enrolled `mamori-agent run` (its collector unreachable: events stay in the spool), stopped after."""
    # Below /tmp itself, not pytest's 0700 folder: the refused user must get as far as the socket.
    top = Path(tempfile.mkdtemp(prefix="mamori-ctl-"))
    os.chmod(top, 0o755)
    state = top / "state"
    _enrol(state, "lgwan", [])
    os.chmod(state, 0o700)
    (state / "agent.toml").write_text("[checks]\nenabled = false\n")
    log = (tmp_path / "agent.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "agent.cli", "--state-dir", str(state), "run"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=os.environ | {"PYTHONPATH": str(WORKTREE)},
        cwd=WORKTREE,
    )
    _wait(lambda: (state / SOCKET_NAME).exists() or proc.poll() is not None, "the control socket")
    assert proc.poll() is None, (tmp_path / "agent.log").read_text()
    yield proc, state
    proc.terminate()
    proc.wait(30)
    log.close()
    shutil.rmtree(top)


def _status(state: Path) -> dict:
    run = _cli(state, "status", "--json")
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def _raw(state: Path, data: bytes) -> protocol.ErrorReply:
    """Send bytes as they are and read the agent's one reply frame."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(str(state / SOCKET_NAME))
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        return protocol.decode(protocol.read_frame(sock, protocol.MAX_REPLY), protocol.REPLIES)


def test_status_and_debug_emit_go_through_the_running_agent(daemon):
    proc, state = daemon
    mode = os.stat(state / SOCKET_NAME)
    assert stat.S_ISSOCK(mode.st_mode) and stat.S_IMODE(mode.st_mode) == 0o600 and mode.st_uid == 0
    before = _status(state)
    assert before["running"] is True and before["answering"] is True and before["pid"] == proc.pid
    # The run's own word: a cache written outside the agent is not trusted, whatever the file says.
    assert (before["policy_source"], before["usb_mode"]) == ("strictest", "block") and before["policy_problem"]
    emit = _cli(state, "debug", "emit", "--count", "7")
    assert emit.returncode == 0 and "Recorded 7 test events." in emit.stdout, emit.stderr
    assert _status(state)["spool_depth"] == before["spool_depth"] + 7
    refused = _cli(state, "debug", "emit", "--kind", "agent.stopped")  # nobody forges the agent's own kinds
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    assert proc.poll() is None


def test_oversized_and_garbage_requests_are_refused_and_the_agent_carries_on(daemon):
    proc, state = daemon
    too_big = _raw(state, struct.pack(">I", 2**31) + b"{")
    assert (too_big.code, too_big.detail) == ("too_large", f"message of {2**31} bytes, at most {protocol.MAX_REQUEST}")
    assert _raw(state, struct.pack(">I", 5) + b"\xff\xfe{]!").code == "bad_request"
    wrong = json.dumps({"version": 99, "type": "status", "body": {}}).encode()
    assert _raw(state, struct.pack(">I", len(wrong)) + wrong).code == "version"
    forged = json.dumps({"version": 1, "type": "emit", "body": {"kind": "check.result", "count": True}}).encode()
    assert _raw(state, struct.pack(">I", len(forged)) + forged).code == "bad_request"  # a bool is not a count
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:  # says nothing and hangs up
        sock.connect(str(state / SOCKET_NAME))
    assert proc.poll() is None and _status(state)["answering"] is True


def _as_nobody(call) -> tuple[int, str]:
    """Run call() in a forked child that has become nobody (the interpreter under /root is not nobody's to exec)."""
    nobody = pwd.getpwnam("nobody").pw_uid
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 70
        try:
            os.dup2(write, 1)
            os.dup2(write, 2)
            sys.stdout = sys.stderr = open(write, "w", encoding="utf-8", closefd=False)  # noqa: SIM115 - pytest's capture
            os.setuid(nobody)
            code = call()
        except BaseException as exc:  # noqa: BLE001 - reported to the parent as text
            print(f"child raised {type(exc).__name__}: {exc}", flush=True)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code if isinstance(code, int) else 0)
    os.close(write)
    with os.fdopen(read, encoding="utf-8", errors="replace") as pipe:
        out = pipe.read()
    _pid, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), out


def test_a_non_root_user_cannot_reach_the_agent(daemon):
    from agent import cli

    proc, state = daemon
    os.chmod(state, 0o755)  # even with the folder open to all, the socket's own mode stops nobody
    try:
        code, out = _as_nobody(lambda: cli.main(["--lang", "en", "--state-dir", str(state), "debug", "emit"]))
    finally:
        os.chmod(state, 0o700)
    assert code == 2 and out.count("\n") == 1, out
    assert out.startswith("error: permission denied on ") and "run this as root" in out
    assert proc.poll() is None


def test_the_peer_check_refuses_a_non_root_user_even_on_an_open_socket(tmp_path):
    """SO_PEERCRED is the second wall: a socket left 0666 (never by the agent) still answers nobody with a refusal."""
    from agent.control.client import ControlError, ask

    folder = Path(tempfile.mkdtemp(prefix="mamori-ctl-"))
    os.chmod(folder, 0o755)
    server = ControlServer(UnixListener(folder / SOCKET_NAME, mode=0o666), AgentControl(lambda: {}, None).handle)

    def client() -> int:
        try:
            ask(folder, protocol.StatusRequest(), 10)
        except ControlError as exc:
            print(exc.code, exc)
        return 0

    try:
        server.start()
        code, out = _as_nobody(client)
    finally:
        server.stop()
    assert code == 0 and out.startswith("refused "), out
    assert f"uid {pwd.getpwnam('nobody').pw_uid}" in out
    assert not (folder / SOCKET_NAME).exists()  # removed when the channel stops
    folder.rmdir()


def test_devices_come_from_the_running_agent_with_its_policy(tmp_path):
    """The agent's answer over a real socket, its sysfs a recorded tree; the CLI is a separate process."""
    build_sysfs(tmp_path / "root", FIXTURES / "sysfs.umockdev")
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    document = policy_doc.strictest("mynumber")
    answers = AgentControl(lambda: {"policy_source": "strictest", "document": document}, tmp_path / "root")
    server = ControlServer(UnixListener(state / SOCKET_NAME), answers.handle).start()
    try:
        _enrol(state, "lgwan", [])  # the cache allows more; the agent's strictest policy is what counts
        run = _cli(state, "devices", "--json")
    finally:
        server.stop()
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert (data["policy_source"], data["usb_mode"]) == ("strictest", "block")
    assert [d["rule"] for d in data["devices"]] == GENERATED


def test_commands_say_in_one_line_that_the_agent_is_not_running(tmp_path):
    state = tmp_path / "state"
    _enrol(state, "lgwan", [])
    emit = _cli(state, "debug", "emit", lang="ja")
    assert emit.returncode == 2 and emit.stderr.count("\n") == 1 and "動作していません" in emit.stderr
    devices = _cli(state, "devices", lang="ja")
    assert devices.returncode == 2 and devices.stderr.count("\n") == 1 and "動作していません" in devices.stderr
    status = _cli(state, "status", lang="ja")
    assert status.returncode == 0 and "停止中" in status.stdout.splitlines()[0]
    offline = _cli(state, "debug", "emit", "--offline", "--count", "2")
    assert offline.returncode == 0, offline.stderr
    assert _status(state)["spool_depth"] == 2  # read without writing: the stopped agent's spool as it is


def test_every_message_survives_the_wire_and_strangers_do_not():
    row = protocol.DeviceRow("1-1", "46f4:0001", "stick", "S", ["08:06:50"], "h", "p", "block", True, "r", "", "allow")
    for message in (
        protocol.StatusRequest(),
        protocol.EmitRequest("check.result", 3, None),
        protocol.DevicesReply("collector", "allowlist", [row]),
        protocol.StatusReply(
            1,
            "0.1",
            True,
            False,
            False,
            "",
            "",
            None,
            "disk full",
            2,
            protocol.PolicyInForce("v1", "collector", "", False, "block"),
        ),
        protocol.ErrorReply("refused", "uid 65534"),
    ):
        frame = protocol.encode(message)
        assert struct.unpack(">I", frame[:4])[0] == len(frame) - 4
        table = protocol.REQUESTS if type(message) in protocol.REQUESTS.values() else protocol.REPLIES
        assert protocol.decode(frame[4:], table) == message
    for body in ({"kind": "x", "count": 1, "extra": 1}, {"kind": 1, "count": 1}, {"count": 1}):
        data = json.dumps({"version": 1, "type": "emit", "body": body}).encode()
        with pytest.raises(protocol.ProtocolError):
            protocol.decode(data, protocol.REQUESTS)
    reply = json.dumps({"version": 1, "type": "status", "body": {}}).encode()
    with pytest.raises(protocol.ProtocolError):  # a reply type is no request
        protocol.decode(reply, {"emit": protocol.EmitRequest})


def test_a_stale_socket_of_a_dead_run_is_replaced(tmp_path):
    state = StateDir(tmp_path / "state")
    state.root.mkdir()
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(state.root / SOCKET_NAME))
    stale.close()  # the file stays, nobody listens: what kill -9 leaves
    listener = UnixListener(state.root / SOCKET_NAME)
    try:
        assert stat.S_IMODE(os.stat(state.root / SOCKET_NAME).st_mode) == 0o600
    finally:
        listener.close()
