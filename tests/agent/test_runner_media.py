"""The runner starts removable-media control with the cached policy, feeds it updates, and says so when it cannot."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import UTC, datetime, timedelta

from agent.config import StateDir
from agent.host.fake import FakeHost
from agent.host.linux.host import LinuxHost
from agent.policy_cache import PolicyCache
from agent.runner import start_media_control
from agent.runstate import read_checks
from agent.spool import Spool
from collector.store import queries
from collector.store import violations as vstore
from mamori import events
from mamori import policy as policy_doc


class Recorder:
    def __init__(self):
        self.calls: list[tuple[str, object]] = []

    def start(self, document):
        self.calls.append(("start", document["usb"]["mode"]))

    def apply(self, document):
        self.calls.append(("apply", document["usb"]["mode"]))

    def stop(self):
        self.calls.append(("stop", None))


class ControlHost(FakeHost):
    def __init__(self, control):
        super().__init__()
        self.control = control

    def media_control(self, emit):
        return self.control


def _kinds(spool):
    return [events.decode_bytes(data) for _, data in spool.pending()]


def test_no_control_is_logged_and_recorded(tmp_path):
    spool = Spool.open(tmp_path / "spool")
    assert start_media_control(FakeHost(), spool, PolicyCache(tmp_path / "p.json", "lgwan")) is None
    [event] = _kinds(spool)
    assert event.kind == "check.result" and event.payload["check_id"] == "media_control"
    assert event.payload["status"] == "fail" and event.severity == "high"
    evidence = json.loads(event.payload["evidence_json"])
    assert evidence == {
        "active": False,
        "mode": "block",
        "reason": "the fake host has no devices to control",
        "host": "FakeHost",
    }
    spool.close()


def test_control_gets_strictest_then_each_accepted_update(tmp_path):
    spool = Spool.open(tmp_path / "spool")
    cache = PolicyCache(tmp_path / "p.json", "lgwan")
    rec = Recorder()
    assert start_media_control(ControlHost(rec), spool, cache) is rec
    doc = json.loads(json.dumps(policy_doc.DEFAULTS["lgwan"]))
    doc["usb"]["mode"] = "audit"
    cache.apply("v1", json.dumps(doc).encode())
    doc["usb"]["allow"] = ["allow nonsense"]
    try:
        cache.apply("v2", json.dumps(doc).encode())
    except policy_doc.PolicyError:
        pass
    assert rec.calls == [("start", "block"), ("apply", "audit")]  # no policy yet = block; bad update unseen
    # In force from the start, and again under the new mode: the evidence always names the mode in force.
    reports = [json.loads(e.payload["evidence_json"]) for e in _kinds(spool)]
    assert [(r["active"], r["mode"]) for r in reports] == [(True, "block"), (True, "audit")]
    spool.close()


class Exploding(Recorder):
    def start(self, document):
        raise PermissionError(13, "Permission denied", "/sys/bus/usb/devices/usb1/authorized_default")


def _collector_sees(engine, spool, agent_id, feed_seq):
    """What the collector makes of the spooled events (store_batch runs the rules as ingest does)."""
    from collector.store.ingest import store_batch

    batch = [dataclasses.replace(e, seq=feed_seq + i + 1) for i, e in enumerate(_kinds(spool))]
    store_batch(engine, agent_id, batch, received_at=batch[-1].occurred_at)
    spool.ack(10**9)
    with engine.connect() as conn:
        return vstore.list_violations(conn, agent_id=agent_id, rule_id="MED-006")


def test_no_usb_sysfs_opens_med006_and_a_control_that_comes_up_clears_it(tmp_path, engine):
    # A host root without /sys/bus/usb/devices (or, not as root, without the right to authorize).
    agent_id = str(uuid.uuid4())
    queries.create_agent(
        engine,
        agent_id=agent_id,
        segment="mynumber",
        department="市民課",
        hostname="pc-1",
        os="linux",
        os_version="12",
        agent_version="0.1",
        machine_id="m",
        cert_serial=7,
        cert_sha256="ab" * 32,
        cert_not_after=datetime.now(UTC) + timedelta(days=365),
        enrolled_at=datetime.now(UTC),
    )
    state = StateDir(tmp_path / "state")
    state.root.mkdir()
    spool = Spool.open(state.spool)
    cache = PolicyCache(state.policy, "mynumber")
    assert start_media_control(LinuxHost(tmp_path / "root"), spool, cache, state) is None
    [event] = _kinds(spool)
    assert event.severity == "critical" and json.loads(event.payload["evidence_json"])["active"] is False
    [v] = _collector_sees(engine, spool, agent_id, 0)
    assert (v.rule_id, v.severity, v.status) == ("MED-006", "critical", "open")
    assert "USB" in v.detail or "root" in v.detail
    assert read_checks(state)["media_control"]["status"] == "fail"  # what `mamori-agent status` shows

    # The guard failing to start is the same violation, counted again.
    assert start_media_control(ControlHost(Exploding()), spool, cache, state) is None
    [v] = _collector_sees(engine, spool, agent_id, 1)
    assert v.status == "open" and v.count == 2

    # The next start with the control in force resolves it, with that report as evidence.
    assert start_media_control(ControlHost(Recorder()), spool, cache, state) is not None
    [v] = _collector_sees(engine, spool, agent_id, 2)
    assert v.status == "resolved" and v.resolved_by == "mamori"
    assert read_checks(state)["media_control"]["status"] == "pass"
    spool.close()
