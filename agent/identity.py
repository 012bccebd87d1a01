"""The agent's identity: enrollment with a token, and the certificate, key and collector it yields."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from agent.config import StateDir
from agent.fsutil import write_atomic
from agent.host import Host
from agent.transport import EnrollHost, EnrollRequest, StreamError
from mamori import __version__, clock
from mamori.keys import key_pem, make_csr, new_private_key


class EnrollmentError(Exception):
    """Enrollment failed; nothing was written. `code` is the status name (e.g. "UNAVAILABLE") when the call failed."""

    def __init__(self, message: str, code: str = ""):
        super().__init__(message)
        self.code = code


class NotEnrolled(Exception):
    """The state folder holds no complete identity."""


@dataclass(frozen=True)
class Identity:
    agent_id: str
    segment: str
    department: str
    collector_host: str
    telemetry_port: int
    enroll_port: int
    enrolled_at: str

    @property
    def telemetry_target(self) -> str:
        host = f"[{self.collector_host}]" if ":" in self.collector_host else self.collector_host
        return f"{host}:{self.telemetry_port}"


def split_host_port(address: str) -> tuple[str, int]:
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise EnrollmentError(f"invalid collector address {address!r}: use HOST:PORT")
    return host.strip("[]"), int(port)


def load_identity(state: StateDir) -> Identity:
    from agent.renewal import recover

    recover(state)  # a renewal interrupted by a crash is completed before anyone reads the pair
    try:
        data = json.loads(state.identity.read_text(encoding="utf-8"))
        identity = Identity(**data)
    except FileNotFoundError:
        raise NotEnrolled(str(state.identity)) from None
    except (ValueError, TypeError) as exc:
        raise NotEnrolled(f"{state.identity}: {exc}") from None
    for path in (state.key, state.cert, state.ca_cert):
        if not path.exists():
            raise NotEnrolled(str(path))
    return identity


def enroll(
    state: StateDir,
    host: Host,
    collector: str,
    token: str,
    ca_cert_file: Path,
    timeout: float = 30.0,
    previous_agent_id: str = "",
) -> tuple[Identity, bytes]:
    """Enroll with a collector; returns the identity and the issued certificate PEM.

    `previous_agent_id` (enroll --force) lets the collector mark this terminal's old record superseded.
    """
    host_name, port = split_host_port(collector)
    try:
        ca_pem = ca_cert_file.read_bytes()
        x509.load_pem_x509_certificate(ca_pem)
    except (OSError, ValueError) as exc:
        raise EnrollmentError(f"cannot use CA certificate {ca_cert_file}: {exc}") from None
    facts = host.facts()
    key = new_private_key()  # generated here; only the CSR leaves the terminal
    request = EnrollRequest(
        token=token.strip(),
        previous_agent_id=previous_agent_id,
        csr_pem=make_csr(key, facts.hostname),
        host=EnrollHost(
            hostname=facts.hostname,
            os=facts.os,
            os_version=facts.os_version,
            agent_version=__version__,
            machine_id=facts.machine_id,
        ),
    )
    target = f"[{host_name}]:{port}" if ":" in host_name else f"{host_name}:{port}"
    from agent.transport import grpc_transport  # grpc is loaded only by the commands that talk to a collector

    try:
        reply = grpc_transport.enroll(target, ca_pem, request, timeout)
    except StreamError as exc:
        raise EnrollmentError(str(exc), exc.code) from None
    try:
        cert = x509.load_pem_x509_certificate(reply.certificate_pem)
    except ValueError as exc:
        raise EnrollmentError(f"the collector returned an unreadable certificate: {exc}") from None
    # Compared as SubjectPublicKeyInfo: defined for every key type, unlike public_numbers().
    if _spki(cert.public_key()) != _spki(key.public_key()):
        raise EnrollmentError("the collector returned a certificate for a different key")
    identity = Identity(
        agent_id=reply.agent_id,
        segment=reply.segment,
        department=reply.department,
        collector_host=host_name,
        telemetry_port=reply.telemetry_port or port,
        enroll_port=port,
        enrolled_at=clock.now().isoformat(),
    )
    state.root.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_atomic(state.key, key_pem(key), 0o600)
    write_atomic(state.cert, reply.certificate_pem, 0o644)
    # Trust stays anchored on the CA file staff gave us, not on what the server sent back.
    write_atomic(state.ca_cert, ca_pem, 0o644)
    write_atomic(state.identity, json.dumps(asdict(identity), indent=2).encode(), 0o644)
    return identity, reply.certificate_pem


def _spki(public_key: CertificatePublicKeyTypes) -> bytes:
    return public_key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def certificate_sha256(pem: bytes) -> str:
    return x509.load_pem_x509_certificate(pem).fingerprint(hashes.SHA256()).hex()


def is_private(path: Path) -> bool:
    return os.name == "nt" or (path.stat().st_mode & 0o077) == 0
