from mamori.v1 import events_pb2 as _events_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Hello(_message.Message):
    __slots__ = ("agent_version", "policy_version", "next_seq", "ca_sha256")
    AGENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    POLICY_VERSION_FIELD_NUMBER: _ClassVar[int]
    NEXT_SEQ_FIELD_NUMBER: _ClassVar[int]
    CA_SHA256_FIELD_NUMBER: _ClassVar[int]
    agent_version: str
    policy_version: str
    next_seq: int
    ca_sha256: str
    def __init__(self, agent_version: _Optional[str] = ..., policy_version: _Optional[str] = ..., next_seq: _Optional[int] = ..., ca_sha256: _Optional[str] = ...) -> None: ...

class EventBatch(_message.Message):
    __slots__ = ("batch_id", "events")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    batch_id: int
    events: _containers.RepeatedCompositeFieldContainer[_events_pb2.Event]
    def __init__(self, batch_id: _Optional[int] = ..., events: _Optional[_Iterable[_Union[_events_pb2.Event, _Mapping]]] = ...) -> None: ...

class Heartbeat(_message.Message):
    __slots__ = ("spool_depth", "policy_version", "policy_mode", "uptime_seconds")
    SPOOL_DEPTH_FIELD_NUMBER: _ClassVar[int]
    POLICY_VERSION_FIELD_NUMBER: _ClassVar[int]
    POLICY_MODE_FIELD_NUMBER: _ClassVar[int]
    UPTIME_SECONDS_FIELD_NUMBER: _ClassVar[int]
    spool_depth: int
    policy_version: str
    policy_mode: str
    uptime_seconds: int
    def __init__(self, spool_depth: _Optional[int] = ..., policy_version: _Optional[str] = ..., policy_mode: _Optional[str] = ..., uptime_seconds: _Optional[int] = ...) -> None: ...

class AgentMessage(_message.Message):
    __slots__ = ("hello", "batch", "heartbeat")
    HELLO_FIELD_NUMBER: _ClassVar[int]
    BATCH_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    hello: Hello
    batch: EventBatch
    heartbeat: Heartbeat
    def __init__(self, hello: _Optional[_Union[Hello, _Mapping]] = ..., batch: _Optional[_Union[EventBatch, _Mapping]] = ..., heartbeat: _Optional[_Union[Heartbeat, _Mapping]] = ...) -> None: ...

class Welcome(_message.Message):
    __slots__ = ("agent_id", "last_stored_seq")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_STORED_SEQ_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    last_stored_seq: int
    def __init__(self, agent_id: _Optional[str] = ..., last_stored_seq: _Optional[int] = ...) -> None: ...

class Ack(_message.Message):
    __slots__ = ("batch_id", "acked_seq")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    ACKED_SEQ_FIELD_NUMBER: _ClassVar[int]
    batch_id: int
    acked_seq: int
    def __init__(self, batch_id: _Optional[int] = ..., acked_seq: _Optional[int] = ...) -> None: ...

class PolicyUpdate(_message.Message):
    __slots__ = ("version", "segment", "document")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    version: str
    segment: str
    document: bytes
    def __init__(self, version: _Optional[str] = ..., segment: _Optional[str] = ..., document: _Optional[bytes] = ...) -> None: ...

class TrustUpdate(_message.Message):
    __slots__ = ("ca_bundle_pem", "renew_now")
    CA_BUNDLE_PEM_FIELD_NUMBER: _ClassVar[int]
    RENEW_NOW_FIELD_NUMBER: _ClassVar[int]
    ca_bundle_pem: bytes
    renew_now: bool
    def __init__(self, ca_bundle_pem: _Optional[bytes] = ..., renew_now: _Optional[bool] = ...) -> None: ...

class CollectorMessage(_message.Message):
    __slots__ = ("welcome", "ack", "policy", "trust")
    WELCOME_FIELD_NUMBER: _ClassVar[int]
    ACK_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    TRUST_FIELD_NUMBER: _ClassVar[int]
    welcome: Welcome
    ack: Ack
    policy: PolicyUpdate
    trust: TrustUpdate
    def __init__(self, welcome: _Optional[_Union[Welcome, _Mapping]] = ..., ack: _Optional[_Union[Ack, _Mapping]] = ..., policy: _Optional[_Union[PolicyUpdate, _Mapping]] = ..., trust: _Optional[_Union[TrustUpdate, _Mapping]] = ...) -> None: ...

class RenewRequest(_message.Message):
    __slots__ = ("csr_pem",)
    CSR_PEM_FIELD_NUMBER: _ClassVar[int]
    csr_pem: bytes
    def __init__(self, csr_pem: _Optional[bytes] = ...) -> None: ...

class RenewResponse(_message.Message):
    __slots__ = ("certificate_pem", "ca_chain_pem")
    CERTIFICATE_PEM_FIELD_NUMBER: _ClassVar[int]
    CA_CHAIN_PEM_FIELD_NUMBER: _ClassVar[int]
    certificate_pem: bytes
    ca_chain_pem: bytes
    def __init__(self, certificate_pem: _Optional[bytes] = ..., ca_chain_pem: _Optional[bytes] = ...) -> None: ...
