"""CA rollover with real processes: agents keep working through the overlap, get the new CA bundle and a
certificate from the new CA over the channel, and still deliver once the old CA is retired."""

from __future__ import annotations

import json

import grpc
import pytest
from cryptography import x509

from tests.e2e import clients
from tests.e2e.harness import wait_for


def _cas(path) -> int:
    return len(x509.load_pem_x509_certificates(path.read_bytes()))


def _issuer(path) -> str:
    return x509.load_pem_x509_certificate(path.read_bytes()).issuer.rfc4514_string()


def _delivers(collector, agent, count: int) -> None:
    before = len(collector.events("--agent", agent.agent_id))
    agent.emit(count)
    wait_for(
        lambda: len(collector.events("--agent", agent.agent_id)) >= before + count,
        timeout=60,
        interval=0.5,
        what=f"delivery by {agent.state_dir.name}",
    )


def test_ca_rollover_overlap_and_finish(collector, make_agent):
    collector.start()
    online, offline = make_agent("online"), make_agent("offline")
    online.enroll(collector, collector.token())
    offline.enroll(collector, collector.token())
    old_issuer = _issuer(online.state_dir / "agent.crt")
    online.write_config(shipper={"heartbeat_seconds": 1.0, "backoff_initial_seconds": 0.2, "backoff_max_seconds": 1.0})
    online.start()
    wait_for(lambda: "connected to collector" in online.log(), what="agent connected")

    collector.cli("pki", "rollover-ca", "--by", "tester")
    assert _cas(collector.data_dir / "ca.crt") == 2
    # Over the open stream: the bundle, then a certificate from the new CA, with no restart anywhere.
    wait_for(
        lambda: _issuer(online.state_dir / "agent.crt") != old_issuer,
        timeout=30,
        interval=0.5,
        what="renewal from the new CA",
    )
    assert _cas(online.state_dir / "ca.crt") == 2
    _delivers(collector, online, 2)
    # The offline terminal's certificate from the old CA still works during the overlap.
    ca = (offline.state_dir / "ca.crt").read_bytes()  # the old CA alone: what the offline terminal trusts
    assert _cas(offline.state_dir / "ca.crt") == 1
    old_creds = (offline.state_dir / "agent.key").read_bytes(), (offline.state_dir / "agent.crt").read_bytes()
    replies = clients.stream(collector.port, ca, *old_creds, [clients.batch(clients.event(1))])
    assert replies[0].welcome.agent_id == offline.agent_id
    # A terminal enrolled during the overlap with the bundle works too.
    late = make_agent("late")
    late.enroll(collector, collector.token())
    assert _issuer(late.state_dir / "agent.crt") == _issuer(online.state_dir / "agent.crt")

    refused = collector.cli("pki", "finish-rollover", check=False)
    assert refused.returncode != 0 and "--force" in refused.stderr  # the offline terminal has not renewed
    collector.cli("pki", "finish-rollover", "--force", "--by", "tester")
    assert _cas(collector.data_dir / "ca.crt") == 1
    wait_for(lambda: "reloaded the server certificate" in collector.log(), timeout=15, what="reload")
    # New handshakes get the new CA's server certificate: the agent trusts it through the bundle.
    online.stop()
    online.start()
    wait_for(lambda: online.log().count("connected to collector") >= 1, timeout=30, what="reconnect")
    _delivers(collector, online, 2)
    wait_for(lambda: _cas(online.state_dir / "ca.crt") == 1, timeout=15, what="old CA dropped by the agent")
    # The old CA is no longer trusted: its certificates are refused at the handshake.
    with pytest.raises(grpc.RpcError) as err:
        clients.stream(
            collector.port,
            (collector.data_dir / "ca.crt").read_bytes() + ca,
            *old_creds,
            [clients.batch(clients.event(2))],
            timeout=5,
        )
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    audit = json.loads(collector.cli("audit-log", "list", "--action", "pki.", "--json").stdout)
    assert {e["action"] for e in audit} == {"pki.rollover_ca", "pki.finish_rollover"}
