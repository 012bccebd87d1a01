"""The control channel's messages: versioned, length-prefixed JSON frames of typed dataclasses, bounded in size.

One request and one reply per connection. A frame is a 4-byte big-endian length and that many bytes of UTF-8
JSON {"version": 1, "type": NAME, "body": {...}}; the body must hold exactly the dataclass's fields.
"""

from __future__ import annotations

import dataclasses
import json
import struct
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Protocol

VERSION = 1
MAX_REQUEST = 64 * 1024  # a request names a command and a few arguments: anything bigger is not ours
MAX_REPLY = 8 * 1024 * 1024  # a devices listing of a full hub tree stays far below this
MAX_EMIT = 100_000  # test events per `debug emit`: the spool's default capacity
HEADER = struct.Struct(">I")


class ProtocolError(Exception):
    """A frame or message that breaks the protocol; code names the kind for the other side's message."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code, self.detail = code, detail


class Stream(Protocol):
    """One connection, whatever carries it (a Unix socket, a Windows named pipe)."""

    def recv(self, size: int) -> bytes: ...

    def sendall(self, data: bytes) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Peer:
    """Who is on the other end, as the OS vouches for it; allowed is the transport's verdict."""

    allowed: bool
    who: str  # "uid 0 (pid 123)", "pid 456": for the log and the refusal


@dataclass(frozen=True)
class StatusRequest:
    pass


@dataclass(frozen=True)
class EmitRequest:
    kind: str
    count: int
    severity: str | None = None


@dataclass(frozen=True)
class DevicesRequest:
    pass


@dataclass(frozen=True)
class PolicyInForce:
    policy_version: str
    policy_source: str
    policy_problem: str
    policy_cache_rejected: bool
    usb_mode: str


@dataclass(frozen=True)
class StatusReply:
    pid: int
    version: str
    enrolled: bool
    connected: bool
    refused: bool
    last_error: str
    last_connected_at: str
    spool_depth: int | None  # None: the spool cannot be opened (full disk); spool_problem says why
    spool_problem: str
    events_not_recorded: int
    policy: PolicyInForce


@dataclass(frozen=True)
class EmitReply:
    recorded: int


@dataclass(frozen=True)
class DeviceRow:
    port: str
    id: str
    name: str
    serial: str
    interfaces: list[str]
    hash: str
    parent_hash: str
    storage: str
    device_allowed: bool
    decided_by: str
    matching_rule: str
    rule: str


@dataclass(frozen=True)
class DevicesReply:
    policy_source: str
    usb_mode: str
    devices: list[DeviceRow] = field(default_factory=list)


@dataclass(frozen=True)
class ErrorReply:
    """code: too_large, bad_request, version, refused, not_enrolled, invalid, unsupported, internal."""

    code: str
    detail: str


Request = StatusRequest | EmitRequest | DevicesRequest
Reply = StatusReply | EmitReply | DevicesReply | ErrorReply
REQUESTS: dict[str, type] = {"status": StatusRequest, "emit": EmitRequest, "devices": DevicesRequest}
REPLIES: dict[str, type] = {"status": StatusReply, "emit": EmitReply, "devices": DevicesReply, "error": ErrorReply}
_NAMES = {cls: name for table in (REQUESTS, REPLIES) for name, cls in table.items()}


def encode(message: Any) -> bytes:
    body = json.dumps(
        {"version": VERSION, "type": _NAMES[type(message)], "body": dataclasses.asdict(message)},
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode("utf-8")
    return HEADER.pack(len(body)) + body


def _exactly(stream: Stream, size: int) -> bytes:
    chunks, got = [], 0
    while got < size:
        chunk = stream.recv(min(size - got, 65536))
        if not chunk:
            raise ProtocolError("bad_request", f"the connection ended after {got} of {size} bytes")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def read_frame(stream: Stream, limit: int) -> bytes:
    """One frame's JSON bytes; a length over limit is refused before a byte of the body is read."""
    (size,) = HEADER.unpack(_exactly(stream, HEADER.size))
    if size > limit:
        raise ProtocolError("too_large", f"message of {size} bytes, at most {limit}")
    return _exactly(stream, size)


def decode(data: bytes, table: dict[str, type]) -> Any:
    """The typed message in data, one of table's types; ProtocolError for anything else."""
    try:
        frame = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ProtocolError("bad_request", f"not JSON: {exc}") from None
    if not isinstance(frame, dict) or set(frame) != {"version", "type", "body"}:
        raise ProtocolError("bad_request", "a message is an object with version, type and body")
    if frame["version"] != VERSION:
        raise ProtocolError("version", f"protocol version {frame['version']!r}, this agent speaks {VERSION}")
    cls = table.get(frame["type"]) if isinstance(frame["type"], str) else None
    if cls is None:
        raise ProtocolError("bad_request", f"unknown message type {str(frame['type'])[:40]!r}")
    return _build(cls, frame["body"], frame["type"])


def _build(cls: type, value: Any, where: str) -> Any:
    if not isinstance(value, dict):
        raise ProtocolError("bad_request", f"{where}: expected an object")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(value) - set(fields)
    if unknown:
        raise ProtocolError("bad_request", f"{where}: unknown field {sorted(unknown)[0][:40]!r}")
    args = {}
    for name, f in fields.items():
        if name in value:
            args[name] = _convert(hints[name], value[name], f"{where}.{name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ProtocolError("bad_request", f"{where}: missing field {name!r}")
    return cls(**args)


def _convert(tp: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(tp)
        if value is None and type(None) in options:
            return None
        for option in options:
            if option is not type(None):
                try:
                    return _convert(option, value, where)
                except ProtocolError:
                    continue
        raise ProtocolError("bad_request", f"{where}: unexpected {type(value).__name__}")
    if origin is list:
        if not isinstance(value, list):
            raise ProtocolError("bad_request", f"{where}: expected a list")
        (item,) = typing.get_args(tp)
        return [_convert(item, v, f"{where}[]") for v in value]
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, where)  # type: ignore[arg-type]
    # bool is an int in Python, never in the protocol
    if tp in (int, str, bool) and type(value) is tp:
        return value
    raise ProtocolError("bad_request", f"{where}: expected {getattr(tp, '__name__', tp)}, got {type(value).__name__}")
