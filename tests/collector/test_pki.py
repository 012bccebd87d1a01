"""The collector's CA: certificates it issues, CSRs it refuses, tokens it stores only hashed."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from collector import pki
from mamori.keys import make_csr, new_private_key, write_private


@pytest.fixture(scope="module")
def ca():
    return pki.create_ca()


def test_ca_is_a_ca(ca):
    cert = x509.load_pem_x509_certificate(ca[1])
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True


def test_server_cert_covers_names_and_addresses(ca):
    _key, pem = pki.issue_server_cert(*ca, ["collector.example.lg.jp", "127.0.0.1"])
    cert = x509.load_pem_x509_certificate(pem)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["collector.example.lg.jp"]
    assert [str(a) for a in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in eku
    with pytest.raises(pki.PKIError):
        pki.issue_server_cert(*ca, [])


def test_agent_identity_is_what_the_collector_chose_not_the_csr(ca):
    key = new_private_key()
    pem = pki.sign_agent_csr(*ca, make_csr(key, "i-claim-to-be-someone-else"), "agent-123", timedelta(days=30))
    ident = pki.cert_identity(pem)
    assert ident.agent_id == "agent-123"
    cert = x509.load_pem_x509_certificate(pem)
    assert cert.public_key().public_numbers() == key.public_key().public_numbers()
    assert ExtendedKeyUsageOID.CLIENT_AUTH in cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ident.not_after - datetime.now(UTC) < timedelta(days=31)


def test_bad_csrs_are_refused(ca):
    with pytest.raises(pki.PKIError, match="malformed"):
        pki.sign_agent_csr(*ca, b"-----BEGIN CERTIFICATE REQUEST-----\njunk\n", "a")
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    from cryptography.hazmat.primitives import hashes

    csr = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([])).sign(weak, hashes.SHA256())
    from cryptography.hazmat.primitives.serialization import Encoding

    with pytest.raises(pki.PKIError, match="2048"):
        pki.sign_agent_csr(*ca, csr.public_bytes(Encoding.PEM), "a")
    small_ec = ec.generate_private_key(ec.SECP192R1()) if hasattr(ec, "SECP192R1") else None
    if small_ec is not None:
        try:
            csr = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([])).sign(small_ec, hashes.SHA256())
        except Exception:  # the backend may refuse such a curve outright
            return
        with pytest.raises(pki.PKIError, match="256"):
            pki.sign_agent_csr(*ca, csr.public_bytes(Encoding.PEM), "a")


def test_cert_without_agent_identity_is_refused(ca):
    _key, server = pki.issue_server_cert(*ca, ["host"])
    with pytest.raises(pki.PKIError, match="no Mamori agent identity"):
        pki.cert_identity(server)


def test_tokens_are_random_and_hashed():
    tokens = {pki.new_token() for _ in range(100)}
    assert len(tokens) == 100
    token = tokens.pop()
    assert len(pki.hash_token(token)) == 64 and token not in pki.hash_token(token)
    assert pki.hash_token(token) == pki.hash_token(f"  {token}\n")


def test_private_files_are_owner_only(tmp_path):
    path = tmp_path / "k.pem"
    path.write_bytes(b"old")
    path.chmod(0o644)
    write_private(path, b"secret")
    assert path.read_bytes() == b"secret"
    assert path.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    "text,expected", [("365d", timedelta(days=365)), ("12h", timedelta(hours=12)), ("3m", timedelta(minutes=3))]
)
def test_durations(text, expected):
    assert pki.parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "0d", "3", "3w", "-1d", "1.5d", "d"])
def test_bad_durations_are_refused(text):
    with pytest.raises(pki.PKIError):
        pki.parse_duration(text)


def test_invalid_lifetime_in_collector_toml_names_file_and_line(tmp_path):
    from collector.config import SCHEMA
    from mamori.tomlconf import ConfigError, load

    config = tmp_path / "collector.toml"
    config.write_text('[server]\nlisten = "127.0.0.1:7443"\n\n[pki]\nagent_cert_lifetime = "3x"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(config))}:5: key 'pki.agent_cert_lifetime'"):
        load(config, SCHEMA)


def test_short_lifetimes_are_backdated_only_a_little(ca):
    pem = pki.sign_agent_csr(*ca, make_csr(new_private_key(), "x"), "a", timedelta(minutes=3))
    h = pki.horizon(pem)
    assert h.not_after - h.not_before == timedelta(minutes=3, seconds=18)
    assert not h.due(h.not_before + timedelta(minutes=2), 1 / 3)
    assert h.due(h.not_before + timedelta(minutes=2, seconds=20), 1 / 3)


def test_a_config_from_before_lifetimes_still_loads(tmp_path):
    from collector.config import SCHEMA, agent_cert_lifetime
    from mamori.tomlconf import load

    config = tmp_path / "collector.toml"
    config.write_text("[pki]\nagent_cert_days = 90\n", encoding="utf-8")
    assert agent_cert_lifetime(load(config, SCHEMA)) == timedelta(days=90)
    config.write_text('[pki]\nagent_cert_lifetime = "12h"\n', encoding="utf-8")
    assert agent_cert_lifetime(load(config, SCHEMA)) == timedelta(hours=12)
