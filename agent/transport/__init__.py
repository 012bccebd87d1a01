"""The agent's seam to the collector: typed stream and enrollment messages and the Transport protocol.

The gRPC implementation (grpc_transport) is the only agent code that sees grpc or protobuf; tests swap in
the in-memory collector (memory) and run the same shipper code.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Hello:
    agent_version: str
    policy_version: str
    ca_sha256: str


@dataclass(frozen=True)
class Batch:
    batch_id: int
    events: tuple[bytes, ...]  # serialized mamori.v1.Event, exactly as spooled, ascending seq


@dataclass(frozen=True)
class Heartbeat:
    spool_depth: int
    policy_version: str
    policy_mode: str
    uptime_seconds: int


@dataclass(frozen=True)
class Welcome:
    agent_id: str
    last_stored_seq: int


@dataclass(frozen=True)
class Ack:
    batch_id: int
    acked_seq: int


@dataclass(frozen=True)
class PolicyUpdate:
    version: str
    segment: str
    document: bytes


@dataclass(frozen=True)
class TrustUpdate:
    ca_bundle_pem: bytes
    renew_now: bool


@dataclass(frozen=True)
class Renewed:
    certificate_pem: bytes
    ca_chain_pem: bytes


@dataclass(frozen=True)
class EnrollHost:
    hostname: str
    os: str
    os_version: str
    agent_version: str
    machine_id: str


@dataclass(frozen=True)
class EnrollRequest:
    token: str
    csr_pem: bytes  # the key stays on the terminal; only its CSR travels
    host: EnrollHost
    previous_agent_id: str = ""


@dataclass(frozen=True)
class Enrolled:
    agent_id: str
    certificate_pem: bytes
    segment: str
    department: str
    telemetry_port: int  # 0 when the collector did not say: the enrollment port then


AgentMessage = Hello | Batch | Heartbeat
CollectorMessage = Welcome | Ack | PolicyUpdate | TrustUpdate


class StreamError(Exception):
    """The collector or the network ended the stream; code is the status name (e.g. "INVALID_ARGUMENT")."""

    def __init__(self, code: str, details: str):
        super().__init__(f"{code}: {details}")
        self.code = code
        self.details = details


class StreamBroken(Exception):
    """A write found the stream already ended; the receiving side holds the reason."""


class Unreachable(Exception):
    """No connection to the collector within the connect timeout."""


class Stream(Protocol):
    """One open telemetry stream: the agent writes, the collector answers, either side may end it."""

    async def send(self, message: AgentMessage) -> None: ...

    def receive(self) -> AsyncIterator[CollectorMessage]: ...

    async def done_writing(self) -> None: ...

    async def close(self) -> None: ...


class Transport(Protocol):
    """How the shipper reaches the collector: streams for events, and the Renew call for certificates."""

    @property
    def target(self) -> str: ...

    async def open(self, timeout: float) -> Stream: ...

    def renew(self, csr_pem: bytes, timeout: float) -> Renewed:
        """Blocking (the renewal task runs it in a thread); raises StreamError when the collector refuses."""
        ...
