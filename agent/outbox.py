"""The spool as the running agent uses it: a full or unwritable disk costs events (counted), never the agent."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from agent.spool import Spool, SpoolItem, SpoolStats
from mamori import clock, events

log = logging.getLogger("mamori.agent.spool")

# sqlite3.OperationalError: SQLITE_FULL, I/O errors, read-only; OSError: ENOSPC from seq.hwm and friends.
UNWRITABLE = (sqlite3.OperationalError, OSError)
REOPEN_SECONDS = 5.0  # how often an unopened spool is tried again (each try reads the whole file)
LOST_NAME = "lost"  # beside spool.db: the count of events not recorded, should the agent stop before it can
LOST_SIZE = 512  # allocated while there is room, then overwritten in place: a full disk needs no new block


class Outbox:
    """Every Spool method the agent calls, none of which raises because the disk is full.

    Enforcement must never wait for the spool, so a spool that cannot open (Spool.open writes at once) is
    retried while the agent runs. Events that could not be stored are counted with their time span and
    worst severity; the first write that succeeds again records them as one spool.overflow (reason "disk
    full"), so the loss reaches the collector (OPS-003) instead of vanishing.
    """

    def __init__(self, directory: Path, capacity: int, on_open: Callable[[Spool], object] | None = None) -> None:
        self._directory, self._capacity, self._on_open = directory, capacity, on_open
        self._spool: Spool | None = None
        self._lock = threading.RLock()
        self._listeners: list[Callable[[], None]] = []
        self._lost = 0
        self._lost_span: tuple[datetime, datetime] | None = None
        self._lost_rank = 0
        self._problem = ""
        self._next_open = 0.0
        self._lost_file = self._open_lost(directory / LOST_NAME)
        self._reopen()

    def _open_lost(self, path: Path) -> int | None:
        """The descriptor of the preallocated count file, after taking over the count a previous run left."""
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            log.warning("cannot open %s: %s", path, exc)
            return None
        try:
            left = json.loads(_read_at_start(fd).decode("utf-8").strip() or "{}")
            self._lost = int(left.get("lost", 0))
            if self._lost:
                self._lost_span = (datetime.fromisoformat(left["first"]), datetime.fromisoformat(left["last"]))
                self._lost_rank = int(left["rank"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("%s unreadable (%s): starting the count again", path, exc)
            self._lost, self._lost_span, self._lost_rank = 0, None, 0
        try:
            if os.fstat(fd).st_size < LOST_SIZE:
                _write_at_start(fd, self._lost_record())
        except OSError as exc:  # no room to allocate it: this run's count lives in memory only
            log.warning("cannot allocate %s: %s", path, exc)
        return fd

    def _lost_record(self) -> bytes:
        body = {}
        if self._lost and self._lost_span is not None:
            body = {
                "lost": self._lost,
                "first": self._lost_span[0].isoformat(),
                "last": self._lost_span[1].isoformat(),
                "rank": self._lost_rank,
            }
        return json.dumps(body).encode().ljust(LOST_SIZE)

    def _save_lost(self) -> None:
        if self._lost_file is None:
            return
        try:
            _write_at_start(self._lost_file, self._lost_record())  # same bytes, same blocks
            os.fsync(self._lost_file)
        except OSError as exc:
            log.warning("cannot keep the count of unrecorded events: %s", exc)

    @property
    def spool(self) -> Spool | None:
        return self._spool

    @property
    def problem(self) -> str:
        """Why the spool cannot be written now ("" when it can)."""
        return self._problem

    @property
    def lost(self) -> int:
        """Events not recorded since the last notice that reached the spool."""
        return self._lost

    def _reopen(self) -> bool:
        if self._spool is not None:
            return True
        if time.monotonic() < self._next_open:
            return False
        self._next_open = time.monotonic() + REOPEN_SECONDS
        try:
            spool = Spool.open(self._directory, capacity=self._capacity)
        except UNWRITABLE as exc:
            if str(exc) != self._problem:
                log.error(
                    "spool %s cannot be opened (%s): events are counted, not recorded, until it can",
                    self._directory,
                    exc,
                )
            self._problem = str(exc)
            return False
        for callback in self._listeners:
            spool.add_listener(callback)
        self._spool = spool
        if self._on_open is not None:
            try:
                self._on_open(spool)
            except UNWRITABLE as exc:
                log.error("spool opened but its start-up step failed: %s", exc)
        log.info("spool %s open", self._directory)
        return True

    def _count(self, items: list[SpoolItem], exc: BaseException) -> None:
        now = clock.now()
        first = self._lost_span[0] if self._lost_span else now
        self._lost += len(items)
        self._lost_span = (first, now)
        self._lost_rank = max(
            [self._lost_rank]
            + [events.SEVERITY_RANK[item.severity or events.kind_of(item.kind).severity] for item in items]
        )
        self._save_lost()
        if str(exc) != self._problem:
            log.error("cannot record events (%s): counting them until the disk has room", exc)
        self._problem = str(exc)

    def _notice(self) -> dict[str, Any]:
        assert self._lost_span is not None
        return {
            "dropped": self._lost,
            "capacity": self._capacity,
            "reason": "disk full",
            "max_dropped_severity": f"SEVERITY_{events.SEVERITIES[self._lost_rank - 1].upper()}",
            "first_lost_at": self._lost_span[0].isoformat(timespec="seconds"),
            "last_lost_at": self._lost_span[1].isoformat(timespec="seconds"),
        }

    def flush_lost(self) -> bool:
        """Record the count of lost events if there are any and the disk has room again; True when none remain."""
        with self._lock:
            if not self._reopen():
                return False
            if not self._lost:
                return True
            assert self._spool is not None
            try:
                self._spool.record_unstored(self._notice())
            except UNWRITABLE:
                return False
            log.warning("recorded %d events that could not be stored (disk full)", self._lost)
            self._lost, self._lost_span, self._lost_rank, self._problem = 0, None, 0, ""
            self._save_lost()  # a crash just before this records the count twice: better than never
            return True

    def append(
        self, kind: str, payload: Mapping[str, Any], *, severity: str | None = None, occurred_at: datetime | None = None
    ) -> int:
        """The event's seq, or 0 when the disk had no room for it (it is counted then)."""
        seqs = self.append_many([SpoolItem(kind, payload, severity, occurred_at)])
        return seqs[0] if seqs else 0

    def append_many(self, items: Iterable[SpoolItem | tuple[Any, ...]]) -> list[int]:
        batch = [SpoolItem(*item) for item in items]
        with self._lock:
            if self.flush_lost() and self._spool is not None:
                try:
                    return self._spool.append_many(batch)
                except UNWRITABLE as exc:
                    self._count(batch, exc)
                    return []
            self._count(batch, OSError(self._problem or "spool not open"))
            return []

    def ack(self, up_to_seq: int, epoch: int | None = None) -> int:
        """Delete acked events; on a full disk they stay (sent again later, the collector ignores repeats)."""
        if self._spool is None:
            return 0
        try:
            return self._spool.ack(up_to_seq, epoch)
        except UNWRITABLE as exc:
            log.warning("cannot delete acknowledged events yet (%s)", exc)
            return 0

    def pending(self, after_seq: int = 0, limit: int = 500, epoch: int | None = None) -> list[tuple[int, bytes]]:
        self.flush_lost()  # also the retry that opens a spool the disk had no room for
        return self._spool.pending(after_seq, limit, epoch) if self._spool is not None else []

    def rebase(self, collector_last_seq: int) -> int:
        if self._spool is None:
            return 0
        try:
            return self._spool.rebase(collector_last_seq)
        except UNWRITABLE as exc:
            log.warning("cannot renumber the spool yet (%s)", exc)
            return 0

    def depth(self) -> int:
        return self._spool.depth() if self._spool is not None else 0

    def epoch(self) -> int:
        # -1 while unopened: a stream welcomed then meets Restamped once the spool opens, and reconnects, so the
        # next Welcome can rebase the spool it never saw.
        return self._spool.epoch() if self._spool is not None else -1

    def stats(self) -> SpoolStats:
        if self._spool is None:
            return SpoolStats(0, self._capacity, 0, 0, None)
        return self._spool.stats()

    def add_listener(self, callback: Callable[[], None]) -> None:
        with self._lock:
            self._listeners.append(callback)
            if self._spool is not None:
                self._spool.add_listener(callback)

    def remove_listener(self, callback: Callable[[], None]) -> None:
        with self._lock:
            if callback in self._listeners:
                self._listeners.remove(callback)
            if self._spool is not None:
                self._spool.remove_listener(callback)

    def close(self) -> None:
        if self._spool is not None:
            self._spool.close()
        if self._lost_file is not None:
            os.close(self._lost_file)
            self._lost_file = None


def unrecorded(directory: Path) -> int:
    """How many events the agent could not record and has not yet reported (for `mamori-agent status`)."""
    try:
        return int(json.loads((directory / LOST_NAME).read_bytes().decode("utf-8").strip() or "{}").get("lost", 0))
    except (OSError, ValueError, AttributeError, TypeError):
        return 0


# lseek + read/write rather than pread/pwrite, which Windows lacks.
def _read_at_start(fd: int) -> bytes:
    os.lseek(fd, 0, os.SEEK_SET)
    return os.read(fd, LOST_SIZE)


def _write_at_start(fd: int, data: bytes) -> None:
    os.lseek(fd, 0, os.SEEK_SET)
    if os.write(fd, data) != len(data):
        raise OSError(28, "short write")
