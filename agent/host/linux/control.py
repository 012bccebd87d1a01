"""The control channel on Linux: a Unix socket in the state folder, mode 0600, each peer checked by SO_PEERCRED.

Only root and the agent's own user may talk to it: the file mode stops others at connect(), and the
kernel's word on the peer (SO_PEERCRED) stops them again should the mode ever be widened.
"""

from __future__ import annotations

import os
import socket
import struct
from pathlib import Path

from agent.control.protocol import Peer

SOCKET_NAME = "control.sock"
MAX_PATH = 107  # sun_path holds 108 bytes with the terminating NUL
TIMEOUT_SECONDS = 5.0  # a connection that sends nothing for this long is dropped
_UCRED = struct.Struct("3i")  # pid, uid, gid


def address(root: Path) -> Path:
    return root / SOCKET_NAME


def allowed_uid(uid: int) -> bool:
    return uid == 0 or uid == os.geteuid()


def _peer(sock: socket.socket) -> Peer:
    pid, uid, _gid = _UCRED.unpack(sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size))
    return Peer(allowed_uid(uid), f"uid {uid} (pid {pid})")


class UnixListener:
    """Bound under a temporary name, chmod-ed, then renamed into place: never reachable with a wider mode."""

    def __init__(self, path: Path, mode: int = 0o600) -> None:
        temp = path.with_name(f".{path.name}.{os.getpid()}")
        if len(os.fsencode(temp)) > MAX_PATH:
            raise OSError(f"the control socket path {path} is too long for a Unix socket ({MAX_PATH} bytes)")
        self.path = path
        temp.unlink(missing_ok=True)
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._sock.bind(str(temp))
            os.chmod(temp, mode)
            # A socket a dead run left is replaced: the caller holds the run lock, so no live agent owns it.
            os.replace(temp, path)
            self._sock.listen(16)
        except BaseException:
            self._sock.close()
            temp.unlink(missing_ok=True)
            raise
        self._sock.settimeout(0.5)
        self._inode = os.stat(path).st_ino

    def accept(self) -> tuple[socket.socket, Peer] | None:
        try:
            conn, _addr = self._sock.accept()
        except TimeoutError:
            return None
        conn.settimeout(TIMEOUT_SECONDS)
        return conn, _peer(conn)

    def close(self) -> None:
        self._sock.close()
        try:
            if os.stat(self.path).st_ino == self._inode:  # a newer run's socket stays
                self.path.unlink()
        except OSError:
            pass


def listen(root: Path) -> UnixListener:
    return UnixListener(address(root))


def connect(root: Path, timeout: float) -> tuple[socket.socket, Peer]:
    """FileNotFoundError / ConnectionRefusedError: no agent listens; PermissionError: not root."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(str(address(root)))
        return sock, _peer(sock)
    except BaseException:
        sock.close()
        raise
