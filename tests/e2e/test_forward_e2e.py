"""Real processes: a violation raised while the SIEM is down reaches it from `serve` once it is up; staff get mail."""

from __future__ import annotations

import json
import socket
from email import message_from_bytes, policy

from aiosmtpd.controller import Controller

from tests.collector.forward.forward_helpers import SyslogListener, parse_5424
from tests.e2e.harness import wait_for


class _Inbox:
    def __init__(self):
        self.mails: list[str] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        mail = message_from_bytes(envelope.original_content, policy=policy.default)
        self.mails.append(f"{mail['Subject']}\n{mail.get_content()}")
        return "250 OK"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_violation_reaches_a_late_syslog_receiver_and_staff_mail(collector, make_agent):
    syslog_port, smtp_port = _port(), _port()
    inbox = _Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    config = collector.data_dir / "collector.toml"
    config.write_text(
        config.read_text(encoding="utf-8")
        .replace('syslog = ""', f'syslog = "tcp://127.0.0.1:{syslog_port}"')
        .replace('smtp = ""', f'smtp = "127.0.0.1:{smtp_port}"')
        .replace('from = ""', 'from = "mamori@example.lg.jp"')
        .replace("to = []", 'to = ["soc@example.lg.jp"]'),
        encoding="utf-8",
    )
    receiver = None
    try:
        collector.start()
        agent = make_agent()
        agent.enroll(collector, collector.token(segment="mynumber", department="税務課"))
        agent.write_config(checks={"enabled": False})
        agent.emit(1, kind="media.write")
        agent.start()
        wait_for(lambda: agent.spool_depth() == 0, timeout=60, what="the batch to be acked")
        wait_for(lambda: any("MED-002" in m for m in inbox.mails), timeout=30, what="the alert mail")
        status = {r["destination"]: r for r in json.loads(collector.cli("forward", "status", "--json").stdout)}
        assert status["syslog"]["depth"] >= 1  # nobody listens yet: it waits in the outbox
        receiver = SyslogListener(syslog_port)
        wait_for(
            lambda: any(parse_5424(m)["params"].get("rule") == "MED-002" for m in receiver.messages),
            timeout=60,
            what="the violation at the syslog receiver",
        )
        wait_for(
            lambda: json.loads(collector.cli("forward", "status", "--json").stdout)[0]["depth"] == 0,
            timeout=30,
            what="the outbox to drain",
        )
        med002 = [p for p in map(parse_5424, receiver.messages) if p["params"].get("rule") == "MED-002"]
        assert len(med002) == 1 and med002[0]["params"]["department"] == "税務課"
        assert med002[0]["params"]["agent"] == agent.agent_id
        assert sum("MED-002" in m for m in inbox.mails) == 1
        assert collector.stop() == 0
    finally:
        smtp.stop()
        if receiver is not None:
            receiver.close()
