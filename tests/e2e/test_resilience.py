"""Shutdown, TLS floor, and sequence gaps: the collector stops cleanly and never trusts a broken history."""

from __future__ import annotations

import shutil
import signal
import socket
import ssl
import warnings

import pytest

from tests.e2e.harness import wait_for
from tests.e2e.test_delivery import delivered_all, enrolled, seqs


def _handshake(port: int, version: ssl.TLSVersion) -> str:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_ciphers("ALL:@SECLEVEL=0")  # let the client offer old protocols; the server must refuse them
    ctx.minimum_version = ctx.maximum_version = version
    ctx.set_alpn_protocols(["h2"])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, ctx.wrap_socket(raw) as tls:
        return tls.version()


@pytest.mark.parametrize("which", ["port", "enroll_port"])
def test_tls_below_1_2_is_refused_on_both_ports(collector, which):
    collector.start()
    port = getattr(collector, which)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        for old in (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1):
            with pytest.raises(ssl.SSLError):
                _handshake(port, old)
    if which == "enroll_port":  # the telemetry port also wants a client certificate to finish
        assert _handshake(port, ssl.TLSVersion.TLSv1_2) == "TLSv1.2"


def test_sigterm_drains_and_exits_cleanly_then_agents_resume(collector, make_agent):
    collector.start()
    agent = enrolled(collector, make_agent, "a")
    agent.start()
    wait_for(lambda: "connected to collector" in agent.log(), what="agent connected")
    agent.emit(2000)
    assert collector.stop(signal.SIGTERM, timeout=20) == 0
    log = collector.log()
    assert "shutting down" in log and "stopped" in log.splitlines()[-1]
    assert "Traceback" not in log
    collector.start()
    got = delivered_all(collector, agent, 2004)
    assert got == list(range(1, len(got) + 1))


def test_lost_spool_events_show_as_a_gap(collector, make_agent):
    """Events spooled but never sent, then the spool file deleted: the collector records the hole."""
    collector.start()
    agent = enrolled(collector, make_agent, "a")
    agent.start()
    first = delivered_all(collector, agent, 4)
    agent.stop()
    collector.stop()
    agent.emit(5)  # seqs after the stored ones, never delivered
    (agent.state_dir / "spool" / "spool.db").unlink()
    collector.start()
    agent.start()
    gap = wait_for(lambda: collector.events("--kind", "sequence.gap"), what="sequence.gap event")
    assert len(gap) == 1
    missing = gap[0]["payload"]
    assert missing["first_missing"] == max(first) + 2  # +1 was agent.stopped, then the 5 emitted ones
    assert missing["last_missing"] >= missing["first_missing"] + 4
    kinds = [e["kind"] for e in collector.events("--agent", agent.agent_id)]
    assert "spool.corrupt" in kinds, "the agent also says its spool vanished"


def test_whole_spool_folder_deleted_new_events_still_stored(collector, make_agent):
    """Deleting spool/ (db and seq mark) restarts seqs at 1; the agent moves them up instead of losing them."""
    collector.start()
    agent = enrolled(collector, make_agent, "a")
    agent.start()
    before = delivered_all(collector, agent, 4)
    agent.stop()
    shutil.rmtree(agent.state_dir / "spool")
    agent.emit(7)
    agent.start()

    def emitted():
        return [
            e
            for e in collector.events("--agent", agent.agent_id, "--kind", "check.result")
            if e["payload"].get("check_id") == "mamori.test_event"
        ]

    wait_for(lambda: len(emitted()) == 7, what="the 7 new events stored, not discarded as replays")
    tamper = collector.events("--kind", "agent.tamper")
    assert tamper and "renumbered" in tamper[0]["payload"]["detail"]
    after = seqs(collector.events("--agent", agent.agent_id), agent.agent_id)
    assert len(after) == len(set(after)) and min(after) == 1 and max(after) > max(before)
