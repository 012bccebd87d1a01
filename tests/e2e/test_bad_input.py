"""Bad input gets a clear error and changes nothing: certificates, tokens, messages, config, spool."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import grpc
import pytest

from tests.e2e import clients
from tests.e2e.harness import wait_for


def snapshot(collector):
    """Everything staff can see of the store: agents and events."""
    agents = collector.agents()
    for a in agents:
        a.pop("last_seen_at")  # heartbeats of a legitimate agent may move it; nothing else may change
    return agents, collector.events()


def enroll_one(collector, make_agent, segment="lgwan"):
    agent = make_agent("a")
    agent.enroll(collector, collector.token(segment=segment))
    return agent


def agent_creds(agent):
    return (agent.state_dir / "agent.key").read_bytes(), (agent.state_dir / "agent.crt").read_bytes()


def ca(collector):
    return (collector.data_dir / "ca.crt").read_bytes()


def ok_stream(collector, key, cert, *msgs):
    return clients.stream(collector.port, ca(collector), key, cert, list(msgs))


def test_real_agent_credentials_work(collector, make_agent):
    """The control case: the hand-made client is accepted with the agent's own certificate."""
    collector.start()
    agent = enroll_one(collector, make_agent)
    key, cert = agent_creds(agent)
    replies = ok_stream(collector, key, cert, clients.batch(clients.event(1), clients.event(2)))
    assert replies[0].welcome.agent_id == agent.agent_id
    assert replies[1].ack.acked_seq == 2
    assert [e["seq"] for e in collector.events()] == [2, 1]


@pytest.mark.parametrize("kind", ["none", "self_signed", "other_ca", "expired", "not_yet_valid"])
def test_telemetry_refuses_bad_client_certificates(collector, make_agent, kind):
    collector.start()
    agent = enroll_one(collector, make_agent)
    before = snapshot(collector)
    ca_key = (collector.data_dir / "ca.key").read_bytes()
    if kind == "none":
        key = cert = None
    elif kind == "self_signed":
        key, cert = clients.self_signed(agent.agent_id)
    elif kind == "other_ca":
        other_key, other_cert = clients.pki.create_ca("Attacker CA")
        key, cert = clients.issued_by(other_key, other_cert, agent.agent_id)
    elif kind == "expired":
        key, cert = clients.issued_by(
            ca_key, ca(collector), agent.agent_id, not_before=datetime.now(UTC) - timedelta(days=10), days=1
        )
    else:
        key, cert = clients.issued_by(
            ca_key, ca(collector), agent.agent_id, not_before=datetime.now(UTC) + timedelta(days=1), days=10
        )
    with pytest.raises(grpc.RpcError) as err:
        ok_stream(collector, key, cert, clients.batch(clients.event(1)))
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE  # the TLS handshake itself fails
    assert snapshot(collector) == before


def test_certificate_from_our_ca_for_unknown_agent_is_refused(collector, make_agent):
    collector.start()
    enroll_one(collector, make_agent)
    before = snapshot(collector)
    key, cert = clients.issued_by(
        (collector.data_dir / "ca.key").read_bytes(), ca(collector), "00000000-0000-4000-8000-000000000000"
    )
    with pytest.raises(grpc.RpcError) as err:
        ok_stream(collector, key, cert, clients.batch(clients.event(1)))
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert snapshot(collector) == before


def test_revoked_agent_stream_closed_and_next_connection_refused(collector, make_agent):
    collector.start()
    agent = enroll_one(collector, make_agent)
    agent.write_config(shipper={"heartbeat_seconds": 1.0, "backoff_initial_seconds": 0.2, "backoff_max_seconds": 1.0})
    agent.start()
    wait_for(lambda: "connected to collector" in agent.log(), what="agent connected")
    collector.cli("agents", "revoke", agent.agent_id[:8], "--by", "tester")
    wait_for(lambda: "has been revoked" in agent.log(), timeout=20, what="open stream closed on revocation")
    stored = collector.events()
    agent.emit(5)
    time.sleep(2)
    assert collector.events() == stored, "nothing from a revoked agent is stored"
    key, cert = agent_creds(agent)
    with pytest.raises(grpc.RpcError) as err:
        ok_stream(collector, key, cert, clients.batch(clients.event(100)))
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "revoked" in err.value.details()
    assert agent.proc.poll() is None, "the agent keeps running and spooling"
    shown = json.loads(collector.cli("agents", "show", agent.agent_id, "--json").stdout)
    assert shown["status"] == "revoked" and shown["revoked_by"] == "tester"


