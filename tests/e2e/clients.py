"""Hand-made gRPC clients for tests that must present odd certificates or messages to the collector."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from collector import pki
from mamori import events
from mamori.keys import key_pem, make_csr, new_private_key, subject
from mamori.v1 import telemetry_pb2, telemetry_pb2_grpc


def self_signed(agent_id: str) -> tuple[bytes, bytes]:
    """A certificate that claims an agent identity but was signed by nobody we trust."""
    key = new_private_key()
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject(agent_id))
        .issuer_name(subject(agent_id))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier(pki.AGENT_URI_PREFIX + agent_id)]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    return key_pem(key), cert.public_bytes(serialization.Encoding.PEM)


def issued_by(
    ca_key: bytes, ca_cert: bytes, agent_id: str, not_before: datetime | None = None, days: int = 1
) -> tuple[bytes, bytes]:
    key = new_private_key()
    cert = pki.sign_agent_csr(
        ca_key, ca_cert, make_csr(key, "x"), agent_id, timedelta(days=days), not_before=not_before
    )
    return key_pem(key), cert


def channel(port: int, ca_cert: bytes, key: bytes | None = None, cert: bytes | None = None) -> grpc.Channel:
    creds = grpc.ssl_channel_credentials(root_certificates=ca_cert, private_key=key, certificate_chain=cert)
    return grpc.secure_channel(f"127.0.0.1:{port}", creds)


def stream(
    port: int,
    ca_cert: bytes,
    key: bytes | None,
    cert: bytes | None,
    messages: list[telemetry_pb2.AgentMessage],
    timeout: float = 10,
) -> list[telemetry_pb2.CollectorMessage]:
    """Send messages on a telemetry stream and collect replies until the server ends it (raises RpcError)."""
    with channel(port, ca_cert, key, cert) as ch:
        replies = telemetry_pb2_grpc.TelemetryStub(ch).Stream(iter(messages), timeout=timeout)
        return list(replies)


def batch(*raw_events: bytes, batch_id: int = 1) -> telemetry_pb2.AgentMessage:
    from mamori.v1 import events_pb2

    msg = telemetry_pb2.EventBatch(batch_id=batch_id)
    for data in raw_events:
        msg.events.append(events_pb2.Event.FromString(data))
    return telemetry_pb2.AgentMessage(batch=msg)


def event(seq: int, kind: str = "check.result", payload: dict | None = None) -> bytes:
    return events.encode(kind, payload or {"check_id": "t", "status": "pass"}, seq=seq)


def read(path: Path) -> bytes:
    return path.read_bytes()


def enroll(port: int, ca_cert: bytes, token: str, hostname: str = "pc-test", timeout: float = 10):
    """One enrollment call with chosen host facts (the agent's CLI always sends the real host name)."""
    from mamori.v1 import enrollment_pb2, enrollment_pb2_grpc

    request = enrollment_pb2.EnrollRequest(
        token=token,
        csr_pem=make_csr(new_private_key(), "pc-test"),
        host=enrollment_pb2.HostFacts(
            hostname=hostname, os="linux", os_version="12", agent_version="0.1", machine_id="m-test"
        ),
    )
    with channel(port, ca_cert) as ch:
        return enrollment_pb2_grpc.EnrollmentStub(ch).Enroll(request, timeout=timeout)


def renew(
    port: int, ca_cert: bytes, key: bytes, cert: bytes, csr_pem: bytes | None = None, timeout: float = 10
) -> tuple[bytes, bytes]:
    """One Renew call with the given credentials; returns (new key PEM, new certificate PEM)."""
    new_key = new_private_key()
    request = telemetry_pb2.RenewRequest(csr_pem=make_csr(new_key, "pc-test") if csr_pem is None else csr_pem)
    with channel(port, ca_cert, key, cert) as ch:
        reply = telemetry_pb2_grpc.TelemetryStub(ch).Renew(request, timeout=timeout)
    return key_pem(new_key), reply.certificate_pem
