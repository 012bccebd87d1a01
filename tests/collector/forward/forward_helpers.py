"""Helpers of the forwarding tests: an octet-counted TCP syslog listener and an RFC 5424 parser."""

from __future__ import annotations

import socket
import threading
import time
from datetime import UTC, datetime

T0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)


class SyslogListener:
    """A TCP syslog receiver written for the test: reads RFC 6587 octet-counted frames into `messages`."""

    def __init__(self, port: int = 0, tls=None):
        self.tls = tls  # an ssl.SSLContext for a tls:// receiver (RFC 5425), None for plain TCP
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self.messages: list[bytes] = []
        self.connections = 0
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _handshake(self, conn: socket.socket) -> socket.socket | None:
        try:
            return self.tls.wrap_socket(conn, server_side=True)
        except OSError:  # the sender refused our certificate
            conn.close()
            return None

    def _read(self, conn: socket.socket) -> None:
        if self.tls is not None and (conn := self._handshake(conn)) is None:
            return
        buf = b""
        with conn:
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                buf += chunk
                while b" " in buf:
                    length, _, rest = buf.partition(b" ")
                    assert length.isdigit(), f"not an octet count: {length[:20]!r}"
                    if len(rest) < int(length):
                        break
                    self.messages.append(rest[: int(length)])
                    buf = rest[int(length) :]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[bytes]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return list(self.messages)

    def close(self) -> None:
        self._stop = True
        self.sock.close()


def parse_5424(msg: bytes) -> dict:
    """HEADER, one SD-ELEMENT (with RFC 5424 §6.3.3 escapes undone) and MSG of a syslog message."""
    head = msg.split(b" ", 6)
    pri, version = head[0][1:].split(b">")
    rest = head[6].decode()
    assert rest.startswith("["), rest
    i, sd_id = 1, ""
    while rest[i] not in " ]":
        sd_id += rest[i]
        i += 1
    params: dict[str, str] = {}
    while rest[i] == " ":
        i += 1
        name = ""
        while rest[i] != "=":
            name += rest[i]
            i += 1
        assert rest[i + 1] == '"'
        i, value = i + 2, ""
        while rest[i] != '"':
            if rest[i] == "\\" and rest[i + 1] in '"\\]':
                i += 1
            else:
                assert rest[i] != "]", "unescaped ] inside a PARAM-VALUE"
            value += rest[i]
            i += 1
        params[name] = value
        i += 1
    assert rest[i] == "]"
    body = rest[i + 1 :]
    assert body.startswith(" ")
    return {
        "pri": int(pri),
        "version": version.decode(),
        "timestamp": head[1].decode(),
        "host": head[2].decode(),
        "app": head[3].decode(),
        "procid": head[4].decode(),
        "msgid": head[5].decode(),
        "sd_id": sd_id,
        "params": params,
        "msg": body[1:],
    }