@pytest.mark.parametrize("case", ["reused", "expired", "unknown"])
def test_enrollment_token_misuse(collector, make_agent, case):
    collector.start()
    if case == "reused":
        token = collector.token(uses=2)
        assert make_agent("first").enroll(collector, token).returncode == 0
        assert make_agent("second").enroll(collector, token).returncode == 0
    elif case == "expired":
        token = collector.token(expires="1s")
        time.sleep(1.5)
    else:
        token = "mmr_not-a-token-we-issued"
    before = snapshot(collector)
    late = make_agent("late")
    proc = late.enroll(collector, token, check=False)
    assert proc.returncode == 2
    expected = {"reused": "already been used", "expired": "expired", "unknown": "unknown"}[case]
    assert expected in proc.stderr
    assert "new token" in proc.stderr  # tells staff what to do next

    assert not (late.state_dir / "identity.json").exists()
    assert not (late.state_dir / "agent.crt").exists()
    assert snapshot(collector) == before


def test_enrollment_with_collector_down_says_what_to_check(collector, make_agent):
    token = collector.token()
    proc = make_agent("x").enroll(collector, token, check=False)
    assert proc.returncode == 2 and "collector is running" in proc.stderr


def test_malformed_events_rejected_whole_batch(collector, make_agent):
    collector.start()
    agent = enroll_one(collector, make_agent)
    key, cert = agent_creds(agent)
    before = snapshot(collector)
    good = clients.event(1)
    from mamori.v1 import events_pb2

    bad = events_pb2.Event.FromString(clients.event(2))
    bad.event_id = "not-a-uuid"
    msg = clients.batch(good, bad.SerializeToString())
    with pytest.raises(grpc.RpcError) as err:
        ok_stream(collector, key, cert, msg)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "UUIDv7" in err.value.details()
    # A kind only the collector may record.
    forged = events_pb2.Event.FromString(clients.event(1))
    forged.kind = events_pb2.EVENT_KIND_SEQUENCE_GAP
    forged.sequence_gap.first_missing = 1
    with pytest.raises(grpc.RpcError) as err:
        ok_stream(collector, key, cert, clients.batch(forged.SerializeToString()))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert snapshot(collector) == before


def test_oversized_message_rejected(collector, make_agent):
    collector.start()
    agent = enroll_one(collector, make_agent)
    key, cert = agent_creds(agent)
    before = snapshot(collector)
    huge = clients.event(1, payload={"check_id": "t", "status": "pass", "evidence_json": "x" * (5 * 1024 * 1024)})
    with pytest.raises(grpc.RpcError) as err:
        ok_stream(collector, key, cert, clients.batch(huge))
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    too_many = clients.batch(*[clients.event(i) for i in range(1, 5002)])
    with pytest.raises(grpc.RpcError) as err:
        ok_stream(collector, key, cert, too_many)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "exceeds the limit" in err.value.details()
    assert snapshot(collector) == before


def test_broken_collector_config_names_file_line_and_key(collector):
    cfg = collector.data_dir / "collector.toml"
    text = cfg.read_text().replace("max_batch_events = 5000", 'max_batch_events = "many"')
    cfg.write_text(text)
    line = text.splitlines().index('max_batch_events = "many"') + 1
    proc = collector.cli("serve", check=False)
    assert proc.returncode == 2
    assert f"{cfg}:{line}: key 'server.max_batch_events'" in proc.stderr
    cfg.write_text(text.replace('max_batch_events = "many"', "max_batch_events = 5000\n[server"))
    proc = collector.cli("agents", "list", check=False)
    assert proc.returncode == 2 and "TOML syntax error" in proc.stderr and str(cfg) in proc.stderr


def test_broken_agent_config_names_file_line_and_key(collector, make_agent):
    collector.start()
    agent = enroll_one(collector, make_agent)
    path = agent.write_config(shipper={"heartbeat_seconds": 1.0, "batch_max_events": -3})
    proc = agent.cli("run", check=False)
    assert proc.returncode == 2
    assert f"{path}:3: key 'shipper.batch_max_events': must be greater than 0" in proc.stderr
    path.write_text("[shipper]\nheartbeat_secnds = 5\n")
    proc = agent.cli("run", check=False)
    assert f"{path}:2: key 'shipper.heartbeat_secnds': unknown key" in proc.stderr


def test_corrupt_spool_kept_aside_and_reported(collector, make_agent):
    collector.start()
    agent = enroll_one(collector, make_agent)
    agent.write_config(shipper={"heartbeat_seconds": 1.0})
    spool_db = agent.state_dir / "spool" / "spool.db"
    spool_db.write_bytes(b"this is not a database" * 100)
    agent.start()
    corrupt = wait_for(lambda: collector.events("--kind", "spool.corrupt"), what="spool.corrupt event")
    kept = corrupt[0]["payload"]["kept_as"]
    assert kept.startswith(str(spool_db) + ".corrupt")
    assert (agent.state_dir / "spool").glob("spool.db.corrupt*")
    with open(kept, "rb") as handle:
        assert handle.read(22) == b"this is not a database"
