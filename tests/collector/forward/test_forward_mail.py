"""Mail alerts through a real SMTP server on 127.0.0.1 (aiosmtpd): one mail per critical violation, digests."""

from __future__ import annotations

import socket
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller

from collector.forward import outbox
from collector.forward.outbox import Routes
from collector.forward.sender import Sender
from collector.forward.settings import AlertSettings
from mamori import clock


class Inbox:
    def __init__(self):
        self.mails: list = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        mail = message_from_bytes(envelope.original_content, policy=policy.default)
        self.mails.append((sorted(envelope.rcpt_tos), mail))
        return "250 OK"


@pytest.fixture
def smtp():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    inbox.port = port
    yield inbox
    controller.stop()


def _alerts(port, **over):
    values = dict(
        host="127.0.0.1",
        port=port,
        starttls=False,
        username="",
        password="",
        sender="mamori@example.lg.jp",
        to=("soc@example.lg.jp",),
        min_severity="critical",
        digest_over=5,
        lang="ja",
        by_department={"税務課": ("zeimu@example.lg.jp",)},
    )
    values.update(over)
    return AlertSettings(**values)


def _depth(engine):
    with engine.connect() as conn:
        return next(s.depth for s in outbox.status(conn, clock.now()) if s.destination == "mail")


def test_a_critical_violation_is_mailed_once_to_its_recipients(engine, terminals, routes, smtp):
    routes(Routes(alerts=_alerts(smtp.port)))
    agent = terminals.agent(department="税務課", hostname="zeimu-pc01")
    terminals.send(agent, "media.write", {"path": "/media/usb/台帳.xlsx"})  # MED-002, critical
    terminals.send(agent, "media.write", {"path": "/media/usb/b.xlsx"})  # a repeat: the same violation
    lgwan = terminals.agent(segment="lgwan", department="税務課")
    terminals.send(lgwan, "usb.blocked", {"vendor_id": "0781"})  # MED-005, medium: below the threshold
    sender = Sender(engine, outbox.routes(), "test")
    sender.run_once()
    sender.run_once()
    sender.stop()
    assert _depth(engine) == 0
    ((rcpts, mail),) = smtp.mails
    assert rcpts == ["soc@example.lg.jp", "zeimu@example.lg.jp"]  # everyone's, then the 所属's own
    assert mail["Subject"] == "[Mamori] 重大 の違反 MED-002 (zeimu-pc01 / 税務課)"
    body = mail.get_content()
    assert "MED-002" in body and "zeimu-pc01" in body and "税務課" in body and "重大" in body


def test_mail_is_in_english_by_config(engine, terminals, routes, smtp):
    routes(Routes(alerts=_alerts(smtp.port, lang="en")))
    agent = terminals.agent(department="市民課", hostname="pc-9")
    terminals.send(agent, "media.write", {"path": "/m/a"})
    Sender(engine, outbox.routes(), "test").run_once()
    ((rcpts, mail),) = smtp.mails
    assert rcpts == ["soc@example.lg.jp"]
    assert mail["Subject"] == "[Mamori] Critical violation MED-002 on pc-9 (市民課)"


def test_a_burst_gives_one_digest(engine, terminals, routes, smtp):
    routes(Routes(alerts=_alerts(smtp.port, digest_over=3)))
    agents = [terminals.agent(department="市民課") for _ in range(4)]
    for agent in agents:
        terminals.send(agent, "media.write", {"path": "/m/a"})
    Sender(engine, outbox.routes(), "test").run_once()
    ((rcpts, mail),) = smtp.mails
    assert mail["Subject"] == "[Mamori] 新しい違反 4 件"
    body = mail.get_content()
    assert body.count("MED-002") == 4
    assert _depth(engine) == 0


def test_mail_waits_while_the_server_is_down(engine, terminals, routes, smtp):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    routes(Routes(alerts=_alerts(dead)))
    agent = terminals.agent()
    terminals.send(agent, "media.write", {"path": "/m/a"})
    sender = Sender(engine, outbox.routes(), "test", first_backoff=0.0)
    sender.run_once()
    assert _depth(engine) == 1
    with engine.connect() as conn:
        (status,) = [s for s in outbox.status(conn, clock.now()) if s.destination == "mail"]
    assert status.attempts == 1 and "mail to 127.0.0.1" in status.last_error
    Sender(engine, Routes(alerts=_alerts(smtp.port)), "test").run_once()  # the server is back
    assert len(smtp.mails) == 1 and _depth(engine) == 0


def test_a_violation_an_exception_covers_is_not_mailed(engine, terminals, routes, smtp):
    from datetime import timedelta

    from forward_helpers import T0

    from collector.store import exceptions

    routes(Routes(alerts=_alerts(smtp.port)))
    agent = terminals.agent(department="市民課")
    with engine.begin() as conn:
        exceptions.add(
            conn,
            agent_id=agent,
            department=None,
            rule_id="MED-002",
            valid_from=T0 - timedelta(days=1),
            until=T0 + timedelta(days=30),
            reason="年度末の統計提出",
            approved_by="課長",
            by="佐藤",
            at=T0 - timedelta(days=1),
        )
    terminals.send(agent, "media.write", {"path": "/m/a"})
    Sender(engine, outbox.routes(), "test").run_once()
    assert smtp.mails == [] and _depth(engine) == 0


def test_a_permanently_refused_mail_does_not_hold_back_later_alerts(engine, terminals, routes, smtp):
    async def handle_rcpt(server, session, envelope, address, rcpt_options):
        if address.startswith("gone@"):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    smtp.handle_RCPT = handle_rcpt
    routes(
        Routes(
            alerts=_alerts(
                smtp.port, to=(), by_department={"廃止課": ("gone@example.lg.jp",), "市民課": ("shimin@example.lg.jp",)}
            )
        )
    )
    terminals.send(terminals.agent(department="廃止課"), "media.write", {"path": "/m/a"})
    terminals.send(terminals.agent(department="市民課"), "media.write", {"path": "/m/a"})
    Sender(engine, outbox.routes(), "test").run_once()
    assert [rcpts for rcpts, _mail in smtp.mails] == [["shimin@example.lg.jp"]]
    assert _depth(engine) == 0
