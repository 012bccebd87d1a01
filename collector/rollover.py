"""CA rollover: a new CA signs agent certificates while the old one stays trusted, until staff finish it.

During the overlap ca.crt is the bundle (new CA first, then the old one): the telemetry port accepts agent
certificates from either, the server keeps presenting a certificate from the old CA (which every agent
trusts), and agents are pushed the bundle and renew. finish() switches the server to the new CA and drops
the old one from ca.crt.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from collector import pki
from collector.config import DataDir
from mamori import clock
from mamori.keypair import replace_pair
from mamori.keys import write_private


class RolloverError(Exception):
    """A rollover step that cannot be done now (one already running, none to finish)."""


@dataclass(frozen=True)
class Rollover:
    started_at: datetime
    old_subject: str


def _old_key(datadir: DataDir) -> Path:
    return datadir.root / "ca-previous.key"


def _old_cert(datadir: DataDir) -> Path:
    return datadir.root / "ca-previous.crt"


def certs_in(bundle: bytes) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(bundle)


def bundle_sha256(bundle: bytes) -> str:
    return hashlib.sha256(bundle).hexdigest()


def current(datadir: DataDir) -> Rollover | None:
    """The rollover in progress, if any: the old CA saved beside a ca.crt that bundles it with the new one.
    (A saved old CA beside a single-CA ca.crt is what a crash in start() or finish() left: no rollover.)"""
    path = _old_cert(datadir)
    if not path.exists() or len(certs_in(datadir.ca_cert.read_bytes())) < 2:
        return None
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    return Rollover(datetime.fromtimestamp(path.stat().st_mtime, UTC), cert.subject.rfc4514_string())


def server_signer(datadir: DataDir) -> tuple[bytes, bytes]:
    """(key, cert) of the CA the server certificate comes from: the old one while agents may trust only it."""
    if current(datadir) is not None:
        return _old_key(datadir).read_bytes(), _old_cert(datadir).read_bytes()
    return datadir.ca_key.read_bytes(), datadir.ca_cert.read_bytes()


def signing_subject(datadir: DataDir) -> x509.Name:
    """The subject of the CA that issues agent certificates now (the first of ca.crt)."""
    return x509.load_pem_x509_certificate(datadir.ca_cert.read_bytes()).subject


def start(datadir: DataDir) -> x509.Certificate:
    """Make a new CA; the old one stays trusted. Returns the new CA certificate."""
    if current(datadir) is not None:
        raise RolloverError("a CA rollover is already in progress: finish it first (pki finish-rollover)")
    old_key, old_bundle = datadir.ca_key.read_bytes(), datadir.ca_cert.read_bytes()
    old = certs_in(old_bundle)[0]
    now = clock.now()
    # A distinct name: TLS stacks pick the issuer by subject, so two CAs must not share one.
    key, cert = pki.create_ca(f"Mamori Collector CA {now:%Y%m%d%H%M%S}")
    # The old CA is saved first; until ca.crt bundles both, no rollover is in progress (see current()).
    write_private(_old_key(datadir), old_key)
    _old_cert(datadir).write_bytes(old.public_bytes(serialization.Encoding.PEM))
    replace_pair(datadir.ca_key, datadir.ca_cert, key, cert + old.public_bytes(serialization.Encoding.PEM))
    return x509.load_pem_x509_certificate(cert)


def finish(datadir: DataDir, hosts: list[str], server_lifetime) -> x509.Certificate:
    """End the overlap: a server certificate from the new CA, ca.crt the new CA alone, the old one gone."""
    if current(datadir) is None:
        raise RolloverError("no CA rollover is in progress")
    key, bundle = datadir.ca_key.read_bytes(), datadir.ca_cert.read_bytes()
    new = certs_in(bundle)[0]
    new_pem = new.public_bytes(serialization.Encoding.PEM)
    server_key, server_cert = pki.issue_server_cert(key, new_pem, hosts, server_lifetime)
    replace_pair(datadir.server_key, datadir.server_cert, server_key, server_cert)
    replace_pair(datadir.ca_key, datadir.ca_cert, key, new_pem)
    _old_key(datadir).unlink(missing_ok=True)
    _old_cert(datadir).unlink(missing_ok=True)
    return new
