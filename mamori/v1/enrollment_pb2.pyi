from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class HostFacts(_message.Message):
    __slots__ = ("hostname", "os", "os_version", "agent_version", "machine_id")
    HOSTNAME_FIELD_NUMBER: _ClassVar[int]
    OS_FIELD_NUMBER: _ClassVar[int]
    OS_VERSION_FIELD_NUMBER: _ClassVar[int]
    AGENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    MACHINE_ID_FIELD_NUMBER: _ClassVar[int]
    hostname: str
    os: str
    os_version: str
    agent_version: str
    machine_id: str
    def __init__(self, hostname: _Optional[str] = ..., os: _Optional[str] = ..., os_version: _Optional[str] = ..., agent_version: _Optional[str] = ..., machine_id: _Optional[str] = ...) -> None: ...

class EnrollRequest(_message.Message):
    __slots__ = ("token", "csr_pem", "host", "previous_agent_id")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    CSR_PEM_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    token: str
    csr_pem: bytes
    host: HostFacts
    previous_agent_id: str
    def __init__(self, token: _Optional[str] = ..., csr_pem: _Optional[bytes] = ..., host: _Optional[_Union[HostFacts, _Mapping]] = ..., previous_agent_id: _Optional[str] = ...) -> None: ...

class EnrollResponse(_message.Message):
    __slots__ = ("agent_id", "certificate_pem", "ca_chain_pem", "segment", "department", "telemetry_port")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_PEM_FIELD_NUMBER: _ClassVar[int]
    CA_CHAIN_PEM_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    DEPARTMENT_FIELD_NUMBER: _ClassVar[int]
    TELEMETRY_PORT_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    certificate_pem: bytes
    ca_chain_pem: bytes
    segment: str
    department: str
    telemetry_port: int
    def __init__(self, agent_id: _Optional[str] = ..., certificate_pem: _Optional[bytes] = ..., ca_chain_pem: _Optional[bytes] = ..., segment: _Optional[str] = ..., department: _Optional[str] = ..., telemetry_port: _Optional[int] = ...) -> None: ...
