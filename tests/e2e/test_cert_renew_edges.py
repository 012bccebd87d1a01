"""Renewal at the wire edge: the identity stays the record's, a lost reply loses nothing, a crash mid-renewal
leaves a working agent, and neither a revoked agent nor a bad request gets a certificate."""

from __future__ import annotations

import json

import grpc
import pytest

from collector import pki
from mamori.keypair import pending_path
from mamori.keys import make_csr, new_private_key
from tests.e2e import clients
from tests.e2e.harness import wait_for


def _setup(collector, make_agent):
    collector.start()
    agent = make_agent("a")
    agent.enroll(collector, collector.token(department="税務課"))
    ca = (collector.data_dir / "ca.crt").read_bytes()
    creds = (agent.state_dir / "agent.key").read_bytes(), (agent.state_dir / "agent.crt").read_bytes()
    return agent, ca, creds


def _stream(collector, ca, key, cert):
    return clients.stream(collector.port, ca, key, cert, [clients.batch(clients.event(1))])


def test_lost_reply_keeps_the_old_certificate_until_the_new_one_is_used(collector, make_agent):
    agent, ca, (key, cert) = _setup(collector, make_agent)
    # The request's CSR names someone else: the certificate still carries the enrolled identity.
    csr_key = new_private_key()
    new_cert = clients.renew(collector.port, ca, key, cert, make_csr(csr_key, "someone-else"))[1]
    assert pki.cert_identity(new_cert).agent_id == agent.agent_id
    row = next(a for a in collector.agents() if a["id"] == agent.agent_id)
    assert (row["segment"], row["department"], row["cert_serial"]) == (
        "lgwan",
        "税務課",
        pki.cert_identity(new_cert).serial_hex,
    )
    # The reply "never arrived": the old certificate still works, so the terminal can simply try again.
    assert _stream(collector, ca, key, cert)[0].welcome.agent_id == agent.agent_id
    new_key, newer_cert = clients.renew(collector.port, ca, key, cert)
    assert _stream(collector, ca, new_key, newer_cert)[0].welcome.agent_id == agent.agent_id
    # Once the renewed certificate was used, the old one is no identity any more.
    with pytest.raises(grpc.RpcError) as err:
        _stream(collector, ca, key, cert)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_crash_mid_renewal_leaves_a_working_identity(collector, make_agent):
    agent, ca, (key, cert) = _setup(collector, make_agent)
    new_key, new_cert = clients.renew(collector.port, ca, key, cert)
    # A crash after the new pair was written whole but before it replaced agent.key: the old key is in place
    # and only half of the swap happened (the key file of the new pair, with the old certificate).
    pending_path(agent.state_dir / "agent.key").write_bytes(new_key + new_cert)
    (agent.state_dir / "agent.key").write_bytes(new_key)
    agent.write_config(certs={"check_seconds": 1.0})
    agent.start()
    wait_for(lambda: "connected to collector" in agent.log(), timeout=30, what="agent connected")
    assert (agent.state_dir / "agent.crt").read_bytes() == new_cert
    assert not pending_path(agent.state_dir / "agent.key").exists()
    agent.emit(2)
    wait_for(lambda: len(collector.events("--agent", agent.agent_id)) >= 2, timeout=30, what="delivery")


@pytest.mark.parametrize("case", ["revoked", "malformed", "weak"])
def test_no_certificate_for_a_revoked_agent_or_a_bad_request(collector, make_agent, case):
    agent, ca, (key, cert) = _setup(collector, make_agent)
    before = next(a for a in collector.agents() if a["id"] == agent.agent_id)
    csr = None
    if case == "revoked":
        collector.cli("agents", "revoke", agent.agent_id, "--by", "tester")
    elif case == "malformed":
        csr = b"-----BEGIN CERTIFICATE REQUEST-----\njunk\n"
    else:
        csr = b"x" * (17 * 1024)  # beyond the bound: refused before any parsing
    with pytest.raises(grpc.RpcError) as err:
        clients.renew(collector.port, ca, key, cert, csr)
    expected = grpc.StatusCode.PERMISSION_DENIED if case == "revoked" else grpc.StatusCode.INVALID_ARGUMENT
    assert err.value.code() == expected
    after = next(a for a in collector.agents() if a["id"] == agent.agent_id)
    assert after["cert_serial"] == before["cert_serial"]
    audit = json.loads(collector.cli("audit-log", "list", "--action", "agent.cert_renew", "--json").stdout)
    assert audit == []
