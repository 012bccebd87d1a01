"""Certificates across their expiry: minute lifetimes, real collector and agent processes on 127.0.0.1.

One run covers the lot, because each expiry costs real minutes: the server certificate renews itself while
serving, an agent renews its own before it expires (and keeps delivering after the first one would have
expired, across a collector restart), and an agent left offline past expiry says so.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from collector import pki
from tests.e2e.harness import Collector, run_cli, wait_for

EXPIRED_EN = "certificate expired: re-enroll with a new token"
EXPIRED_JA = "証明書の有効期限切れ: 新しいトークンで再登録してください"


def _configure(config: Path, **values: object) -> None:
    text = config.read_text(encoding="utf-8")
    for key, value in values.items():
        text, n = re.subn(rf"^{key} = .*$", f"{key} = {json.dumps(value)}", text, flags=re.M)
        assert n == 1, key
    config.write_text(text, encoding="utf-8")


def _short_server_cert(collector: Collector, lifetime: timedelta) -> str:
    """Replace init's server certificate by one that runs out during the test."""
    data = collector.data_dir
    key, cert = pki.issue_server_cert(
        (data / "ca.key").read_bytes(), (data / "ca.crt").read_bytes(), ["127.0.0.1", "localhost"], lifetime
    )
    (data / "server.key").write_bytes(key)
    (data / "server.crt").write_bytes(cert)
    return pki.horizon(cert).serial_hex


def _agent_row(collector: Collector, agent_id: str) -> dict:
    return next(a for a in collector.agents() if a["id"] == agent_id)


def _not_after(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def test_certificates_renew_across_expiry_and_restart(collector, make_agent):
    _configure(
        collector.data_dir / "collector.toml",
        agent_cert_lifetime="2m",
        server_cert_lifetime="2m",
        check_seconds=1.0,
        tick_seconds=2.0,
    )
    first_server_serial = _short_server_cert(collector, timedelta(seconds=60))
    collector.start()
    online, offline = make_agent("online"), make_agent("offline")
    online.enroll(collector, collector.token())
    offline.enroll(collector, collector.token())  # never started: it stays offline past its expiry
    online.write_config(certs={"check_seconds": 1.0}, shipper={"heartbeat_seconds": 2.0})
    online.start()
    first = _agent_row(collector, online.agent_id)
    first_expiry = _not_after(first["cert_not_after"])

    # The server certificate renews itself while serving (it had 60 s) ...
    wait_for(
        lambda: pki.horizon((collector.data_dir / "server.crt").read_bytes()).serial_hex != first_server_serial,
        timeout=90,
        interval=1,
        what="server certificate renewal",
    )
    # ... and the agent renews its own with less than a third of its 2 minutes left: over a new handshake
    # after the first server certificate expired, so the collector serves the renewed one without a restart.
    renewed = wait_for(
        lambda: (row := _agent_row(collector, online.agent_id))["cert_serial"] != first["cert_serial"] and row,
        timeout=150,
        interval=1,
        what="agent certificate renewal",
    )
    assert "renewed this agent's certificate" in online.log()
    # Same identity: id, segment and 所属 come from the record, not from the request.
    assert (renewed["id"], renewed["segment"], renewed["department"]) == (first["id"], "lgwan", "情報政策課")
    assert _not_after(renewed["cert_not_after"]) > first_expiry
    audit = json.loads(collector.cli("audit-log", "list", "--action", "agent.cert_renew", "--json").stdout)
    assert any(
        e["target"] == f"agent:{online.agent_id}" and e["details"]["old_serial"] == first["cert_serial"] for e in audit
    )

    collector.stop()
    collector.start()
    # Past the first certificate's expiry: the agent still delivers, with the renewed certificate.
    wait_for(
        lambda: datetime.now(UTC) > first_expiry + timedelta(seconds=5),
        timeout=180,
        interval=1,
        what="the first certificate's expiry",
    )
    before = len(collector.events("--agent", online.agent_id))
    online.emit(3)
    wait_for(
        lambda: len(collector.events("--agent", online.agent_id)) >= before + 3,
        timeout=60,
        interval=1,
        what="events delivered after the first certificate expired",
    )
    assert "certificate expired" not in online.log()

    # The offline terminal: status says what to do, in Japanese by default, and the agent's log says it too.
    status = json.loads(offline.cli("status", "--json").stdout)
    assert status["certificate_expired"] is True and status["last_error"] == EXPIRED_EN
    shown = run_cli("agent.cli", "--state-dir", str(offline.state_dir), "status", env={"MAMORI_LANG": "ja"})
    assert EXPIRED_JA in shown.stdout
    offline.start()
    wait_for(lambda: EXPIRED_EN in offline.log(), timeout=30, what="the expired message in the agent's log")
    assert "cannot reach collector" not in offline.log()
    offline.stop()

    # pki status names every horizon; the expired terminal is OPS-006 and summary warns.
    rows = json.loads(collector.cli("pki", "status", "--json").stdout)
    by_name = {r["name"]: r for r in rows}
    assert {r["kind"] for r in rows} == {"ca", "server", "agent"}
    assert by_name[offline.agent_id]["expired"] is True and by_name[offline.agent_id]["days_left"] <= 0
    assert by_name[online.agent_id]["expired"] is False
    assert by_name["ca.crt"]["days_left"] > 3000
    flagged = wait_for(
        lambda: [
            v
            for v in json.loads(collector.cli("violations", "list", "--rule", "OPS-006", "--json").stdout)
            if v["agent_id"] == offline.agent_id
        ],
        timeout=30,
        interval=1,
        what="OPS-006",
    )
    assert flagged[0]["severity"] == "high"
    summary = json.loads(collector.cli("summary", "--json").stdout)
    assert offline.agent_id in {c["name"] for c in summary["certificates_expiring"]}
    assert "pki status" in collector.cli("summary").stdout
