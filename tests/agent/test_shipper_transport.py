"""The shipper's stream logic against the in-memory collector: acks, renumbering, heartbeats, pushes, refusals."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from agent.transport import Ack, Batch, Heartbeat, Hello, PolicyUpdate, Renewed, StreamError, TrustUpdate
from mamori import clock, policy
from mamori.events import MAX_SEQ, decode_bytes
from tests.agent.shipper_rig import AGENT_ID, NOW, Rig, make_rig, running


@pytest.fixture(autouse=True)
def fixed_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock, "now", lambda: NOW)


def seqs(batch: Batch) -> list[int]:
    return [decode_bytes(data).seq for data in batch.events]


def batches(rig: Rig) -> list[Batch]:
    return rig.collector.sent(Batch)


def heartbeats(rig: Rig) -> list[Heartbeat]:
    return rig.collector.sent(Heartbeat)


def test_partial_repeated_stale_and_overreaching_acks(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, batch_max_events=2)
    c = rig.collector
    c.auto_ack = False
    rig.emit(5)

    async def body() -> None:
        async with running(rig):
            await c.until(lambda: len(batches(rig)) == 3)
            assert [seqs(b) for b in batches(rig)] == [[1, 2], [3, 4], [5]]
            c.stream.push(Ack(1, 1))  # part of the first batch: only seq 1 goes
            await c.until(lambda: rig.pending_seqs() == [2, 3, 4, 5])
            c.stream.push(Ack(3, 5))  # acks arrive out of order: the later batch first
            await c.until(lambda: rig.pending_seqs() == [])
            c.stream.push(Ack(2, 4))  # the earlier batch's ack, late
            c.stream.push(Ack(3, 5))  # and a repeat
            await c.until(lambda: c.stream.idle)
            assert rig.shipper.status.last_ack_seq == 5, "a late ack does not move the mark back"
            rig.emit(1)  # seq 6
            await c.until(lambda: len(batches(rig)) == 4)
            rig.emit(1)  # seq 7, recorded after batch 4 went out
            await c.until(lambda: len(batches(rig)) == 5)
            c.stream.push(Ack(5, 7))  # batches 4 and 5 in one ack
            c.stream.push(Ack(4, 40))  # beyond anything sent: never deletes events the collector did not get
            await c.until(lambda: c.stream.idle)
            assert rig.pending_seqs() == [] and rig.shipper.status.last_ack_seq == 7
            rig.emit(1)  # seq 8 is still delivered, not dropped by the ack for 40
            await c.until(lambda: len(batches(rig)) == 6)
            assert seqs(batches(rig)[-1]) == [8] and rig.pending_seqs() == [8]
            assert sum(len(b.events) for b in batches(rig)) == 8, "nothing was sent twice"

    asyncio.run(body())


def test_a_welcome_ahead_of_the_spool_renumbers_it_before_anything_is_sent(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    c = rig.collector
    c.last_stored_seq = 10  # the collector holds more of this agent than a new spool knows
    rig.emit(3)

    async def body() -> None:
        async with running(rig):
            await c.until(lambda: rig.pending_seqs() == [] and len(c.stored) == 4)
        assert sorted(c.stored) == [11, 12, 13, 14]
        assert [decode_bytes(c.stored[s]).kind for s in (11, 12, 13, 14)] == ["check.result"] * 3 + ["agent.tamper"]
        assert "renumbered by 10" in decode_bytes(c.stored[14]).payload["detail"]
        assert rig.spool.append("check.result", {"check_id": "x", "status": "pass"}) == 15

    asyncio.run(body())


def test_a_welcome_at_or_behind_the_spool_changes_nothing(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    rig.emit(3)

    async def body() -> None:
        async with running(rig):
            await rig.collector.until(lambda: rig.pending_seqs() == [])
        assert sorted(rig.collector.stored) == [1, 2, 3]

    asyncio.run(body())


def test_a_welcome_beyond_the_seq_bound_is_refused_and_the_spool_kept(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    rig.collector.last_stored_seq = MAX_SEQ + 1
    rig.emit(2)

    async def body() -> None:
        async with running(rig):
            await rig.collector.until(lambda: rig.shipper.status.refused)
            assert "not renumbering the spool" in rig.shipper.status.last_error
            assert rig.pending_seqs() == [1, 2] and batches(rig) == []
            # retried slowly: the same answer comes on every reconnect
            assert await rig.clock.until_armed() == [rig.clock.now + 60.0]

    asyncio.run(body())


def test_heartbeats_keep_their_schedule_while_events_flow(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, heartbeat_seconds=60.0, poll_seconds=1000.0)
    c, t = rig.collector, rig.clock
    start = t.now

    async def body() -> None:
        async with running(rig):
            await c.until(lambda: len(heartbeats(rig)) == 1)  # at once on connect
            assert await t.until_armed() == [start + 60]
            t.advance(59)
            await c.until(lambda: c.stream.idle)
            assert len(heartbeats(rig)) == 1 and t.deadlines == [start + 60]
            t.advance(1)
            await c.until(lambda: len(heartbeats(rig)) == 2)
            assert await t.until_armed() == [start + 120]
            t.advance(30)
            rig.emit(3)  # sending and acks in between do not push the next heartbeat back
            await c.until(lambda: rig.pending_seqs() == [] and t.deadlines == [start + 120])
            t.advance(30)
            await c.until(lambda: len(heartbeats(rig)) == 3)
        assert [h.uptime_seconds for h in heartbeats(rig)] == [0, 60, 120]
        assert heartbeats(rig)[0].spool_depth == 0 and heartbeats(rig)[0].policy_mode == "strictest"

    asyncio.run(body())


def test_a_pushed_policy_is_applied_persisted_reported_and_named_in_the_next_hello(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    c = rig.collector
    document = policy.DEFAULTS["internet"]
    version = policy.version_of(document)

    async def body() -> None:
        async with running(rig):
            await c.until(lambda: bool(c.streams) and c.stream.idle)
            c.stream.push(PolicyUpdate(version, "internet", json.dumps(document).encode()))
            await c.until(lambda: any(decode_bytes(d).kind == "policy.applied" for d in c.stored.values()))
            assert rig.policy.current.version == version and rig.policy.current.source == "collector"
            assert json.loads(rig.state.policy.read_text(encoding="utf-8"))["document"] == document
            c.stream.end()  # the collector restarts
            await c.until(lambda: not rig.shipper.status.connected)
            rig.clock.advance(1)  # past the first reconnect delay (at most backoff_initial_seconds)
            await c.until(lambda: len(c.streams) == 2 and len(c.stream.sent) > 0)
        assert [h.policy_version for h in c.sent(Hello)] == ["", version]

    asyncio.run(body())


def test_a_policy_for_another_segment_is_rejected_and_changes_nothing(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    c = rig.collector
    other = policy.DEFAULTS["mynumber"]

    async def body() -> None:
        async with running(rig):
            await c.until(lambda: bool(c.streams) and c.stream.idle)
            c.stream.push(PolicyUpdate("v-other", "mynumber", json.dumps(other).encode()))
            await c.until(lambda: any(decode_bytes(d).kind == "policy.rejected" for d in c.stored.values()))
        rejected = [decode_bytes(d).payload for d in c.stored.values() if decode_bytes(d).kind == "policy.rejected"]
        assert rejected[0]["version"] == "v-other" and "not internet" in rejected[0]["reason"]
        assert rig.policy.current.source == "strictest" and not rig.state.policy.exists()

    asyncio.run(body())


def test_a_refused_batch_keeps_the_events_and_is_sent_again_after_the_backoff(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, backoff_initial_seconds=0.5, backoff_max_seconds=60.0)
    c, t = rig.collector, rig.clock
    c.refuse_batches = "INVALID_ARGUMENT"
    rig.emit(2)

    async def body() -> None:
        async with running(rig):
            await c.until(lambda: rig.shipper.status.last_error.startswith("INVALID_ARGUMENT"))
            status = rig.shipper.status
            assert not status.refused and not status.connected and rig.pending_seqs() == [1, 2]
            (deadline,) = await t.until_armed()
            assert t.now + 0.25 <= deadline <= t.now + 1.0  # a second failed attempt: up to twice the first delay
            c.refuse_batches = ""  # staff fixed the collector side
            t.advance(1.0)
            await c.until(lambda: rig.pending_seqs() == [])
        first, again = batches(rig)
        assert seqs(first) == seqs(again) == [1, 2] and first.events == again.events
        assert sorted(c.stored) == [1, 2]

    asyncio.run(body())


def test_a_revoked_agent_keeps_spooling_and_retries_at_the_slowest_pace(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, backoff_max_seconds=60.0)
    c = rig.collector
    c.auto_welcome = False
    rig.emit(1)

    async def body() -> None:
        async with running(rig):
            await c.until(lambda: bool(c.streams) and bool(c.stream.sent))
            c.stream.end(StreamError("PERMISSION_DENIED", "agent has been revoked"))
            await c.until(lambda: rig.shipper.status.refused)
            assert await rig.clock.until_armed() == [rig.clock.now + 60.0]
        assert rig.shipper.status.last_error == "PERMISSION_DENIED: agent has been revoked"
        assert rig.pending_seqs() == [1] and batches(rig) == []

    asyncio.run(body())


def test_an_unreachable_collector_is_named_then_reached(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    c = rig.collector
    c.reachable = False
    rig.emit(1)

    async def body() -> None:
        async with running(rig):
            await c.until(lambda: rig.shipper.status.last_error == "cannot reach collector memory")
            c.reachable = True
            (deadline,) = await rig.clock.until_armed()
            rig.clock.advance(deadline - rig.clock.now)
            await c.until(lambda: rig.pending_seqs() == [])

    asyncio.run(body())


def test_flush_delivers_everything_and_half_closes(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, batch_max_events=2)
    rig.emit(5)

    async def body() -> None:
        assert await rig.shipper.flush(5.0)
        assert rig.collector.stream.ended and sorted(rig.collector.stored) == [1, 2, 3, 4, 5]

    asyncio.run(body())


def _spki(key: PublicKeyTypes) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _signer(rig: Rig, ca_key: bytes, ca_cert: bytes, agent_id: str = AGENT_ID):
    from collector import pki

    return lambda csr: Renewed(pki.sign_agent_csr(ca_key, ca_cert, csr, agent_id), ca_cert)


def test_a_ca_rollover_trusts_the_new_bundle_and_renews_from_the_new_ca(tmp_path: Path) -> None:
    from collector import pki

    rig = make_rig(tmp_path)
    c = rig.collector
    new_key, new_cert = pki.create_ca("Mamori Collector CA 2")
    c.renew_with = _signer(rig, new_key, new_cert)
    bundle = rig.ca_cert + new_cert
    old_pair = (rig.state.key.read_bytes(), rig.state.cert.read_bytes())

    async def body() -> None:
        async with running(rig):
            await c.until(lambda: bool(c.streams) and c.stream.idle)
            c.stream.push(TrustUpdate(bundle, renew_now=True))
            await c.until(lambda: c.stream.idle and len(c.csrs) == 1)

    asyncio.run(body())
    assert rig.state.ca_cert.read_bytes() == bundle
    assert (rig.state.key.read_bytes(), rig.state.cert.read_bytes()) != old_pair
    cert = x509.load_pem_x509_certificate(rig.state.cert.read_bytes())
    assert cert.issuer == x509.load_pem_x509_certificate(new_cert).subject
    csr = x509.load_pem_x509_csr(c.csrs[0])
    assert _spki(csr.public_key()) == _spki(cert.public_key()), "the certificate is for the key made in the CSR"


def test_a_renewal_for_another_agent_is_refused_and_the_old_pair_kept(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    c = rig.collector
    c.renew_with = _signer(rig, rig.ca_key, rig.ca_cert, agent_id="someone-else")
    old_pair = (rig.state.key.read_bytes(), rig.state.cert.read_bytes())

    async def body() -> None:
        async with running(rig):
            await c.until(lambda: bool(c.streams) and c.stream.idle)
            c.stream.push(TrustUpdate(b"", renew_now=True))
            await c.until(lambda: c.stream.idle and len(c.csrs) == 1)
            assert rig.shipper.status.connected, "a failed renewal does not end the stream"

    asyncio.run(body())
    assert (rig.state.key.read_bytes(), rig.state.cert.read_bytes()) == old_pair
