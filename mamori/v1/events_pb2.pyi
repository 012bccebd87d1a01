import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Severity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SEVERITY_UNSPECIFIED: _ClassVar[Severity]
    SEVERITY_INFO: _ClassVar[Severity]
    SEVERITY_LOW: _ClassVar[Severity]
    SEVERITY_MEDIUM: _ClassVar[Severity]
    SEVERITY_HIGH: _ClassVar[Severity]
    SEVERITY_CRITICAL: _ClassVar[Severity]

class EventKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EVENT_KIND_UNSPECIFIED: _ClassVar[EventKind]
    EVENT_KIND_AGENT_STARTED: _ClassVar[EventKind]
    EVENT_KIND_AGENT_STOPPED: _ClassVar[EventKind]
    EVENT_KIND_AGENT_ENROLLED: _ClassVar[EventKind]
    EVENT_KIND_AGENT_TAMPER: _ClassVar[EventKind]
    EVENT_KIND_POLICY_APPLIED: _ClassVar[EventKind]
    EVENT_KIND_POLICY_REJECTED: _ClassVar[EventKind]
    EVENT_KIND_SPOOL_OVERFLOW: _ClassVar[EventKind]
    EVENT_KIND_SPOOL_CORRUPT: _ClassVar[EventKind]
    EVENT_KIND_USB_ATTACHED: _ClassVar[EventKind]
    EVENT_KIND_USB_BLOCKED: _ClassVar[EventKind]
    EVENT_KIND_USB_ALLOWED: _ClassVar[EventKind]
    EVENT_KIND_MEDIA_WRITE: _ClassVar[EventKind]
    EVENT_KIND_CHECK_RESULT: _ClassVar[EventKind]
    EVENT_KIND_SEQUENCE_GAP: _ClassVar[EventKind]
    EVENT_KIND_BATCH_REFUSED: _ClassVar[EventKind]
SEVERITY_UNSPECIFIED: Severity
SEVERITY_INFO: Severity
SEVERITY_LOW: Severity
SEVERITY_MEDIUM: Severity
SEVERITY_HIGH: Severity
SEVERITY_CRITICAL: Severity
EVENT_KIND_UNSPECIFIED: EventKind
EVENT_KIND_AGENT_STARTED: EventKind
EVENT_KIND_AGENT_STOPPED: EventKind
EVENT_KIND_AGENT_ENROLLED: EventKind
EVENT_KIND_AGENT_TAMPER: EventKind
EVENT_KIND_POLICY_APPLIED: EventKind
EVENT_KIND_POLICY_REJECTED: EventKind
EVENT_KIND_SPOOL_OVERFLOW: EventKind
EVENT_KIND_SPOOL_CORRUPT: EventKind
EVENT_KIND_USB_ATTACHED: EventKind
EVENT_KIND_USB_BLOCKED: EventKind
EVENT_KIND_USB_ALLOWED: EventKind
EVENT_KIND_MEDIA_WRITE: EventKind
EVENT_KIND_CHECK_RESULT: EventKind
EVENT_KIND_SEQUENCE_GAP: EventKind
EVENT_KIND_BATCH_REFUSED: EventKind

class AgentStarted(_message.Message):
    __slots__ = ("agent_version", "hostname", "os", "os_version", "pid", "previous_exit")
    AGENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    HOSTNAME_FIELD_NUMBER: _ClassVar[int]
    OS_FIELD_NUMBER: _ClassVar[int]
    OS_VERSION_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_EXIT_FIELD_NUMBER: _ClassVar[int]
    agent_version: str
    hostname: str
    os: str
    os_version: str
    pid: int
    previous_exit: str
    def __init__(self, agent_version: _Optional[str] = ..., hostname: _Optional[str] = ..., os: _Optional[str] = ..., os_version: _Optional[str] = ..., pid: _Optional[int] = ..., previous_exit: _Optional[str] = ...) -> None: ...

class AgentStopped(_message.Message):
    __slots__ = ("reason", "spool_depth")
    REASON_FIELD_NUMBER: _ClassVar[int]
    SPOOL_DEPTH_FIELD_NUMBER: _ClassVar[int]
    reason: str
    spool_depth: int
    def __init__(self, reason: _Optional[str] = ..., spool_depth: _Optional[int] = ...) -> None: ...

