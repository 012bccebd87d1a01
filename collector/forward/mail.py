"""Alert mail to staff: one mail per new violation at or above the threshold, a digest when many come at once."""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Callable, Sequence
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from collector import display
from collector.forward.outbox import ViolationRecord
from collector.forward.settings import AlertSettings
from mamori import labels
from mamori.i18n import catalogue, render_stored
from mamori.safetext import safe

log = logging.getLogger("mamori.collector.forward")


class MailError(Exception):
    """The mail server could not be reached or refused the mail; the one-line reason is the message."""


def _title(rule_id: str, lang: str) -> str:
    from collector.rules import RULES

    rule = RULES.get(rule_id)
    return rule.title(lang) if rule else rule_id


def _lines(v: ViolationRecord, lang: str) -> list[str]:
    _ = catalogue(lang).gettext
    at = display.local(datetime.fromisoformat(v.at))
    rows = [
        (_("Rule"), f"{v.rule_id} {_title(v.rule_id, lang)}"),
        (_("Severity"), labels.label("severity", v.severity, lang)),
        (_("Segment"), labels.label("segment", v.segment, lang)),
        (_("Department"), safe(v.department)),
        (_("Terminal"), safe(v.terminal)),
        (display.header(_("Detected at")), at),
        (_("Detail"), safe(render_stored(v.detail_message, v.detail, lang), limit=500)),
        (_("Violation ID"), str(v.violation_id)),
    ]
    return [f"{name}: {value}" for name, value in rows]


def single(v: ViolationRecord, settings: AlertSettings, to: Sequence[str]) -> EmailMessage:
    lang = settings.lang
    _ = catalogue(lang).gettext
    subject = _("[Mamori] {severity} violation {rule} on {terminal} ({department})").format(
        severity=labels.label("severity", v.severity, lang),
        rule=v.rule_id,
        terminal=safe(v.terminal, 60),
        department=safe(v.department, 60),
    )
    body = [
        _("A violation was detected."),
        "",
        *_lines(v, lang),
        "",
        _("Details: mamori-collector violations show {id}").format(id=v.violation_id),
    ]
    return _message(settings, to, subject, body)


def digest(records: Sequence[ViolationRecord], settings: AlertSettings, to: Sequence[str]) -> EmailMessage:
    lang = settings.lang
    _ = catalogue(lang).gettext
    subject = _("[Mamori] {count} new violations").format(count=len(records))
    body = [_("{count} violations were detected at once. Each of them:").format(count=len(records)), ""]
    for v in records:
        body += [*_lines(v, lang), ""]
    body.append(_("List them: mamori-collector violations list --status active"))
    return _message(settings, to, subject, body)


def _message(settings: AlertSettings, to: Sequence[str], subject: str, body: list[str]) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = settings.sender, ", ".join(to), subject
    msg["Date"], msg["Message-ID"] = formatdate(localtime=False), make_msgid(domain="mamori-collector")
    msg.set_content("\n".join(body) + "\n", charset="utf-8")
    return msg


def send(
    settings: AlertSettings, messages: Sequence[EmailMessage], on_sent: Callable[[int], None], timeout: float = 20.0
) -> None:
    """Deliver over one SMTP session; on_sent(i) once the server accepted mail i (250 after DATA), so a session
    that breaks half-way leaves only the undelivered ones queued."""
    try:
        with smtplib.SMTP(settings.host, settings.port, timeout=timeout) as smtp:
            if settings.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.username:
                smtp.login(settings.username, settings.password)
            for i, msg in enumerate(messages):
                try:
                    refused = smtp.send_message(msg)
                except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
                    if _code(exc) < 500:
                        raise
                    # A permanent refusal (5xx) would hold every later alert back for good: logged, then dropped.
                    log.error(
                        "alert mail refused by %s:%d for good, dropped: %s (subject: %s)",
                        settings.host,
                        settings.port,
                        _first_line(exc),
                        msg["Subject"],
                    )
                    smtp.rset()
                    refused = {}
                if refused:
                    log.error("alert mail not accepted for %s", ", ".join(sorted(refused)))
                on_sent(i)
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(f"mail to {settings.host}:{settings.port}: {_first_line(exc)}") from None


def _code(exc: smtplib.SMTPException) -> int:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return min((code for code, _text in exc.recipients.values()), default=0)
    return getattr(exc, "smtp_code", 0)


def _first_line(exc: Exception) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "; ".join(
            f"{rcpt}: {code} {text.decode(errors='replace')}" for rcpt, (code, text) in exc.recipients.items()
        )
    text = getattr(exc, "strerror", None) or str(exc)
    return text.splitlines()[0] if text else type(exc).__name__
