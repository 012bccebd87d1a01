"""The collector's own server certificate: renewed from the CA before it expires, reloaded without a restart."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import grpc

from collector import pki, rollover
from collector.config import DataDir
from mamori import clock
from mamori.keypair import finish_pending, replace_pair

log = logging.getLogger("mamori.collector.servercert")
RENEW_FRACTION = 1 / 3  # renewed when less than a third of its lifetime remains, like agent certificates


class ServerCert:
    """The key pair both gRPC servers present; each new TLS handshake asks for the current one."""

    def __init__(self, datadir: DataDir, settings: dict[str, Any]):
        self.datadir = datadir
        self.hosts: list[str] = settings["pki.hosts"]
        self.lifetime = pki.parse_duration(settings["pki.server_cert_lifetime"])
        self._lock = threading.Lock()
        self._io = threading.Lock()  # a renewal's writes and a reload's reads never interleave here
        finish_pending(datadir.server_key, datadir.server_cert)  # a renewal a crash interrupted
        finish_pending(datadir.ca_key, datadir.ca_cert)  # a CA rollover step a crash interrupted
        self._state = self._read()

    def _read(self) -> tuple[bytes, bytes, bytes]:
        return (
            self.datadir.server_key.read_bytes(),
            self.datadir.server_cert.read_bytes(),
            self.datadir.ca_cert.read_bytes(),
        )

    @property
    def pair(self) -> tuple[bytes, bytes]:
        with self._lock:
            return self._state[0], self._state[1]

    @property
    def trust(self) -> bytes:
        """The CA bundle client certificates are checked against (both CAs during a rollover)."""
        with self._lock:
            return self._state[2]

    def reload(self) -> bool:
        """Pick up what `pki rollover-ca` / `finish-rollover` wrote while serving; True when anything changed."""
        with self._io:
            state = self._read()
        if not _matches(state[0], state[1]):
            return False  # another process is between the two files of replace_pair: next time
        with self._lock:
            changed, self._state = state != self._state, state
        if changed:
            log.info("reloaded the server certificate and the trusted CA bundle")
        return changed

    def renew_if_due(self) -> bool:
        """Issue a new server certificate when the current one is due; True when it did."""
        key, cert = self.pair
        now = clock.now()
        current = pki.horizon(cert)
        if not current.due(now, RENEW_FRACTION):
            return False
        hosts = self.hosts or _hosts_of(cert)
        # During a CA rollover from the old CA: some agents may not trust the new one yet.
        new_key, new_cert = pki.issue_server_cert(*rollover.server_signer(self.datadir), hosts, self.lifetime)
        with self._io:
            replace_pair(self.datadir.server_key, self.datadir.server_cert, new_key, new_cert)
            with self._lock:
                self._state = (new_key, new_cert, self._state[2])
        log.info(
            "renewed the server certificate (serial %s, valid until %s; the previous one ran until %s)",
            pki.horizon(new_cert).serial_hex,
            pki.horizon(new_cert).not_after.isoformat(),
            current.not_after.isoformat(),
        )
        return True

    def credentials(self, require_client_auth: bool) -> grpc.ServerCredentials:
        """Credentials that follow renewals and rollovers: gRPC calls the fetcher before each handshake."""

        def configuration(state: tuple[bytes, bytes, bytes]):
            return grpc.ssl_server_certificate_configuration(
                [(state[0], state[1])], state[2] if require_client_auth else None
            )

        with self._lock:
            served = [self._state]
        initial = configuration(served[0])

        def fetch():
            with self._lock:
                state = self._state
            if state == served[0]:
                return None  # None: keep the configuration in use
            served[0] = state
            return configuration(state)

        return grpc.dynamic_ssl_server_credentials(initial, fetch, require_client_authentication=require_client_auth)

    async def watch(self, interval: float) -> None:
        """serve's task: check for renewal every `interval` seconds; a failure is logged and retried."""
        while True:
            await asyncio.sleep(interval)
            try:
                await asyncio.to_thread(self.renew_if_due)
            except Exception:  # a full disk or a missing CA file must not end the checks for good
                log.exception("server certificate renewal failed; retrying in %.0f s", interval)


def _matches(key_pem: bytes, cert_pem: bytes) -> bool:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
        cert = x509.load_pem_x509_certificate(cert_pem)
    except ValueError:
        return False
    # The encoded public keys, not public_numbers(): Ed25519/Ed448 keys have no numbers.
    spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return key.public_key().public_bytes(*spki) == cert.public_key().public_bytes(*spki)


def _hosts_of(cert_pem: bytes) -> list[str]:
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(cert_pem)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [str(v) for v in san.get_values_for_type(x509.IPAddress)] + san.get_values_for_type(x509.DNSName)
