"""Syslog forwarding: RFC 5424 over octet-counted TCP to a real listener, durable across a receiver outage."""

from __future__ import annotations

import json
import socket
import time

from forward_helpers import T0, parse_5424
from sqlalchemy import select

from collector.forward import outbox, syslog
from collector.forward.outbox import Routes, ViolationRecord
from collector.forward.sender import Sender
from collector.forward.settings import ForwardSettings, SyslogTarget
from collector.store import violations as vstore
from collector.store.models import forward_outbox
from mamori import clock


def _forward(port: int, fmt: str = "json", kinds: tuple[str, ...] = ()) -> ForwardSettings:
    return ForwardSettings(
        syslog=SyslogTarget("tcp", "127.0.0.1", port), format=fmt, violations=True, event_kinds=kinds, facility=16
    )


def _status(engine, destination="syslog"):
    with engine.connect() as conn:
        return next(s for s in outbox.status(conn, clock.now()) if s.destination == destination)


def _violations(engine, agent_id):
    with engine.connect() as conn:
        return vstore.list_violations(conn, agent_id=agent_id)


def _wait(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_violation_raised_while_the_receiver_is_down_arrives_once_it_is_up(engine, terminals, routes, listener):
    # Hold a port with nothing listening on it: connections are refused until the receiver starts there.
    held = socket.socket()
    held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    held.bind(("127.0.0.1", 0))
    port = held.getsockname()[1]
    routes(Routes(forward=_forward(port)))
    agent = terminals.agent(department="税務課", hostname="zeimu-pc01")
    terminals.send(agent, "media.write", {"path": "/media/usb/台帳.xlsx"})
    (v,) = _violations(engine, agent)
    assert _status(engine).depth == 1  # queued in the violation's own transaction

    sender = Sender(engine, outbox.routes(), "test", poll_seconds=0.05, first_backoff=0.05, max_backoff=0.2)
    sender.start()
    try:
        _wait(lambda: _status(engine).attempts >= 2)  # it kept trying while nobody listened
        status = _status(engine)
        assert status.depth == 1 and "cannot connect" in status.last_error
        held.close()
        receiver = listener(port)
        (msg,) = receiver.wait_for(1)
        _wait(lambda: _status(engine).depth == 0)
        time.sleep(0.5)  # more passes: nothing is sent twice
        assert receiver.messages == [msg]
    finally:
        sender.stop()
    parsed = parse_5424(msg)
    assert parsed["pri"] == 16 * 8 + 2  # local0, crit
    assert (parsed["version"], parsed["app"], parsed["msgid"], parsed["sd_id"]) == (
        "1",
        "mamori-collector",
        "violation.opened",
        "mamori@32473",
    )
    assert parsed["timestamp"] == "2026-11-02T01:00:00.000000Z"
    assert parsed["params"] == {
        "violation": str(v.id),
        "change": "opened",
        "rule": "MED-002",
        "severity": "critical",
        "segment": "mynumber",
        "department": "税務課",
        "terminal": "zeimu-pc01",
        "agent": agent,
    }
    assert parsed["msg"].startswith("\ufeff")
    body = json.loads(parsed["msg"][1:])
    assert (body["type"], body["rule_id"], body["violation_id"], body["status"]) == (
        "violation",
        "MED-002",
        v.id,
        "open",
    )


def test_state_changes_follow_in_order_on_one_connection(engine, terminals, routes, listener):
    receiver = listener()
    routes(Routes(forward=_forward(receiver.port)))
    agent = terminals.agent()
    terminals.send(agent, "media.write", {"path": "/m/a"})
    (v,) = _violations(engine, agent)
    with engine.begin() as conn:
        vstore.acknowledge(conn, v.id, by="佐藤", at=T0, note=None)
    with engine.begin() as conn:
        vstore.resolve(conn, v.id, by="佐藤", at=T0, note="媒体を回収")
    sender = Sender(engine, outbox.routes(), "test")
    sender.run_once()
    sender.run_once()
    sender.stop()
    msgs = receiver.wait_for(3)
    assert [parse_5424(m)["msgid"] for m in msgs] == [
        "violation.opened",
        "violation.acknowledged",
        "violation.resolved",
    ]
    assert receiver.connections == 1 and _status(engine).depth == 0


def test_agent_text_cannot_break_framing_or_structured_data(engine, terminals, routes, listener):
    receiver = listener()
    routes(Routes(forward=_forward(receiver.port, kinds=("usb.*",))))
    hostile = 'pc"]\\\n<13>1 forged'
    agent = terminals.agent(department='税]務"課', hostname=hostile)
    terminals.send(agent, "usb.blocked", {"vendor_id": "0781", "product": "x\n<13>1 - - - - - forged\u2028"})
    sender = Sender(engine, outbox.routes(), "test")
    sender.run_once()
    sender.stop()
    msgs = receiver.wait_for(2)  # the event, and the MED-005 violation it raised
    assert all(b"\n" not in m and "\u2028".encode() not in m for m in msgs)
    assert sorted(parse_5424(m)["msgid"] for m in msgs) == ["event", "violation.opened"]
    parsed = next(p for p in map(parse_5424, msgs) if p["msgid"] == "event")
    assert parsed["params"]["terminal"] == 'pc"]\\\\x0a<13>1 forged'  # the newline made visible, escapes undone
    assert parsed["params"]["department"] == '税]務"課'
    body = json.loads(parsed["msg"][1:])
    assert body["payload"]["product"] == "x\n<13>1 - - - - - forged\u2028"  # JSON escapes keep the text exact


def test_a_replayed_event_is_forwarded_once(engine, terminals, routes):
    routes(Routes(forward=_forward(9, kinds=("usb.*",))))
    agent = terminals.agent(segment="lgwan")
    (ev,) = terminals.send(agent, "usb.blocked", {"vendor_id": "0781"})
    terminals.send(agent, "agent.started", {})
    from collector.store.ingest import store_batch

    store_batch(engine, agent, [ev], received_at=T0)  # the agent resends a batch it got no ack for
    with engine.connect() as conn:
        records = [r.record for r in outbox.pending(conn, "syslog", 100)]
    # the event first, then the violation it raised; the replay added nothing
    assert [(r.type, getattr(r, "kind", None)) for r in records] == [("event", "usb.blocked"), ("violation", None)]


def test_cef_escapes_header_and_extension():
    record = ViolationRecord(
        change="opened",
        at=T0.isoformat(),
        violation_id=7,
        rule_id="MED-002",
        severity="critical",
        status="open",
        segment="mynumber",
        department="a=b|c",
        agent_id="x",
        terminal="pc|1\\",
        detail="line1\nline2 k=v",
        detail_message=None,
    )
    msg = syslog.message(record, _forward(1, fmt="cef"), hostname="collector01").decode()
    body = msg.split("] ", 1)[1].lstrip("\ufeff")
    assert body.startswith("CEF:0|Mamori|mamori-collector|")
    fields = body.split("|")
    assert fields[4] == "MED-002" and fields[6] == "10"
    ext = body.split("|10|", 1)[1]
    assert "msg=line1\\nline2 k\\=v" in ext and "cs2=a\\=b|c" in ext and "dhost=pc|1\\\\" in ext
    assert "\n" not in msg


def test_records_stay_until_sent_and_only_the_lease_holder_sends(engine, terminals, routes):
    routes(Routes(forward=_forward(9)))
    agent = terminals.agent()
    terminals.send(agent, "media.write", {"path": "/m/a"})
    now = clock.now()
    assert outbox.take_lease(engine, "syslog", "collector-a", now, 30)
    assert not outbox.take_lease(engine, "syslog", "collector-b", now, 30)
    assert outbox.take_lease(engine, "syslog", "collector-a", now, 30)  # renewing its own
    from datetime import timedelta

    assert outbox.take_lease(engine, "syslog", "collector-b", now + timedelta(seconds=31), 30)  # a lapsed holder
    with engine.connect() as conn:
        assert conn.execute(select(forward_outbox.c.id)).all()


def _tls_receiver(tmp_path, listener):
    import ssl

    from collector import pki

    ca_key, ca_cert = pki.create_ca("Test SIEM CA")
    key, cert = pki.issue_server_cert(ca_key, ca_cert, ["127.0.0.1"])
    (tmp_path / "siem.key").write_bytes(key)
    (tmp_path / "siem.crt").write_bytes(cert)
    (tmp_path / "ca.crt").write_bytes(ca_cert)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "siem.crt", tmp_path / "siem.key")
    return listener(tls=context)


