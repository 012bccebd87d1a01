"""Durable outbox: every agent event lands here (SQLite WAL, synchronous=FULL) before any network send."""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from agent import seqstore
from mamori import clock, events, oversize

log = logging.getLogger("mamori.agent.spool")

DB_NAME = "spool.db"
HWM_NAME = "seq.hwm"
SCHEMA_VERSION = 1
RESERVE_BLOCK = 1000  # seqs reserved per durable write of the high-water mark
MIN_CAPACITY = 10
# Kinds the spool records about itself: never dropped on overflow (old overflow notices are folded into
# a new one instead), never accepted from callers.
OWN_KINDS = ("spool.overflow", "spool.corrupt")
# Seconds to wait while another process (mamori-agent check, status) holds the write lock.
_BUSY_TIMEOUT = 10.0
_MAX_SEQ = 2**63 - 1

_SCHEMA = (
    """CREATE TABLE events (
        seq INTEGER PRIMARY KEY,   -- rowid alias: appends go to the right edge of the b-tree
        severity INTEGER NOT NULL, -- SEVERITY_RANK, 1 (info) .. 5 (critical)
        kind TEXT NOT NULL,
        data BLOB NOT NULL         -- the serialized mamori.v1.Event, exactly as it will be sent
    )""",
    "CREATE INDEX events_drop_order ON events (severity, seq)",
    # last_seq (highest seq ever committed), hwm (the mark last written to seq.hwm), depth, dropped_total,
    # epoch (bumped by restamp)
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    f"PRAGMA user_version = {SCHEMA_VERSION}",
)
_COLUMNS = {"events": ["seq", "severity", "kind", "data"], "meta": ["key", "value"]}
_INSERT = "INSERT INTO events (seq, severity, kind, data) VALUES (?, ?, ?, ?)"
_VICTIMS = (
    "SELECT seq, severity FROM events WHERE seq >= ? AND seq < ? AND kind NOT IN (?, ?) ORDER BY severity, seq LIMIT ?"
)


class SpoolItem(NamedTuple):
    """One event for append_many; plain (kind, payload[, severity[, occurred_at]]) tuples work too."""

    kind: str
    payload: Mapping[str, Any]
    severity: str | None = None
    occurred_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class SpoolStats:
    depth: int
    capacity: int
    next_seq: int
    dropped_total: int
    oldest_seq: int | None


class Restamped(Exception):
    """The spool was renumbered for a new enrollment since this caller read its epoch: its seqs mean nothing now."""


class _Corrupt(Exception):
    """The file opened as SQLite but is not a spool we can trust."""


