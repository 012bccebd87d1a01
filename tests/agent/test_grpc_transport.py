"""The gRPC transport's wire edge: typed messages become protobuf and back without losing a field."""

from __future__ import annotations

from agent.transport import Ack, Batch, Heartbeat, Hello, PolicyUpdate, TrustUpdate, Welcome
from agent.transport.grpc_transport import _from_wire, _to_wire
from mamori import events
from mamori.v1 import telemetry_pb2


def test_agent_messages_reach_the_wire_field_for_field() -> None:
    data = events.encode("check.result", {"check_id": "c", "status": "pass"}, seq=7)
    wire = _to_wire(Batch(3, (data,)))
    assert wire.batch.batch_id == 3 and [e.SerializeToString() for e in wire.batch.events] == [data]
    hb = _to_wire(Heartbeat(spool_depth=2, policy_version="v1", policy_mode="collector", uptime_seconds=60)).heartbeat
    assert (hb.spool_depth, hb.policy_version, hb.policy_mode, hb.uptime_seconds) == (2, "v1", "collector", 60)
    hello = _to_wire(Hello("1.0", "v1", "ab" * 32)).hello
    assert (hello.agent_version, hello.policy_version, hello.ca_sha256) == ("1.0", "v1", "ab" * 32)


def test_collector_messages_are_read_and_an_unknown_body_skipped() -> None:
    cm = telemetry_pb2.CollectorMessage
    assert _from_wire(cm(welcome=telemetry_pb2.Welcome(agent_id="a", last_stored_seq=9))) == Welcome("a", 9)
    assert _from_wire(cm(ack=telemetry_pb2.Ack(batch_id=2, acked_seq=5))) == Ack(2, 5)
    policy = cm(policy=telemetry_pb2.PolicyUpdate(version="v", segment="internet", document=b"{}"))
    assert _from_wire(policy) == PolicyUpdate("v", "internet", b"{}")
    assert _from_wire(cm(trust=telemetry_pb2.TrustUpdate(ca_bundle_pem=b"pem", renew_now=True))) == TrustUpdate(
        b"pem", True
    )
    assert _from_wire(cm()) is None  # a body a newer collector may send: not acted on
