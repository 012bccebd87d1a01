"""The collector's certificate authority: CA and server certificates, agent CSR signing, enrollment tokens."""

from __future__ import annotations

import hashlib
import ipaddress
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from mamori import clock
from mamori.keys import key_pem, new_private_key, subject

AGENT_URI_PREFIX = "urn:mamori:agent:"


class PKIError(ValueError):
    """A certificate request or certificate that cannot be accepted."""


@dataclass(frozen=True)
class CertIdentity:
    agent_id: str
    serial_hex: str
    sha256: str
    not_after: datetime


def _now() -> datetime:
    return clock.now()


_DURATION = re.compile(r"^\s*(\d+)\s*([dhm])\s*$")
_UNITS = {"d": timedelta(days=1), "h": timedelta(hours=1), "m": timedelta(minutes=1)}


def parse_duration(text: str) -> timedelta:
    """A lifetime written as "365d", "12h" or "3m" (minutes exist so tests can cross an expiry)."""
    found = _DURATION.match(text)
    if not found or int(found.group(1)) == 0:
        raise PKIError(f"invalid duration {text!r}: use a positive number with d, h or m, e.g. 365d")
    return int(found.group(1)) * _UNITS[found.group(2)]


def check_duration(value: str) -> str | None:
    """Config validator for duration keys."""
    try:
        parse_duration(value)
    except PKIError:
        return "must be a duration like 365d, 12h or 3m"
    return None


def _backdate(lifetime: timedelta) -> timedelta:
    # Backdated for terminals whose clock runs a little behind, but never by most of a short lifetime.
    return min(timedelta(minutes=5), lifetime / 10)


@dataclass(frozen=True)
class Horizon:
    """When a certificate stops being valid, and whether it is due for renewal."""

    serial_hex: str
    not_before: datetime
    not_after: datetime

    def remaining(self, now: datetime) -> timedelta:
        return self.not_after - now

    def expired(self, now: datetime) -> bool:
        return now >= self.not_after

    def due(self, now: datetime, fraction: float) -> bool:
        """Renew when less than `fraction` of the lifetime remains (a third by default)."""
        return self.remaining(now) < (self.not_after - self.not_before) * fraction


def horizon(cert_pem: bytes) -> Horizon:
    cert = x509.load_pem_x509_certificate(cert_pem)
    return Horizon(format(cert.serial_number, "x"), cert.not_valid_before_utc, cert.not_valid_after_utc)


def create_ca(common_name: str = "Mamori Collector CA", days: int = 3650) -> tuple[bytes, bytes]:
    """A new CA: (private key PEM, certificate PEM). It signs only end-entity certificates."""
    key = new_private_key()
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject(common_name))
        .issuer_name(subject(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key_pem(key), cert.public_bytes(serialization.Encoding.PEM)


def _load_ca(ca_key_pem: bytes, ca_cert_pem: bytes):
    key = serialization.load_pem_private_key(ca_key_pem, password=None)
    cert = x509.load_pem_x509_certificate(ca_cert_pem)
    return key, cert


def _leaf(
    ca_key_pem: bytes,
    ca_cert_pem: bytes,
    subject_cn: str,
    public_key,
    sans: list[x509.GeneralName],
    usage: x509.ObjectIdentifier,
    not_before: datetime,
    not_after: datetime,
) -> bytes:
    ca_key, ca_cert = _load_ca(ca_key_pem, ca_cert_pem)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject(subject_cn))
        .issuer_name(ca_cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()), critical=False)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def issue_server_cert(
    ca_key_pem: bytes, ca_cert_pem: bytes, hosts: list[str], lifetime: timedelta = timedelta(days=825)
):
    """(key PEM, cert PEM) for the collector, valid for every host name or IP address given."""
    if not hosts:
        raise PKIError("at least one host name is needed for the server certificate")
    sans: list[x509.GeneralName] = []
    for host in hosts:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            sans.append(x509.DNSName(host))
    key = new_private_key()
    now = _now()
    cert = _leaf(
        ca_key_pem,
        ca_cert_pem,
        hosts[0],
        key.public_key(),
        sans,
        ExtendedKeyUsageOID.SERVER_AUTH,
        now - _backdate(lifetime),
        now + lifetime,
    )
    return key_pem(key), cert


def check_csr(csr_pem: bytes) -> x509.CertificateSigningRequest:
    """Parse a CSR and refuse weak or forged ones before any token is spent."""
    try:
        csr = x509.load_pem_x509_csr(csr_pem)
    except ValueError as exc:
        raise PKIError(f"malformed certificate request: {exc}") from None
    if not csr.is_signature_valid:
        raise PKIError("certificate request signature does not verify")
    public = csr.public_key()
    if isinstance(public, ec.EllipticCurvePublicKey):
        if public.curve.key_size < 256:
            raise PKIError("elliptic-curve keys must be at least 256 bits")
    elif isinstance(public, rsa.RSAPublicKey):
        if public.key_size < 2048:
            raise PKIError("RSA keys must be at least 2048 bits")
    else:
        raise PKIError("only EC (P-256 or stronger) and RSA (2048 bits or more) keys are accepted")
    return csr


def sign_agent_csr(
    ca_key_pem: bytes,
    ca_cert_pem: bytes,
    csr_pem: bytes,
    agent_id: str,
    lifetime: timedelta = timedelta(days=365),
    not_before: datetime | None = None,
) -> bytes:
    """Certificate for an agent: its identity (CN and URI SAN) is the agent id the collector chose."""
    csr = check_csr(csr_pem)
    now = _now()
    start = not_before or (now - _backdate(lifetime))
    return _leaf(
        ca_key_pem,
        ca_cert_pem,
        agent_id,
        csr.public_key(),
        [x509.UniformResourceIdentifier(AGENT_URI_PREFIX + agent_id)],
        ExtendedKeyUsageOID.CLIENT_AUTH,
        start,
        (not_before + lifetime) if not_before else now + lifetime,
    )


def cert_identity(cert_pem: bytes) -> CertIdentity:
    """Agent id, serial, fingerprint and expiry of an agent certificate issued by this CA."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    agent_id = ""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        for uri in san.get_values_for_type(x509.UniformResourceIdentifier):
            if uri.startswith(AGENT_URI_PREFIX):
                agent_id = uri[len(AGENT_URI_PREFIX) :]
    except x509.ExtensionNotFound:
        pass
    if not agent_id:
        raise PKIError("certificate carries no Mamori agent identity")
    return CertIdentity(
        agent_id=agent_id,
        serial_hex=format(cert.serial_number, "x"),
        sha256=cert.fingerprint(hashes.SHA256()).hex(),
        not_after=cert.not_valid_after_utc,
    )


def new_token() -> str:
    """An enrollment token: 160 random bits, URL-safe, easy to paste."""
    return "mmr_" + secrets.token_urlsafe(20)


def hash_token(token: str) -> str:
    """Tokens are stored only as this hash; a stolen database cannot enroll agents."""
    return hashlib.sha256(token.strip().encode("utf-8")).hexdigest()