class AgentEnrolled(_message.Message):
    __slots__ = ("agent_id", "segment", "department", "collector", "certificate_sha256")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    DEPARTMENT_FIELD_NUMBER: _ClassVar[int]
    COLLECTOR_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_SHA256_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    segment: str
    department: str
    collector: str
    certificate_sha256: str
    def __init__(self, agent_id: _Optional[str] = ..., segment: _Optional[str] = ..., department: _Optional[str] = ..., collector: _Optional[str] = ..., certificate_sha256: _Optional[str] = ...) -> None: ...

class AgentTamper(_message.Message):
    __slots__ = ("what", "detail")
    WHAT_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    what: str
    detail: str
    def __init__(self, what: _Optional[str] = ..., detail: _Optional[str] = ...) -> None: ...

class PolicyApplied(_message.Message):
    __slots__ = ("version", "segment", "sha256", "mode")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    version: str
    segment: str
    sha256: str
    mode: str
    def __init__(self, version: _Optional[str] = ..., segment: _Optional[str] = ..., sha256: _Optional[str] = ..., mode: _Optional[str] = ...) -> None: ...

class PolicyRejected(_message.Message):
    __slots__ = ("version", "reason")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    version: str
    reason: str
    def __init__(self, version: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class SpoolOverflow(_message.Message):
    __slots__ = ("dropped", "capacity", "max_dropped_severity", "first_seq", "last_seq", "reason", "first_lost_at", "last_lost_at")
    DROPPED_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_FIELD_NUMBER: _ClassVar[int]
    MAX_DROPPED_SEVERITY_FIELD_NUMBER: _ClassVar[int]
    FIRST_SEQ_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    FIRST_LOST_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_LOST_AT_FIELD_NUMBER: _ClassVar[int]
    dropped: int
    capacity: int
    max_dropped_severity: Severity
    first_seq: int
    last_seq: int
    reason: str
    first_lost_at: str
    last_lost_at: str
    def __init__(self, dropped: _Optional[int] = ..., capacity: _Optional[int] = ..., max_dropped_severity: _Optional[_Union[Severity, str]] = ..., first_seq: _Optional[int] = ..., last_seq: _Optional[int] = ..., reason: _Optional[str] = ..., first_lost_at: _Optional[str] = ..., last_lost_at: _Optional[str] = ...) -> None: ...

class SpoolCorrupt(_message.Message):
    __slots__ = ("kept_as", "error")
    KEPT_AS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    kept_as: str
    error: str
    def __init__(self, kept_as: _Optional[str] = ..., error: _Optional[str] = ...) -> None: ...

class UsbDevice(_message.Message):
    __slots__ = ("vendor_id", "product_id", "vendor_name", "product_name", "serial", "interface_classes", "port", "decided_by", "mode", "rule")
    VENDOR_ID_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_ID_FIELD_NUMBER: _ClassVar[int]
    VENDOR_NAME_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_NAME_FIELD_NUMBER: _ClassVar[int]
    SERIAL_FIELD_NUMBER: _ClassVar[int]
    INTERFACE_CLASSES_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    DECIDED_BY_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    vendor_id: str
    product_id: str
    vendor_name: str
    product_name: str
    serial: str
    interface_classes: _containers.RepeatedScalarFieldContainer[str]
    port: str
    decided_by: str
    mode: str
    rule: str
    def __init__(self, vendor_id: _Optional[str] = ..., product_id: _Optional[str] = ..., vendor_name: _Optional[str] = ..., product_name: _Optional[str] = ..., serial: _Optional[str] = ..., interface_classes: _Optional[_Iterable[str]] = ..., port: _Optional[str] = ..., decided_by: _Optional[str] = ..., mode: _Optional[str] = ..., rule: _Optional[str] = ...) -> None: ...

class MediaWrite(_message.Message):
    __slots__ = ("path", "size", "sha256", "user", "device_serial", "mount_point")
    PATH_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    DEVICE_SERIAL_FIELD_NUMBER: _ClassVar[int]
    MOUNT_POINT_FIELD_NUMBER: _ClassVar[int]
    path: str
    size: int
    sha256: str
    user: str
    device_serial: str
    mount_point: str
    def __init__(self, path: _Optional[str] = ..., size: _Optional[int] = ..., sha256: _Optional[str] = ..., user: _Optional[str] = ..., device_serial: _Optional[str] = ..., mount_point: _Optional[str] = ...) -> None: ...

class CheckResult(_message.Message):
    __slots__ = ("check_id", "status", "summary", "evidence_json", "remediation", "full_report")
    CHECK_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_JSON_FIELD_NUMBER: _ClassVar[int]
    REMEDIATION_FIELD_NUMBER: _ClassVar[int]
    FULL_REPORT_FIELD_NUMBER: _ClassVar[int]
    check_id: str
    status: str
    summary: str
    evidence_json: str
    remediation: str
    full_report: bool
    def __init__(self, check_id: _Optional[str] = ..., status: _Optional[str] = ..., summary: _Optional[str] = ..., evidence_json: _Optional[str] = ..., remediation: _Optional[str] = ..., full_report: _Optional[bool] = ...) -> None: ...

class SequenceGap(_message.Message):
    __slots__ = ("first_missing", "last_missing")
    FIRST_MISSING_FIELD_NUMBER: _ClassVar[int]
    LAST_MISSING_FIELD_NUMBER: _ClassVar[int]
    first_missing: int
    last_missing: int
    def __init__(self, first_missing: _Optional[int] = ..., last_missing: _Optional[int] = ...) -> None: ...

class BatchRefused(_message.Message):
    __slots__ = ("consecutive", "error", "first_seq", "last_seq")
    CONSECUTIVE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    FIRST_SEQ_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    consecutive: int
    error: str
    first_seq: int
    last_seq: int
    def __init__(self, consecutive: _Optional[int] = ..., error: _Optional[str] = ..., first_seq: _Optional[int] = ..., last_seq: _Optional[int] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("event_id", "seq", "occurred_at", "kind", "severity", "agent_started", "agent_stopped", "agent_enrolled", "agent_tamper", "policy_applied", "policy_rejected", "spool_overflow", "spool_corrupt", "usb", "media_write", "check_result", "sequence_gap", "batch_refused")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    AGENT_STARTED_FIELD_NUMBER: _ClassVar[int]
    AGENT_STOPPED_FIELD_NUMBER: _ClassVar[int]
    AGENT_ENROLLED_FIELD_NUMBER: _ClassVar[int]
    AGENT_TAMPER_FIELD_NUMBER: _ClassVar[int]
    POLICY_APPLIED_FIELD_NUMBER: _ClassVar[int]
    POLICY_REJECTED_FIELD_NUMBER: _ClassVar[int]
    SPOOL_OVERFLOW_FIELD_NUMBER: _ClassVar[int]
    SPOOL_CORRUPT_FIELD_NUMBER: _ClassVar[int]
    USB_FIELD_NUMBER: _ClassVar[int]
    MEDIA_WRITE_FIELD_NUMBER: _ClassVar[int]
    CHECK_RESULT_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_GAP_FIELD_NUMBER: _ClassVar[int]
    BATCH_REFUSED_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    seq: int
    occurred_at: _timestamp_pb2.Timestamp
    kind: EventKind
    severity: Severity
    agent_started: AgentStarted
    agent_stopped: AgentStopped
    agent_enrolled: AgentEnrolled
    agent_tamper: AgentTamper
    policy_applied: PolicyApplied
    policy_rejected: PolicyRejected
    spool_overflow: SpoolOverflow
    spool_corrupt: SpoolCorrupt
    usb: UsbDevice
    media_write: MediaWrite
    check_result: CheckResult
    sequence_gap: SequenceGap
    batch_refused: BatchRefused
    def __init__(self, event_id: _Optional[str] = ..., seq: _Optional[int] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., kind: _Optional[_Union[EventKind, str]] = ..., severity: _Optional[_Union[Severity, str]] = ..., agent_started: _Optional[_Union[AgentStarted, _Mapping]] = ..., agent_stopped: _Optional[_Union[AgentStopped, _Mapping]] = ..., agent_enrolled: _Optional[_Union[AgentEnrolled, _Mapping]] = ..., agent_tamper: _Optional[_Union[AgentTamper, _Mapping]] = ..., policy_applied: _Optional[_Union[PolicyApplied, _Mapping]] = ..., policy_rejected: _Optional[_Union[PolicyRejected, _Mapping]] = ..., spool_overflow: _Optional[_Union[SpoolOverflow, _Mapping]] = ..., spool_corrupt: _Optional[_Union[SpoolCorrupt, _Mapping]] = ..., usb: _Optional[_Union[UsbDevice, _Mapping]] = ..., media_write: _Optional[_Union[MediaWrite, _Mapping]] = ..., check_result: _Optional[_Union[CheckResult, _Mapping]] = ..., sequence_gap: _Optional[_Union[SequenceGap, _Mapping]] = ..., batch_refused: _Optional[_Union[BatchRefused, _Mapping]] = ...) -> None: ...
