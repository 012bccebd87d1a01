"""Syslog out: RFC 5424 messages (JSON or CEF body), octet-counted over TCP/TLS (RFC 6587/5425), UDP datagrams.

What TCP proves: sendall() returning means the kernel took the bytes, not that the receiver stored them. The
sender removes records only after a whole batch was written and the connection still looks good (no reset, no
close from the receiver); a receiver that dies after that loses what it had not written, as with any plain
syslog. Plain syslog has no application acknowledgement (RELP would); delivery is at least once: a batch cut
by a broken connection is sent again in full.
"""

from __future__ import annotations

import json
import os
import re
import select
import socket
import ssl
from datetime import datetime

from collector.forward.outbox import EventRecord, ViolationRecord
from collector.forward.settings import ForwardSettings, SyslogTarget
from mamori import __version__
from mamori.safetext import safe

APP_NAME = "mamori-collector"
# SD-ID with an enterprise number: 32473 is the one RFC 5612 sets aside for examples and documentation.
SD_ID = "mamori@32473"
SYSLOG_SEVERITY = {"critical": 2, "high": 3, "medium": 4, "low": 5, "info": 6}
CEF_SEVERITY = {"critical": 10, "high": 8, "medium": 5, "low": 3, "info": 1}
BOM = "\ufeff".encode()
MAX_UDP = 60_000
# Characters JSON may carry raw that still break a line in a log file or on screen: written as \u escapes.
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


class SendError(Exception):
    """The receiver could not be reached or dropped the connection; the one-line reason is the message."""


def _ascii_field(value: str, limit: int) -> str:
    """A header field: PRINTUSASCII only (RFC 5424 §6), '-' (NILVALUE) when empty."""
    text = "".join(c for c in value if 33 <= ord(c) <= 126)[:limit]
    return text or "-"


def sd_escape(value: object) -> str:
    """An SD-PARAM value: control characters made visible, then '"', '\\' and ']' escaped (RFC 5424 §6.3.3)."""
    text = safe(value, limit=None)
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def _timestamp(iso: str) -> str:
    at = datetime.fromisoformat(iso)
    return at.strftime("%Y-%m-%dT%H:%M:%S.%f") + (
        at.strftime("%z")[:3] + ":" + at.strftime("%z")[3:] if at.utcoffset() else "Z"
    )


def _params(record: ViolationRecord | EventRecord) -> list[tuple[str, object]]:
    if isinstance(record, ViolationRecord):
        return [
            ("violation", record.violation_id),
            ("change", record.change),
            ("rule", record.rule_id),
            ("severity", record.severity),
            ("segment", record.segment),
            ("department", record.department),
            ("terminal", record.terminal),
            ("agent", record.agent_id),
        ]
    return [
        ("event", record.event_id),
        ("kind", record.kind),
        ("severity", record.severity),
        ("segment", record.segment),
        ("department", record.department),
        ("terminal", record.terminal),
        ("agent", record.agent_id),
    ]


def json_body(record: ViolationRecord | EventRecord) -> str:
    data = {k: v for k, v in _asdict(record).items() if k != "detail_message"}
    text = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _asdict(record: ViolationRecord | EventRecord) -> dict[str, object]:
    return {name: getattr(record, name) for name in record.__dataclass_fields__}


def cef_header(value: object) -> str:
    return safe(value, limit=None).replace("\\", "\\\\").replace("|", "\\|")