class Spool:
    """Bounded, crash-safe event outbox.

    Thread-safe, and several processes may share one spool (the running agent plus `mamori-agent check`
    or `status`): seqs, depth and counters live in the meta table and are read and written inside the
    same write transaction as the events, so seqs are unique and commit in seq order across processes
    (a reader that has seen seq N never later finds a new seq below N).
    """

    def __init__(self, db: sqlite3.Connection, directory: Path, capacity: int) -> None:
        self._db: sqlite3.Connection | None = db
        self._lock = threading.Lock()
        self._listeners: list[Callable[[], None]] = []
        self._hwm_path = directory / HWM_NAME
        self._capacity = capacity
        self._chunk = max(1, capacity // 100)  # drop in chunks so overflow events stay rare
        self._floor = 1  # seqs below this were burned by a failed write in this process
        self._floor_epoch = 0  # ...in this numbering: a restamp by another process starts a new one
        try:
            with _transaction(db):  # the write lock keeps another process from reserving meanwhile
                self._recover(db)
        except BaseException:
            db.close()
            raise

    def _recover(self, db: sqlite3.Connection) -> None:
        """Work out where seqs continue; make seq.hwm and the db agree."""
        meta = _meta(db)
        count, top = db.execute("SELECT count(*), max(seq) FROM events").fetchone()
        last = max(meta["last_seq"], top or 0)
        mark = seqstore.read_mark(self._hwm_path)
        if "hwm" in meta and meta["hwm"] == mark:
            # The db recorded the mark the file holds: it is the live spool and its last seq is
            # exact, so a restart (even after kill -9) continues without a gap.
            hwm = mark
        else:
            # The db was lost, replaced or restored from an older copy, seq.hwm was lost, or we
            # crashed between reserving and committing: jump past everything that may have been
            # handed out (the collector records the jump as a gap, which is the truth) and make
            # file and db agree again.
            if mark > last + 1:
                log.warning("%s is behind %s: seq jumps from %d to %d", DB_NAME, HWM_NAME, last + 1, mark)
            last = max(last, mark - 1)
            hwm = last + 1 + RESERVE_BLOCK
            seqstore.write_mark(self._hwm_path, hwm)
        _set_meta(db, last_seq=last, hwm=hwm, depth=count)

    @classmethod
    def open(cls, directory: Path, *, capacity: int = 100_000) -> Spool:
        if capacity < MIN_CAPACITY:
            raise ValueError(f"spool capacity must be at least {MIN_CAPACITY}, got {capacity}")
        directory = Path(directory)
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)  # events name users and files
        path = directory / DB_NAME
        notice: tuple[str, str] | None = None
        try:
            db, fresh = _connect(path)
        except (sqlite3.DatabaseError, _Corrupt) as exc:
            if not _is_corruption(exc):
                raise  # locked, unreadable, read-only, disk full...: the file may be fine, never move it
            kept = _keep_aside(path)
            log.warning("spool %s is corrupt (%s); kept as %s, starting a new spool", path, exc, kept)
            notice = (str(kept), str(exc))
            db, fresh = _connect(path)
        if fresh and notice is None and seqstore.read_mark(directory / HWM_NAME) > 0:
            # Seqs were handed out before, yet there is no spool: it was deleted or emptied.
            log.warning("spool %s was missing or empty although seqs were handed out before", path)
            notice = ("", f"{DB_NAME} was missing or empty; unsent events may have been lost")
        unknown_history = fresh and seqstore.read_mark(directory / HWM_NAME) == 0
        spool = cls(db, directory, capacity)
        if unknown_history:
            # A new agent, or one whose whole spool folder vanished: only the collector can tell which,
            # so the first Welcome decides (see rebase).
            with spool._lock, _transaction(db):
                _set_meta(db, unverified=1)
        if notice is not None:
            item = SpoolItem("spool.corrupt", {"kept_as": notice[0], "error": notice[1]})
            spool._write([item], internal=True)
        return spool

    def append(
        self,
        kind: str,
        payload: Mapping[str, Any],
        *,
        severity: str | None = None,
        occurred_at: datetime | None = None,
    ) -> int:
        """Store one event and return its seq; it is on disk (fsynced) once this returns."""
        return self._write([SpoolItem(kind, payload, severity, occurred_at)])[0]

    def append_many(self, items: Iterable[SpoolItem | tuple[Any, ...]]) -> list[int]:
        """Store several events in one transaction (one fsync), all or none; returns their seqs."""
        batch = [SpoolItem(*item) for item in items]
        return self._write(batch) if batch else []

    def record_unstored(self, notice: Mapping[str, Any]) -> int:
        """Record events that never reached the spool (the disk was full) as one spool.overflow."""
        return self._write([SpoolItem("spool.overflow", notice)], internal=True)[0]

    def pending(self, after_seq: int = 0, limit: int = 500, epoch: int | None = None) -> list[tuple[int, bytes]]:
        """Up to `limit` stored events with seq > after_seq, ascending: (seq, serialized Event).

        With `epoch`, raises Restamped when the spool was renumbered since (see restamp). An event outside
        the collector's bounds (a spool restored from an older agent, or written by one) is replaced by its
        event.oversize marker, in the file too, so the same marker is sent on every retry."""
        with self._lock:
            db = self._live()
            with _transaction(db, "BEGIN"):
                _check_epoch(db, epoch)
                rows = db.execute(
                    "SELECT seq, data FROM events WHERE seq > ? ORDER BY seq LIMIT ?", (after_seq, limit)
                ).fetchall()
            now = time.time()  # the clock the collector bounds occurred_at by, and encode stamps it with
            fixed = [(seq, data, oversize.fit(data, seq, now)) for seq, data in rows]
            markers = [(m.rank, m.kind, m.data, seq, data) for seq, data, m in fixed if m is not None]
            if not markers:
                return rows
            with _transaction(db):
                _check_epoch(db, epoch)  # renumbered meanwhile: these seqs are not ours to rewrite
                # Matched on the old bytes too: another process may have acked or rewritten the row since.
                db.executemany("UPDATE events SET severity = ?, kind = ?, data = ? WHERE seq = ? AND data = ?", markers)
            return [(seq, data if m is None else m.data) for seq, data, m in fixed]

    def ack(self, up_to_seq: int, epoch: int | None = None) -> int:
        """Delete every event with seq <= up_to_seq (the collector has stored them); returns the count.

        With `epoch`, raises Restamped instead when the spool was renumbered since: an ack from the old
        identity's collector record would delete renumbered events it never saw."""
        with self._lock:
            db = self._live()
            with _transaction(db):
                _check_epoch(db, epoch)
                deleted = db.execute("DELETE FROM events WHERE seq <= ?", (up_to_seq,)).rowcount
                db.execute("UPDATE meta SET value = value - ? WHERE key = 'depth'", (deleted,))
            return deleted

    def depth(self) -> int:
        with self._lock:
            return _meta(self._live())["depth"]

    def oldest_seq(self) -> int | None:
        with self._lock:
            return self._live().execute("SELECT min(seq) FROM events").fetchone()[0]

    def epoch(self) -> int:
        """Which numbering the seqs are in: restamp starts a new one."""
        with self._lock:
            return _meta(self._live())["epoch"]

    def restamp(self) -> int:
        """Renumber every pending event 1, 2, 3... for a new identity; returns how many there are.

        A re-enrolled terminal is a new agent to the collector, whose sequence starts at 1: events still
        unsent under the old identity keep their ids and times and go out first under the new one, so none
        is lost and no gap appears. The epoch changes, so a process still shipping for the old identity
        can no longer ack or send by seqs of the old numbering.
        """
        with self._lock:
            db = self._live()
            with _transaction(db):
                meta = _meta(db)
                rows = db.execute("SELECT severity, kind, data FROM events ORDER BY seq").fetchall()
                db.execute("DELETE FROM events")
                db.executemany(
                    _INSERT, [_renumbered(i, severity, kind, data) for i, (severity, kind, data) in enumerate(rows, 1)]
                )
                # The mark only has to cover the new numbering; _recover trusts it once meta agrees.
                hwm = len(rows) + 1 + RESERVE_BLOCK
                seqstore.write_mark(self._hwm_path, hwm)
                _set_meta(db, last_seq=len(rows), hwm=hwm, depth=len(rows), unverified=0, epoch=meta["epoch"] + 1)
            return len(rows)

    def _next_seq(self, meta: dict[str, int]) -> int:
        floor = self._floor if self._floor_epoch == meta["epoch"] else 1
        return max(floor, meta["last_seq"] + 1)

    def stats(self) -> SpoolStats:
        with self._lock:
            db = self._live()
            with _transaction(db, "BEGIN"):  # one consistent snapshot
                meta = _meta(db)
                oldest = db.execute("SELECT min(seq) FROM events").fetchone()[0]
            next_seq = self._next_seq(meta)
            return SpoolStats(meta["depth"], self._capacity, next_seq, meta["dropped_total"], oldest)

    def rebase(self, collector_last_seq: int) -> int:
        """Renumber pending events above the collector's last stored seq when our history was lost.

        A spool created with no seq mark (a new agent, or a spool folder deleted whole) has an unverified
        history: its seqs restarted at 1, and the collector would discard every event at or below its last
        stored seq as a replay. On the first Welcome such events are moved up; the collector never saw
        them, so that is safe. Afterwards only a counter that fell behind the collector's triggers this;
        events the collector holds but never acked lie below a counter already past them and stay put.
        Returns how far events moved (0: nothing to do); an agent.tamper event records any move.
        """
        with self._lock:
            db = self._live()
            with _transaction(db):
                meta = _meta(db)
                next_seq = self._next_seq(meta)
                lowest = db.execute("SELECT min(seq) FROM events").fetchone()[0] or next_seq
                behind = (lowest if meta.get("unverified") else next_seq) <= collector_last_seq
                if not behind:
                    if meta.get("unverified"):
                        _set_meta(db, unverified=0)
                    return 0
                offset = collector_last_seq + 1 - lowest
                rows = db.execute("SELECT seq, severity, kind, data FROM events ORDER BY seq").fetchall()
                db.execute("DELETE FROM events")
                db.executemany(
                    _INSERT, [_renumbered(seq + offset, severity, kind, data) for seq, severity, kind, data in rows]
                )
                end = next_seq + offset
                if meta.get("unverified"):
                    what, detail = (
                        "spool",
                        (
                            f"spool history lost: seqs restarted at or below the collector's last stored seq "
                            f"{collector_last_seq}; {len(rows)} unsent events renumbered by {offset}"
                        ),
                    )
                else:
                    # A spool that knew its history, yet behind the collector: the state folder was put back
                    # from an older copy (VM snapshot revert, backup restore). Events it holds that were already
                    # delivered keep their event ids, so the collector ignores them as duplicates.
                    what, detail = (
                        "restored",
                        (
                            f"state folder restored from an older copy: seq {next_seq - 1} is behind the collector's "
                            f"last stored seq {collector_last_seq}; {len(rows)} spooled events renumbered by {offset}"
                        ),
                    )
                tamper = events.encode("agent.tamper", {"what": what, "detail": detail}, seq=end)
                db.execute(_INSERT, (end, events.SEVERITY_RANK["high"], "agent.tamper", tamper))
                hwm = end + 1 + RESERVE_BLOCK
                seqstore.write_mark(self._hwm_path, hwm)
                _set_meta(db, last_seq=end, hwm=hwm, depth=meta["depth"] + 1, unverified=0)
            log.warning("%s", detail)
            return offset

    def add_listener(self, callback: Callable[[], None]) -> None:
        """Call `callback()` after every successful append in this process, outside the lock."""
        with self._lock:
            self._listeners.append(callback)

    def remove_listener(self, callback: Callable[[], None]) -> None:
        with self._lock:
            if callback in self._listeners:
                self._listeners.remove(callback)

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _live(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("spool is closed")
        return self._db

    def _write(self, items: list[SpoolItem], *, internal: bool = False) -> list[int]:
        for item in items:
            if (item.kind in OWN_KINDS or item.kind == oversize.KIND) and not internal:
                raise ValueError(f"{item.kind} events are recorded by the spool itself")
        now = time.time()  # the clock the collector bounds occurred_at by, and encode stamps it with
        end: int | None = None
        epoch = 0
        with self._lock:
            db = self._live()
            try:
                with _transaction(db):
                    meta = _meta(db)
                    first = self._next_seq(meta)
                    epoch = meta["epoch"]
                    rows = []
                    for i, item in enumerate(items):
                        severity = item.severity or events.kind_of(item.kind).severity
                        # Encoding errors surface here, before any seq is used, so a bad event leaves no gap.
                        data = events.encode(
                            item.kind,
                            dict(item.payload),
                            seq=first + i,
                            severity=severity,
                            occurred_at=item.occurred_at,
                        )
                        row = (first + i, events.SEVERITY_RANK[severity], item.kind, data)
                        # One the collector would refuse would block every batch after it: store its marker.
                        marker = oversize.fit(data, first + i, now)
                        rows.append(row if marker is None else (first + i, *marker))
                    end = first + len(rows)
                    hwm = meta.get("hwm", 0)
                    if end + 1 > hwm:  # +1: a spool.overflow event may follow the batch
                        # HiLo: the file covers a seq before it is committed; the db write lock
                        # serializes this between processes.
                        hwm = end + 1 + RESERVE_BLOCK
                        seqstore.write_mark(self._hwm_path, hwm)
                    db.executemany(_INSERT, rows)
                    depth, dropped = meta["depth"] + len(rows), 0
                    if depth > self._capacity:
                        shed = self._shed(db, first, depth)
                        if shed is not None:
                            overflow, removed, dropped = shed
                            # Inserted directly, not through _write: the overflow event cannot recurse.
                            data = events.encode("spool.overflow", overflow, seq=end)
                            rank = events.SEVERITY_RANK[events.KINDS["spool.overflow"].severity]
                            db.execute(_INSERT, (end, rank, "spool.overflow", data))
                            depth, end = depth - removed + 1, end + 1
                            log.warning(
                                "spool full (capacity %d): dropped %d events, the most severe %s",
                                self._capacity,
                                dropped,
                                overflow["max_dropped_severity"],
                            )
                    _set_meta(db, last_seq=end - 1, hwm=hwm, depth=depth, dropped_total=meta["dropped_total"] + dropped)
            except BaseException:
                if end is not None:
                    # Burn the seqs: had a failed commit reached the disk after all, reusing them would let
                    # the collector discard a different event as a duplicate; a gap at least shows a loss.
                    self._floor, self._floor_epoch = end, epoch
                raise
            listeners = list(self._listeners)
        for callback in listeners:
            try:
                callback()
            except Exception:  # the event is stored; a broken listener must not turn that into a failure
                log.exception("spool listener %r failed", callback)
        return [row[0] for row in rows]

    def _shed(self, db: sqlite3.Connection, first_new: int, depth: int) -> tuple[dict[str, Any], int, int] | None:
        """Delete the least severe, oldest events so the batch plus one overflow event fit.

        Returns (overflow payload, rows removed, events newly lost), or None when nothing could go.
        Stored events go first even when all of them are more severe than (or as severe as) the incoming
        ones: the caller was told its event is recorded, and the newest events are the freshest evidence.
        The loss is never silent -- the overflow event names the worst severity dropped, so a dropped
        critical shows as such. Only a single batch larger than the spool is cut into itself.
        """
        # Overflow/corrupt notices are never dropped. But each overflow adds a notice, so during a long
        # outage they would slowly crowd out everything (the bound would fail): once they fill a tenth of
        # the spool, the earlier overflow notices are folded into the new one -- counts, range and worst
        # severity carry over, so nothing about the loss is forgotten.
        notices = db.execute("SELECT count(*) FROM events WHERE kind = 'spool.overflow'").fetchone()[0]
        folded: list[dict[str, Any]] = []
        if notices >= max(1, self._capacity // 10):
            rows = db.execute("SELECT data FROM events WHERE kind = 'spool.overflow'").fetchall()
            folded = [events.decode_bytes(data).payload for (data,) in rows]
            db.execute("DELETE FROM events WHERE kind = 'spool.overflow'")
        need = max(self._chunk, depth - len(folded) + 1 - self._capacity)
        victims: list[tuple[int, int]] = []
        for lo, hi in ((0, first_new), (first_new, _MAX_SEQ)):
            if len(victims) < need:
                victims += db.execute(_VICTIMS, (lo, hi, *OWN_KINDS, need - len(victims))).fetchall()
        if not victims and not folded:
            return None
        db.executemany("DELETE FROM events WHERE seq = ?", [(seq,) for seq, _ in victims])
        # A disk-full notice names no seqs: its events never got one.
        seqs = [seq for seq, _ in victims] + [p[k] for p in folded for k in ("first_seq", "last_seq") if k in p]
        ranks = [rank for _, rank in victims]
        ranks += [events.SEVERITY_RANK[p["max_dropped_severity"].split("_", 1)[1].lower()] for p in folded]
        payload = {
            "dropped": len(victims) + sum(p["dropped"] for p in folded),
            "capacity": self._capacity,
            "max_dropped_severity": f"SEVERITY_{events.SEVERITIES[max(ranks) - 1].upper()}",
        }
        if seqs:
            payload.update(first_seq=min(seqs), last_seq=max(seqs))
        return payload, len(victims) + len(folded), len(victims)


def _renumbered(seq: int, severity: int, kind: str, data: bytes) -> tuple[int, int, str, bytes]:
    """A row under a new seq; bytes that are no event at all (a restored spool) become their marker."""
    try:
        return seq, severity, kind, events.with_seq(data, seq)
    except events.DecodeError:
        marker = oversize.fit(data, seq, time.time())
        assert marker is not None  # undecodable bytes never fit
        return seq, marker.rank, marker.kind, marker.data


@contextmanager
def _transaction(db: sqlite3.Connection, begin: str = "BEGIN IMMEDIATE") -> Iterator[None]:
    """BEGIN ... COMMIT, or ROLLBACK on any error (the connection itself runs in autocommit mode)."""
    db.execute(begin)
    try:
        yield
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _meta(db: sqlite3.Connection) -> dict[str, int]:
    meta = {"last_seq": 0, "depth": 0, "dropped_total": 0, "epoch": 0}
    meta.update(db.execute("SELECT key, value FROM meta").fetchall())
    return meta


def _check_epoch(db: sqlite3.Connection, epoch: int | None) -> None:
    if epoch is not None and _meta(db)["epoch"] != epoch:
        raise Restamped(f"spool renumbered (epoch {epoch} -> {_meta(db)['epoch']})")


def _set_meta(db: sqlite3.Connection, **values: int) -> None:
    db.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", values.items())


def _connect(path: Path) -> tuple[sqlite3.Connection, bool]:
    """Verify and open the spool database; returns (connection, whether we created it just now)."""
    _verify(path)
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=_BUSY_TIMEOUT)
    try:
        mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise sqlite3.OperationalError(f"cannot use WAL for {path} (journal_mode={mode})")
        # FULL: fsync the WAL on every commit, so an appended event survives power loss, not just kill -9.
        db.execute("PRAGMA synchronous=FULL")
        with _transaction(db):  # under the write lock: two processes starting at once create it once
            fresh = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0
            if fresh:
                for statement in _SCHEMA:
                    db.execute(statement)
        return db, fresh
    except BaseException:
        db.close()
        raise


def _verify(path: Path) -> None:
    """Check an existing spool read-only: unlike a writer, a read-only connection never checkpoints or
    deletes the WAL on close, so a file we then keep aside is exactly as we found it."""
    wal = path.with_name(path.name + "-wal")
    if not path.exists() or path.stat().st_size == 0:
        # SQLite would silently discard the WAL of an empty or missing database: keep it instead.
        if wal.exists() and wal.stat().st_size > 0:
            raise _Corrupt(f"{path.name} is missing or empty but {wal.name} remains")
        return
    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=_BUSY_TIMEOUT)
    try:
        check = db.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise _Corrupt(f"quick_check: {check}")
        version = db.execute("PRAGMA user_version").fetchone()[0]
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if version == 0 and db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0:
            return  # created but never given a schema (a crash right at the start): fill it in
        found = {t: [c[1] for c in db.execute(f"PRAGMA table_info({t})")] for t in _COLUMNS}
        if version != SCHEMA_VERSION or found != _COLUMNS:
            raise _Corrupt(f"unexpected schema (user_version {version}, tables {sorted(tables)})")
    finally:
        db.close()


