"""Key pairs and certificate requests, shared by the agent (its own key) and the collector (CA, server)."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def write_private(path: Path, data: bytes) -> None:
    """Write a secret file readable by its owner only, from the moment it exists."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(path, 0o600)  # O_CREAT's mode does not apply to a file that already existed


def new_private_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def subject(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Mamori"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def make_csr(key: ec.EllipticCurvePrivateKey, hostname: str) -> bytes:
    """A certificate request; its subject is a hint only, the collector decides the name."""
    csr = x509.CertificateSigningRequestBuilder().subject_name(subject(hostname or "agent")).sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM)
