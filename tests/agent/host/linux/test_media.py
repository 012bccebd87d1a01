"""Linux media control: a USB guard that dies says so as the media_control report MED-006 reads."""

from __future__ import annotations

import json

from agent.host.linux.media import LinuxMediaControl


class Events:
    closed = False

    def receive(self, timeout):
        raise OSError(105, "No buffer space available")

    def close(self):
        self.closed = True


def test_guard_loop_failure_is_reported_as_not_in_force(tmp_path):
    emitted = []
    control = LinuxMediaControl(lambda k, p: emitted.append((k, p)), tmp_path)
    control.document = {"usb": {"mode": "allowlist"}}
    control.guard = object()  # type: ignore[assignment]
    events = Events()
    control._loop(events)  # type: ignore[arg-type]
    [(kind, body)] = emitted
    evidence = json.loads(body["evidence_json"])
    assert (kind, body["check_id"], body["status"]) == ("check.result", "media_control", "fail")
    assert evidence["active"] is False and evidence["mode"] == "allowlist"
    assert evidence["reason"].startswith("USB guard failed: OSError") and events.closed
