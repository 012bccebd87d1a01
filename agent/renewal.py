"""The agent renews its own certificate over the mutual-TLS endpoint before it expires, with a key made here."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from agent.config import StateDir
from agent.fsutil import write_atomic
from agent.identity import Identity
from mamori import clock
from mamori.i18n import _
from mamori.keypair import finish_pending, replace_pair
from mamori.keys import key_pem, make_csr, new_private_key

if TYPE_CHECKING:
    from agent.transport import Transport

log = logging.getLogger("mamori.agent.renewal")
AGENT_URI = "urn:mamori:agent:"


def expired_message() -> str:
    """What `status` and the log say instead of "cannot reach collector": only a new enrollment helps now."""
    return _("certificate expired: re-enroll with a new token")


class RenewalError(Exception):
    """This attempt failed; the current certificate and key stay in use and the next check retries."""


@dataclass(frozen=True)
class CertHorizon:
    not_before: datetime
    not_after: datetime

    def expired(self, now: datetime) -> bool:
        return now >= self.not_after

    def due(self, now: datetime, fraction: float) -> bool:
        return self.not_after - now < (self.not_after - self.not_before) * fraction


def horizon(state: StateDir) -> CertHorizon:
    cert = x509.load_pem_x509_certificate(state.cert.read_bytes())
    return CertHorizon(cert.not_valid_before_utc, cert.not_valid_after_utc)


def recover(state: StateDir) -> None:
    """Install a renewed pair a crash left half-installed, before anything reads the key or certificate."""
    try:
        if finish_pending(state.key, state.cert):
            log.warning("completed a certificate renewal interrupted by a restart")
    except OSError as exc:  # `status` may run as a user who cannot write here: the agent does it on start
        log.debug("cannot complete a pending renewal: %s", exc)


def _agent_id_of(cert: x509.Certificate) -> str:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return ""
    uris = [u for u in san.get_values_for_type(x509.UniformResourceIdentifier) if u.startswith(AGENT_URI)]
    return uris[0][len(AGENT_URI) :] if uris else ""


def _spki(key: PublicKeyTypes) -> bytes:
    # The encoded public key compares any key type; public_numbers() exists only on some of them.
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _issued_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(ca)
    except Exception:  # noqa: BLE001 - InvalidSignature, ValueError and TypeError share no narrower base
        return False
    return True


def update_trust(state: StateDir, bundle: bytes) -> bool:
    """Trust the CA bundle a CA rollover pushed; False (nothing changed) unless it keeps at least one CA
    trusted now: the collector that sent it authenticated with one of those, and can only add or retire."""
    try:
        offered = x509.load_pem_x509_certificates(bundle)
        trusted = x509.load_pem_x509_certificates(state.ca_cert.read_bytes())
    except ValueError as exc:
        log.error("refused a CA bundle from the collector: %s", exc)
        return False
    if not {c.fingerprint(hashes.SHA256()) for c in offered} & {c.fingerprint(hashes.SHA256()) for c in trusted}:
        log.error("refused a CA bundle from the collector: it shares no CA with the one trusted now")
        return False
    if not all(_is_ca(c) for c in offered):
        log.error("refused a CA bundle from the collector: it holds a certificate that is not a CA")
        return False
    write_atomic(state.ca_cert, bundle, 0o644)
    log.info("now trusting %d CA certificate(s) from the collector's rollover", len(offered))
    return True


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def renew(
    identity: Identity, state: StateDir, hostname: str, timeout: float, transport: Transport | None = None
) -> datetime:
    """One renewal: new key, CSR, signed by the collector over mTLS, stored atomically; returns not_after."""
    from agent.transport import StreamError
    from agent.transport.grpc_transport import GrpcTransport

    key = new_private_key()
    if transport is None:
        transport = GrpcTransport(identity.telemetry_target, state)
    try:
        reply = transport.renew(make_csr(key, hostname), timeout)
    except StreamError as exc:
        raise RenewalError(f"{exc.code}: {exc.details}") from None
    try:
        cert = x509.load_pem_x509_certificate(reply.certificate_pem)
    except ValueError as exc:
        raise RenewalError(f"the collector returned an unreadable certificate: {exc}") from None
    if _spki(cert.public_key()) != _spki(key.public_key()):
        raise RenewalError("the collector returned a certificate for a different key")
    if _agent_id_of(cert) != identity.agent_id:
        raise RenewalError("the collector returned a certificate for another agent id")
    if not any(_issued_by(cert, ca) for ca in x509.load_pem_x509_certificates(state.ca_cert.read_bytes())):
        raise RenewalError("the renewed certificate is not issued by a trusted CA")
    replace_pair(state.key, state.cert, key_pem(key), reply.certificate_pem)
    return cert.not_valid_after_utc


async def run(
    identity: Identity, state: StateDir, settings: dict[str, Any], hostname: str, stop: asyncio.Event
) -> None:
    """The agent's task: look at the certificate every certs.check_seconds and renew it when due."""
    interval = settings["certs.check_seconds"]
    fraction = settings["certs.renew_fraction"]
    while not stop.is_set():
        try:
            current = await asyncio.to_thread(horizon, state)
            now = clock.now()
            if not current.expired(now) and current.due(now, fraction):
                not_after = await asyncio.to_thread(
                    renew, identity, state, hostname, settings["shipper.connect_timeout_seconds"]
                )
                log.info("renewed this agent's certificate; valid until %s", not_after.isoformat())
        except RenewalError as exc:
            log.warning("certificate renewal failed (retrying in %.0f s): %s", interval, exc)
        except (OSError, ValueError) as exc:
            log.warning("certificate renewal failed (retrying in %.0f s): %s", interval, exc)
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval)
        except TimeoutError:
            pass