def test_tls_receiver_is_verified_against_the_configured_ca(engine, terminals, routes, listener, tmp_path):
    receiver = _tls_receiver(tmp_path, listener)
    target = SyslogTarget("tls", "127.0.0.1", receiver.port, str(tmp_path / "ca.crt"))
    routes(Routes(forward=ForwardSettings(syslog=target, format="json", violations=True, event_kinds=(), facility=16)))
    agent = terminals.agent()
    terminals.send(agent, "media.write", {"path": "/m/a"})
    # Without the CA (the system's CAs only) the receiver is not trusted: nothing is sent, the record stays.
    untrusted = Routes(
        forward=ForwardSettings(
            syslog=SyslogTarget("tls", "127.0.0.1", receiver.port),
            format="json",
            violations=True,
            event_kinds=(),
            facility=16,
        )
    )
    Sender(engine, untrusted, "test").run_once()
    assert receiver.messages == [] and _status(engine).depth == 1
    assert "certificate verify failed" in _status(engine).last_error
    sender = Sender(engine, outbox.routes(), "test")
    sender.run_once()
    sender.stop()
    (msg,) = receiver.wait_for(1)
    assert parse_5424(msg)["params"]["rule"] == "MED-002" and _status(engine).depth == 0


def test_udp_sends_one_datagram_per_message(engine, terminals, routes):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", 0))
        udp.settimeout(10)
        target = SyslogTarget("udp", "127.0.0.1", udp.getsockname()[1])
        routes(
            Routes(forward=ForwardSettings(syslog=target, format="cef", violations=True, event_kinds=(), facility=23))
        )
        terminals.send(terminals.agent(), "media.write", {"path": "/m/a"})
        Sender(engine, outbox.routes(), "test").run_once()
        datagram = udp.recv(65535)
    parsed = parse_5424(datagram)  # no octet count on UDP (RFC 5426)
    assert parsed["pri"] == 23 * 8 + 2 and parsed["msg"].lstrip("\ufeff").startswith("CEF:0|Mamori|")


def test_two_collectors_on_one_database_send_each_record_once(engine, terminals, routes, listener):
    receiver = listener()
    routes(Routes(forward=_forward(receiver.port)))
    senders = [Sender(engine, outbox.routes(), name, poll_seconds=0.01, batch=5) for name in ("c1", "c2")]
    for s in senders:
        s.start()
    try:
        agents = [terminals.agent() for _ in range(12)]
        for agent in agents:
            terminals.send(agent, "media.write", {"path": "/m/a"})
        msgs = receiver.wait_for(12)
        _wait(lambda: _status(engine).depth == 0)
        time.sleep(0.3)
    finally:
        for s in senders:
            s.stop()
    ids = [parse_5424(m)["params"]["violation"] for m in receiver.messages]
    assert len(msgs) == 12 and sorted(ids, key=int) == ids and len(set(ids)) == 12  # once each, in order
