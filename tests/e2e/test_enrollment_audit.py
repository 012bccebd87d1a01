"""Enrollment over the real port: revoked tokens, the audit trail of every attempt, the throttle, host names."""

from __future__ import annotations

import json
import time

import grpc
import pytest

from tests.e2e import clients

FORGED = "pc-evil\n2026-12-02 INFO forged line\x1b[31m\x1b]0;owned\x07"


def _ca(collector) -> bytes:
    return (collector.data_dir / "ca.crt").read_bytes()


def _audit(collector, action: str) -> list[dict]:
    return json.loads(collector.cli("audit-log", "list", "--action", action, "--json").stdout)


def _token_id(collector) -> int:
    return max(t["id"] for t in json.loads(collector.cli("token", "list", "--json").stdout))


def test_a_revoked_token_cannot_enroll(collector, make_agent):
    collector.start()
    token = collector.token(uses=5)
    token_id = _token_id(collector)
    assert make_agent("first").enroll(collector, token).returncode == 0
    collector.cli("token", "revoke", str(token_id), "--by", "佐藤")
    proc = make_agent("late").enroll(collector, token, check=False)
    assert proc.returncode == 2 and "revoked" in proc.stderr
    assert len(collector.agents()) == 1
    listed = json.loads(collector.cli("token", "list", "--json").stdout)
    assert [(t["state"], t["uses_left"]) for t in listed] == [("revoked", 4)]
    assert token not in json.dumps(listed)


def test_every_attempt_is_audited_with_peer_and_reason(collector, make_agent):
    collector.start()
    agent = make_agent("a")
    spent = collector.token()
    agent.enroll(collector, spent)
    spent_id = _token_id(collector)
    expired = collector.token(expires="1s")
    revoked = collector.token(uses=3)
    collector.cli("token", "revoke", str(_token_id(collector)))
    time.sleep(1.2)
    for token in ("mmr_guessed", expired, revoked, spent):
        with pytest.raises(grpc.RpcError) as err:
            clients.enroll(collector.enroll_port, _ca(collector), token)
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED

    [ok] = [e for e in _audit(collector, "agent.enroll") if e["action"] == "agent.enroll"]
    assert ok["target"] == f"agent:{agent.agent_id}" and ok["actor"] == "mamori"
    assert ok["details"]["peer"] == "127.0.0.1" and ok["details"]["token_id"] == spent_id
    refused = _audit(collector, "agent.enroll_refused")
    assert [r["details"]["reason"] for r in reversed(refused)] == ["unknown", "expired", "revoked", "used_up"]
    assert {r["target"] for r in refused} == {"peer:127.0.0.1"}
    assert refused[0]["details"]["token_id"] == spent_id and refused[-1]["details"]["token_id"] is None
    assert collector.cli("audit-log", "verify").returncode == 0


def test_failures_from_one_address_are_throttled(collector):
    collector.start()
    good = collector.token()
    for _i in range(5):
        with pytest.raises(grpc.RpcError) as err:
            clients.enroll(collector.enroll_port, _ca(collector), "mmr_guess")
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    # Now even a valid token is refused from this address, without being spent.
    with pytest.raises(grpc.RpcError) as err:
        clients.enroll(collector.enroll_port, _ca(collector), good)
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert json.loads(collector.cli("token", "list", "--json").stdout)[0]["uses_left"] == 1
    assert len(_audit(collector, "agent.enroll_refused")) == 5  # the flood itself does not fill the log
    assert "throttled" in collector.log()


def test_a_forged_host_name_is_one_log_line_and_escaped_in_tables(collector):
    collector.start()
    reply = clients.enroll(collector.enroll_port, _ca(collector), collector.token(), hostname=FORGED)
    log = collector.log()
    assert "forged line" in log
    [line] = [ln for ln in log.splitlines() if "forged line" in ln]
    assert reply.agent_id in line and "\\x0a2026-12-02 INFO forged line\\x1b[31m" in line
    assert "\x1b" not in log
    out = collector.cli("agents", "list").stdout
    assert "\x1b" not in out and "pc-evil\\x0a2026" in out and out.count("\n") == 2  # header + one row
    assert collector.agents()[0]["hostname"] == FORGED  # stored as sent: escaping is for display
