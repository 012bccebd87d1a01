"""The sender inside `serve`: drains the outbox per destination in order, with backoff while a receiver is down."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections import defaultdict
from email.message import EmailMessage

from sqlalchemy import Engine

from collector.forward import mail, outbox, syslog
from collector.forward.outbox import MAIL, SYSLOG, Pending, Routes, ViolationRecord
from collector.store.db import read_only
from mamori import clock

log = logging.getLogger("mamori.collector.forward")


class Sender:
    """One per collector process. Several collectors on one database take turns per destination (a lease), so
    each record is sent by one of them, in outbox order; SQLite has one collector process."""

    def __init__(
        self,
        engine: Engine,
        routes: Routes,
        holder: str | None = None,
        *,
        poll_seconds: float = 1.0,
        lease_seconds: float = 30.0,
        first_backoff: float = 1.0,
        max_backoff: float = 60.0,
        batch: int = 200,
    ):
        self.engine, self.routes = engine, routes
        self.holder = holder or f"{socket.gethostname()}:{id(self):x}"
        self.poll, self.lease = poll_seconds, lease_seconds
        self.first_backoff, self.max_backoff, self.batch = first_backoff, max_backoff, batch
        self._backoff: dict[str, float] = defaultdict(float)
        self._due: dict[str, float] = defaultdict(float)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._syslog = syslog.Connection(routes.forward.syslog) if routes.forward and routes.forward.syslog else None

    def destinations(self) -> list[str]:
        return ([SYSLOG] if self._syslog else []) + ([MAIL] if self.routes.alerts else [])

    def run_once(self) -> None:
        """One pass over every destination that is due (not backing off)."""
        for destination in self.destinations():
            if time.monotonic() < self._due[destination]:
                continue
            # Read first: an idle collector takes no write lock every poll (SQLite has one writer, ingest's).
            if not self._pending(destination, 1):
                continue
            if not outbox.take_lease(self.engine, destination, self.holder, clock.now(), self.lease):
                continue
            try:
                self._syslog_pass() if destination == SYSLOG else self._mail_pass()
            except (syslog.SendError, mail.MailError) as exc:
                delay = self._backoff[destination]
                delay = self.first_backoff if delay == 0 else min(self.max_backoff, delay * 2)
                self._backoff[destination], self._due[destination] = delay, time.monotonic() + delay
                log.warning("forwarding to %s held back, retrying in %.0f s: %s", destination, delay, exc)
            else:
                if self._backoff[destination]:
                    log.info("forwarding to %s works again", destination)
                self._backoff[destination] = 0.0

    def _pending(self, destination: str, limit: int | None = None) -> list[Pending]:
        with read_only(self.engine.connect()) as conn:
            return outbox.pending(conn, destination, limit or self.batch)

    def _syslog_pass(self) -> None:
        assert self._syslog is not None and self.routes.forward is not None
        while not self._stop.is_set():
            rows = self._pending(SYSLOG)
            if not rows:
                return
            messages = [syslog.message(r.record, self.routes.forward) for r in rows]
            try:
                self._syslog.send(messages)
            except syslog.SendError as exc:
                outbox.note_failure(self.engine, [r.id for r in rows[:1]], str(exc))
                raise
            outbox.remove(self.engine, [r.id for r in rows])
            if len(rows) < self.batch:
                return
            outbox.take_lease(self.engine, SYSLOG, self.holder, clock.now(), self.lease)

    def _mail_pass(self) -> None:
        settings = self.routes.alerts
        assert settings is not None
        rows = self._pending(MAIL)
        groups: dict[tuple[str, ...], list[tuple[int, ViolationRecord]]] = defaultdict(list)
        for r in rows:
            if isinstance(r.record, ViolationRecord):
                groups[settings.recipients(r.record.segment, r.record.department)].append((r.id, r.record))
        batches: list[tuple[EmailMessage, list[int]]] = []
        for to, members in groups.items():
            if not to:
                log.warning(
                    "alert for violation(s) %s has no recipients; dropped",
                    ", ".join(str(v.violation_id) for _id, v in members),
                )
                outbox.remove(self.engine, [i for i, _v in members])
            elif len(members) > settings.digest_over:
                batches.append((mail.digest([v for _i, v in members], settings, to), [i for i, _v in members]))
            else:
                batches += [(mail.single(v, settings, to), [i]) for i, v in members]
        if not batches:
            return
        try:
            mail.send(settings, [m for m, _ids in batches], lambda n: outbox.remove(self.engine, batches[n][1]))
        except mail.MailError as exc:
            outbox.note_failure(self.engine, [rows[0].id], str(exc))
            raise

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # a database hiccup must not end forwarding for the life of the process
                log.exception("forwarding pass failed; trying again")
            self._stop.wait(self.poll)

    def start(self) -> None:
        if self.destinations():
            self._thread = threading.Thread(target=self._loop, name="mamori-forward", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self._syslog is not None:
            self._syslog.close()
        for destination in self.destinations():
            outbox.release_lease(self.engine, destination, self.holder, clock.now())