def _is_corruption(exc: BaseException) -> bool:
    # OperationalError covers locked, unreadable, read-only and full: the file may be fine, so never move it.
    # Corruption ("malformed", SQLITE_CORRUPT) and "file is not a database" (SQLITE_NOTADB) are plain
    # DatabaseError.
    return isinstance(exc, _Corrupt) or (
        isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError)
    )


def _keep_aside(path: Path) -> Path:
    """Rename spool.db (and its -wal/-shm) to spool.db.corrupt-<UTC time> for later forensics."""
    stamp = clock.now().strftime("%Y%m%dT%H%M%SZ")
    kept, n = path.with_name(f"{path.name}.corrupt-{stamp}"), 0
    while kept.exists():
        n += 1
        kept = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
    # The WAL first: an orphaned spool.db-wal must never be replayed into the new spool.
    for suffix in ("-wal", "-shm", ""):
        src = path.with_name(path.name + suffix)
        if src.exists():
            os.replace(src, kept.with_name(kept.name + suffix))
    seqstore.fsync_dir(path.parent)
    return kept if kept.exists() else kept.with_name(kept.name + "-wal")


def peek_depth(directory: Path) -> int | None:
    """The depth a stopped agent left, read without writing (the running agent is the only writer).

    0 when there is no spool yet; None when it cannot be read (locked, damaged, not a spool).
    """
    path = Path(directory) / DB_NAME
    if not path.exists():
        return 0
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=1.0)
        try:
            row = db.execute("SELECT value FROM meta WHERE key = 'depth'").fetchone()
        finally:
            db.close()
    except sqlite3.Error:
        return None
    return int(row[0]) if row else 0
