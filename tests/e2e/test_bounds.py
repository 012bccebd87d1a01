"""Out-of-range and malformed agent messages: INVALID_ARGUMENT with a reason, nothing stored, one log line."""

from __future__ import annotations

import json
import sqlite3
import time
import uuid

import grpc
import pytest

from collector import validate
from mamori.v1 import events_pb2, telemetry_pb2
from tests.e2e import clients
from tests.e2e.harness import Collector, wait_for
from tests.e2e.test_bad_input import agent_creds, ok_stream, snapshot

FAST = {"shipper": {"heartbeat_seconds": 1.0, "backoff_initial_seconds": 0.2, "backoff_max_seconds": 1.0}}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def edge(request, tmp_path, procs, make_agent):
    """A running collector on either backend and an agent enrolled there (not started)."""
    url = None
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_server").create_database("b_" + uuid.uuid4().hex[:12])
    collector = Collector(tmp_path / "collector").init(database_url=url)
    procs.append(collector)
    collector.start()
    agent = make_agent("a")
    agent.enroll(collector, collector.token())
    return collector, agent


def raw_event(seq: int, **changes) -> bytes:
    msg = events_pb2.Event.FromString(clients.event(seq))
    for name, value in changes.items():
        target = msg
        *path, last = name.split("__")
        for part in path:
            target = getattr(target, part)
        setattr(target, last, value)
    return msg.SerializeToString()


def hello(**fields) -> telemetry_pb2.AgentMessage:
    return telemetry_pb2.AgentMessage(hello=telemetry_pb2.Hello(**fields))


def heartbeat(**fields) -> telemetry_pb2.AgentMessage:
    return telemetry_pb2.AgentMessage(heartbeat=telemetry_pb2.Heartbeat(**fields))


def usb_event(seq: int, classes: int) -> bytes:
    return clients.events.encode(
        "usb.attached", {"vendor_id": "0781", "interface_classes": ["08:06:50"] * classes}, seq=seq
    )