def cef_ext(value: object) -> str:
    # Newlines first as CEF's own \n / \r, then every other control character made visible.
    text = (value if isinstance(value, str) else str(value)).replace("\\", "\\\\").replace("=", "\\=")
    return safe(text.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\r"), limit=None)


def cef_body(record: ViolationRecord | EventRecord) -> str:
    millis = int(datetime.fromisoformat(record.at).timestamp() * 1000)
    if isinstance(record, ViolationRecord):
        from collector.rules import RULES

        rule = RULES.get(record.rule_id)
        signature, name = record.rule_id, rule.title("en") if rule else record.rule_id
        ext = [("rt", millis), ("act", record.change), ("externalId", record.violation_id), ("msg", record.detail)]
    else:
        signature, name = record.kind, record.kind
        ext = [
            ("rt", millis),
            ("externalId", record.event_id),
            ("msg", json.dumps(record.payload, ensure_ascii=False, sort_keys=True)),
        ]
    ext += [
        ("dhost", record.terminal),
        ("cs1Label", "segment"),
        ("cs1", record.segment),
        ("cs2Label", "department"),
        ("cs2", record.department),
        ("cs3Label", "agentId"),
        ("cs3", record.agent_id),
    ]
    header = "|".join(cef_header(x) for x in ("Mamori", APP_NAME, __version__, signature, name))
    return f"CEF:0|{header}|{CEF_SEVERITY.get(record.severity, 5)}|" + " ".join(f"{k}={cef_ext(v)}" for k, v in ext)


def message(record: ViolationRecord | EventRecord, settings: ForwardSettings, hostname: str | None = None) -> bytes:
    """One RFC 5424 message (without framing)."""
    pri = settings.facility * 8 + SYSLOG_SEVERITY.get(record.severity, 5)
    msgid = f"violation.{record.change}" if isinstance(record, ViolationRecord) else "event"
    sd = "[" + SD_ID + "".join(f' {k}="{sd_escape(v)}"' for k, v in _params(record)) + "]"
    head = (
        f"<{pri}>1 {_timestamp(record.at)} {_ascii_field(hostname or socket.gethostname(), 255)} "
        f"{APP_NAME} {os.getpid()} {msgid} {sd} "
    )
    body = json_body(record) if settings.format == "json" else cef_body(record)
    return head.encode() + BOM + body.encode()


def frame(msg: bytes) -> bytes:
    """Octet counting (RFC 6587 §3.4.1, RFC 5425 §4.3): the length, a space, the message."""
    return str(len(msg)).encode() + b" " + msg


class Connection:
    """One connection to the receiver, kept between passes and opened again after a failure."""

    def __init__(self, target: SyslogTarget, timeout: float = 10.0):
        self.target, self.timeout = target, timeout
        self._sock: socket.socket | None = None

    def _open(self) -> socket.socket:
        t = self.target
        kind = socket.SOCK_DGRAM if t.scheme == "udp" else socket.SOCK_STREAM
        try:
            if t.scheme == "udp":
                family, _, _, _, addr = socket.getaddrinfo(t.host, t.port, type=kind)[0]
                sock = socket.socket(family, kind)
                sock.connect(addr)
                return sock
            sock = socket.create_connection((t.host, t.port), timeout=self.timeout)
            if t.scheme == "tls":
                context = ssl.create_default_context(cafile=t.ca_file or None)
                sock = context.wrap_socket(sock, server_hostname=t.host)
            return sock
        except (OSError, ssl.SSLError) as exc:
            raise SendError(f"cannot connect to {t.label}: {exc.strerror or exc}") from None

    def send(self, messages: list[bytes]) -> None:
        """Write every message; SendError (and the connection closed) when they cannot all be written."""
        if self._sock is not None and self.target.scheme != "udp":
            try:
                self._check_alive()  # a receiver restarted since the last pass closed the kept connection
            except OSError:
                self.close()
        if self._sock is None:
            self._sock = self._open()
        try:
            if self.target.scheme == "udp":
                for msg in messages:
                    self._sock.send(msg[:MAX_UDP])
                return
            self._sock.sendall(b"".join(frame(m) for m in messages))
            self._check_alive()
        except (OSError, ssl.SSLError) as exc:
            self.close()
            raise SendError(f"{self.target.label}: {exc.strerror or exc}") from None

    def _check_alive(self) -> None:
        # A syslog receiver never writes back: readable means it closed (EOF) or reset the connection; over TLS
        # it may also be protocol records alone (TLS 1.3 session tickets), which a non-blocking read consumes.
        sock = self._sock
        assert sock is not None
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable:
            return
        sock.setblocking(False)
        try:
            data = sock.recv(1) if isinstance(sock, ssl.SSLSocket) else sock.recv(1, socket.MSG_PEEK)
        except (ssl.SSLWantReadError, BlockingIOError):
            return
        except (OSError, ssl.SSLError) as exc:
            raise OSError(exc.errno, f"connection lost: {exc}") from None
        finally:
            sock.settimeout(self.timeout)
        if not data:
            raise OSError(0, "the receiver closed the connection")

    def close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None
