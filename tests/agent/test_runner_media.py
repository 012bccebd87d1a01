"""The runner starts removable-media control with the cached policy, feeds it updates, and says so when it cannot."""

from __future__ import annotations

import json

from agent.host.fake import FakeHost
from agent.policy_cache import PolicyCache
from agent.runner import start_media_control
from agent.spool import Spool
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
    assert event.kind == "check.result" and event.payload["check_id"] == "media.control"
    assert event.payload["status"] == "error" and event.severity == "high"
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
    assert _kinds(spool) == []
    spool.close()