BAD = {
    "seq_int64_max": (clients.batch(raw_event(2**63 - 1)), "seq"),
    "seq_uint64_max": (clients.batch(raw_event(2**64 - 1)), "seq"),
    "seq_far_ahead": (clients.batch(raw_event(validate.MAX_SEQ_AHEAD + 5)), "beyond the last stored seq"),
    "nul_in_string": (clients.batch(raw_event(1, check_result__summary="a\x00b")), "NUL"),
    "long_string": (clients.batch(raw_event(1, check_result__check_id="x" * 5000)), "check_id"),
    "year_9999": (clients.batch(raw_event(1, occurred_at__seconds=253402300799)), "occurred_at"),
    "before_epoch": (clients.batch(raw_event(1, occurred_at__seconds=-5)), "occurred_at"),
    "many_repeated": (clients.batch(usb_event(1, 1000)), "interface_classes"),
    "hello_policy_version": (hello(policy_version="v" * 65), "policy_version"),
    "hello_agent_version_nul": (hello(agent_version="1.0\x00"), "NUL"),
    "heartbeat_policy_version": (heartbeat(policy_version="v" * 500), "policy_version"),
    "heartbeat_huge_depth": (heartbeat(spool_depth=2**64 - 1), "spool_depth"),
    "empty_message": (telemetry_pb2.AgentMessage(), "empty"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_out_of_range_message_is_invalid_argument_and_stores_nothing(edge, case):
    collector, agent = edge
    key, cert = agent_creds(agent)
    ok_stream(collector, key, cert, clients.batch(clients.event(1)))  # a known last seq of 1
    before = snapshot(collector)
    message, named = BAD[case]
    with pytest.raises(grpc.RpcError) as err:
        ok_stream(collector, key, cert, message)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, err.value.details()
    details = err.value.details()
    assert named in details
    for leak in ("Error", "Exception", "sqlalchemy", "psycopg", "INSERT", "Traceback"):
        assert leak not in details
    assert snapshot(collector) == before
    assert "Traceback" not in collector.log()


def test_poisoned_seq_refused_and_the_real_agent_keeps_delivering(edge):
    collector, agent = edge
    key, cert = agent_creds(agent)
    with pytest.raises(grpc.RpcError) as err:
        ok_stream(collector, key, cert, clients.batch(raw_event(2**63 - 1)))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    agent.write_config(**FAST)
    agent.emit(5)
    agent.start()
    wait_for(lambda: len(collector.events("--agent", agent.agent_id)) >= 5, what="the real agent delivered")
    assert agent.proc.poll() is None
    assert max(e["seq"] for e in collector.events()) < 100


def test_agent_survives_a_welcome_with_a_huge_last_seq(collector, make_agent):
    """A record poisoned before the bounds existed: the agent refuses to renumber by it and lives on."""
    collector.start()
    agent = make_agent("a")
    agent.enroll(collector, collector.token())
    with sqlite3.connect(collector.data_dir / "mamori.db") as db:
        db.execute("UPDATE agents SET last_seq = ? WHERE id = ?", (2**63 - 1, agent.agent_id))
    agent.write_config(**FAST)
    agent.emit(3)
    agent.start()
    wait_for(lambda: "beyond the highest seq" in agent.log(), what="the agent refused the Welcome")
    time.sleep(3)  # several Welcomes later
    assert agent.proc.poll() is None, agent.log()
    assert "Traceback" not in agent.log()
    assert agent.spool_depth() >= 3, "nothing spooled was lost or renumbered"


def test_a_flood_of_bad_messages_is_one_log_line(collector, make_agent):
    collector.start()
    agent = make_agent("a")
    agent.enroll(collector, collector.token())
    key, cert = agent_creds(agent)
    for _ in range(5):
        with pytest.raises(grpc.RpcError):
            ok_stream(collector, key, cert, clients.batch(raw_event(2**64 - 1)))
    time.sleep(0.5)
    lines = [line for line in collector.log().splitlines() if "refused a message" in line]
    assert len(lines) == 1 and agent.agent_id in lines[0] and "seq" in lines[0]
    assert "Traceback" not in collector.log()


def raw_call(collector, port: int, method: str, data: bytes, key=None, cert=None):
    """Send bytes that are no protobuf message at all: the one case a typed client cannot produce."""
    with clients.channel(port, (collector.data_dir / "ca.crt").read_bytes(), key, cert) as ch:
        call = ch.stream_stream(method, request_serializer=lambda b: b, response_deserializer=lambda b: b)
        return list(call(iter([data]), timeout=10))


@pytest.mark.parametrize("data", [b"\xff\xfe garbage", b"\x0a\x04\x0a\x02\xff\xfe"], ids=["corrupt", "bad_utf8"])
def test_unparsable_bytes_are_invalid_argument_in_words(collector, make_agent, data):
    collector.start()
    agent = make_agent("a")
    agent.enroll(collector, collector.token())
    before = snapshot(collector)
    with pytest.raises(grpc.RpcError) as err:
        raw_call(collector, collector.port, "/mamori.v1.Telemetry/Stream", data, *agent_creds(agent))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.value.details().startswith("not a valid AgentMessage (")
    with pytest.raises(grpc.RpcError) as err:
        raw_call(collector, collector.enroll_port, "/mamori.v1.Enrollment/Enroll", data)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.value.details().startswith("not a valid EnrollRequest (")
    assert snapshot(collector) == before
    time.sleep(0.3)
    assert "Traceback" not in collector.log() and "DecodeError" not in collector.log()


@pytest.mark.parametrize("field", ["hostname_nul", "long_token", "long_previous_id"])
def test_enrollment_request_out_of_bounds(collector, field):
    from mamori.keys import make_csr, new_private_key
    from mamori.v1 import enrollment_pb2, enrollment_pb2_grpc

    collector.start()
    token = collector.token()
    request = enrollment_pb2.EnrollRequest(
        token=token,
        csr_pem=make_csr(new_private_key(), "x"),
        host=enrollment_pb2.HostFacts(hostname="pc", machine_id="m"),
    )
    if field == "hostname_nul":
        request.host.hostname = "pc\x00"
    elif field == "long_token":
        request.token = token + "x" * 300
    else:
        request.previous_agent_id = "p" * 300
    before = snapshot(collector)
    with clients.channel(collector.enroll_port, (collector.data_dir / "ca.crt").read_bytes()) as ch:
        with pytest.raises(grpc.RpcError) as err:
            enrollment_pb2_grpc.EnrollmentStub(ch).Enroll(request, timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.value.details().startswith("request.")
    assert snapshot(collector) == before
    assert collector.cli("agents", "list", "--json").stdout.strip() == "[]"
    time.sleep(0.3)
    assert "Traceback" not in collector.log()
    assert sum("enrollment from" in line for line in collector.log().splitlines()) == 1


def test_a_spool_holding_out_of_bounds_events_drains_and_what_follows_arrives(edge):
    """A spool restored from an older agent holds events the collector would refuse: they go as markers."""
    collector, agent = edge
    agent.write_config(**FAST, checks={"enabled": False})
    agent.emit(2)  # offline, after agent.enrolled
    spool_db = agent.state_dir / "spool" / "spool.db"
    with sqlite3.connect(spool_db) as db:
        last = db.execute("SELECT value FROM meta WHERE key = 'last_seq'").fetchone()[0]
        path = "/media/usb0/" + "長いファイル名" * 1000
        huge = clients.events.encode("media.write", {"path": path, "size": 5}, seq=last + 1)
        rows = [(last + 1, "media.write", huge), (last + 2, "check.result", b"\xff\xfe not an event at all")]
        db.executemany("INSERT INTO events (seq, severity, kind, data) VALUES (?, 3, ?, ?)", rows)
        db.execute("UPDATE meta SET value = value + 2 WHERE key = 'depth'")
        db.execute("UPDATE meta SET value = ? WHERE key = 'last_seq'", (last + 2,))
    db.close()
    agent.emit(3)  # seqs after the poisoned ones
    agent.start()
    wait_for(lambda: agent.spool_depth() == 0, timeout=60, what="the whole spool acked")
    got = {e["seq"]: e for e in collector.events("--agent", agent.agent_id)}
    assert set(range(1, last + 6)) <= set(got), "nothing lost, nothing refused (the run adds agent.started...)"
    assert [got[s]["kind"] for s in range(last - 1, last + 6)] == ["check.result"] * 2 + ["event.oversize"] * 2 + [
        "check.result"
    ] * 3
    cut = got[last + 1]["payload"]
    assert (cut["original_kind"], cut["field"], int(cut["size"]), int(cut["limit"])) == (
        "media.write",
        "media_write.path",
        len(path),
        4096,
    )
    assert got[last + 2]["payload"]["original_kind"] == "unknown"
    assert not collector.events("--kind", "batch.refused")
    flagged = json.loads(collector.cli("violations", "list", "--json").stdout)
    assert any(v["rule_id"] == "OPS-003" and v["agent_id"] == agent.agent_id for v in flagged)
    assert "sent as event.oversize" in agent.log() and "Traceback" not in agent.log() + collector.log()
