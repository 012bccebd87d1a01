"""The ingest hot path: store an agent's batch idempotently, record sequence gaps, advance its ack."""

from __future__ import annotations

import fcntl
import os
import threading
import uuid
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Connection, Engine, String, bindparam, select, update

from collector import validate
from collector.forward import outbox
from collector.rules import EVENT_KINDS
from collector.rules.engine import AgentInfo, Judgement, evaluate_events, prepare, settle
from collector.store import facts
from collector.store import violations as vstore
from collector.store.db import dialect_insert, json_dumps, read_only
from collector.store.models import agents, events, sqlite_timestamp
from mamori import clock
from mamori.events import SEVERITY_RANK, Event
from mamori.evidence import nest
from mamori.ids import uuid7

GAP_KIND = "sequence.gap"
REFUSED_KIND = "batch.refused"
GAP_SEVERITY = "high"
# Gap events get deterministic ids, so one gap can never be recorded twice.
GAP_NAMESPACE = uuid.UUID("6d616d6f-7269-4761-b000-000000000001")


def _declared_length(column: Column[Any]) -> int:
    """The VARCHAR length the schema declares: checked before the insert, so a long value is a clear refusal."""
    declared = column.type
    assert isinstance(declared, String) and declared.length is not None, column
    return declared.length


MAX_KIND_LEN = _declared_length(events.c.kind)
MAX_EVENT_ID_LEN = _declared_length(events.c.event_id)
_COLUMNS = ("agent_id", "seq", "event_id", "kind", "severity", "occurred_at", "received_at", "payload")
_insert_sql: dict[tuple[str, str], str] = {}
# Built once (SQLAlchemy then finds their compiled form in its cache instead of building a construct per batch).
_AGENT = select(agents.c.segment, agents.c.department).where(agents.c.id == bindparam("agent_id"))
_AGENT_LOCKED = (
    select(agents.c.last_seq, agents.c.segment, agents.c.department)
    .where(agents.c.id == bindparam("agent_id"))
    .with_for_update()
)
_ADVANCE = (
    update(agents)
    .where(agents.c.id == bindparam("agent_id"))
    .values(last_seq=bindparam("acked"), last_seen_at=bindparam("seen_at"))
)


class UnknownAgent(LookupError):
    """The agent has no row in the store (never enrolled here)."""


class BatchError(ValueError):
    """A batch that breaks the contract; nothing of it was stored."""


@dataclass(slots=True)
class IngestResult:
    acked_seq: int
    stored: int
    duplicates: int
    gaps: list[tuple[int, int]] = field(default_factory=list)


def gap_event_id(agent_id: str, first: int, last: int) -> str:
    return str(uuid.uuid5(GAP_NAMESPACE, f"{agent_id}:{first}-{last}"))


def find_gaps(sorted_seqs: Sequence[int], last_seq: int) -> list[tuple[int, int]]:
    """Missing ranges above last_seq; anything at or below it is a replay or a late arrival, never a gap."""
    gaps = []
    prev = last_seq
    for seq in sorted_seqs:
        if seq > prev + 1:
            gaps.append((prev + 1, seq - 1))
        if seq > prev:
            prev = seq
    return gaps


def _check(ev: Event) -> datetime:
    """Refuse an event an agent must not send; returns its (checked) occurrence time."""
    # Cheap checks before the transaction, so a bad batch fails with a clear message and changes nothing.
    if type(ev.seq) is not int or not 0 < ev.seq <= validate.MAX_SEQ:
        raise BatchError(f"event {ev.event_id!r}: seq must be an integer in 1..{validate.MAX_SEQ}, got {ev.seq!r}")
    if not ev.kind or len(ev.kind) > MAX_KIND_LEN or ev.kind in (GAP_KIND, REFUSED_KIND):
        raise BatchError(f"seq {ev.seq}: kind {ev.kind!r} is not acceptable from an agent")
    if ev.severity not in SEVERITY_RANK:
        raise BatchError(f"seq {ev.seq}: unknown severity {ev.severity!r}")
    if not ev.event_id or len(ev.event_id) > MAX_EVENT_ID_LEN:
        raise BatchError(f"seq {ev.seq}: bad event_id {ev.event_id!r}")
    if ev.occurred_at is None or ev.occurred_at.utcoffset() is None:
        raise BatchError(f"seq {ev.seq}: occurred_at must be a tz-aware datetime")
    return ev.occurred_at


def _driver_params(dialect: str, agent_id: str, batch: Sequence[Event], received_at: datetime) -> list[Any]:
    """DB-API parameters for the event insert, converted here once rather than by SQLAlchemy per column.

    This is the hot path: SQLAlchemy's per-row type processing cost more than SQLite's own insert.
    """
    on_sqlite = dialect == "sqlite"
    stamp: Callable[[datetime], Any] = sqlite_timestamp if on_sqlite else _same
    received = stamp(received_at)
    rows = []
    for ev in batch:
        occurred_at = _check(ev)
        rows.append(
            (
                agent_id,
                ev.seq,
                ev.event_id,
                ev.kind,
                ev.severity,
                stamp(occurred_at),
                received,
                json_dumps(ev.payload),
            )
        )
    # SQLite's statement has positional placeholders in _COLUMNS order, psycopg's named ones.
    return rows if on_sqlite else [dict(zip(_COLUMNS, row, strict=True)) for row in rows]


def _same(value: datetime) -> datetime:
    return value


def _event_insert(conn: Connection) -> str:
    """The dialect's INSERT ... ON CONFLICT DO NOTHING, compiled once per dialect.

    No conflict target: besides a replayed (agent_id, seq), an event_id already stored is a duplicate too. A
    re-enrolled terminal re-stamps its unsent events into the new id's sequence, and one the old id's record
    stored just before (its ack lost) arrives again under the new id.
    """
    key = (conn.dialect.name, conn.dialect.driver)
    sql = _insert_sql.get(key)
    if sql is None:
        # inline(): no RETURNING of the new id, which an executemany neither needs nor allows.
        stmt = dialect_insert(conn, events).inline().on_conflict_do_nothing()
        sql = _insert_sql[key] = stmt.compile(dialect=conn.dialect, column_keys=list(_COLUMNS)).string
    return sql


def _new_rule_events(conn: Connection, agent_id: str, batch: Sequence[Event], last_seq: int) -> list[Event]:
    """The batch's events of kinds that have rules, minus replays of stored ones (judged once only)."""
    return _unstored(conn, agent_id, [ev for ev in batch if ev.kind in EVENT_KINDS], last_seq)


def _unstored(conn: Connection, agent_id: str, chosen: Sequence[Event], last_seq: int) -> list[Event]:
    """chosen minus repeated seqs and replays of events already stored."""
    seen: set[int] = set()
    relevant = []
    for ev in chosen:
        if ev.seq not in seen:
            seen.add(ev.seq)
            relevant.append(ev)
    # Only a seq at or below last_seq can already be stored: look those up (replays are rare).
    old = [ev.seq for ev in relevant if ev.seq <= last_seq]
    if old:
        stored = set(
            conn.execute(select(events.c.seq).where(events.c.agent_id == agent_id, events.c.seq.in_(old))).scalars()
        )
        relevant = [ev for ev in relevant if ev.seq not in stored]
    return relevant


def _not_yet_stored(conn: Connection, agent_id: str, params: list[Any], last_seq: int) -> list[Any]:
    """PostgreSQL's partitioned events are unique by (agent_id, seq, occurred_at), not (agent_id, seq): a replayed
    seq is dropped here instead, looked up only for seqs at or below the last stored one (replays are rare)."""
    old = {p["seq"] for p in params if p["seq"] <= last_seq}
    if not old:
        return params
    stored = set(
        conn.execute(select(events.c.seq).where(events.c.agent_id == agent_id, events.c.seq.in_(sorted(old)))).scalars()
    )
    return [p for p in params if p["seq"] not in stored]


def _record_gaps(conn: Connection, agent_id: str, gaps: list[tuple[int, int]], received_at: datetime) -> list[Event]:
    rows: list[dict[str, Any]] = [  # the insert's parameters
        {
            "agent_id": agent_id,
            "seq": None,
            "event_id": gap_event_id(agent_id, first, last),
            "kind": GAP_KIND,
            "severity": GAP_SEVERITY,
            "occurred_at": received_at,
            "received_at": received_at,
            "payload": {"first_missing": first, "last_missing": last},
        }
        for first, last in gaps
    ]
    # No conflict target: on PostgreSQL the event_id key also holds occurred_at (partitioned, see partitions.py).
    conn.execute(dialect_insert(conn, events).on_conflict_do_nothing(), rows)
    return [
        Event(
            kind=r["kind"],
            payload=r["payload"],
            severity=r["severity"],
            event_id=r["event_id"],
            occurred_at=received_at,
        )
        for r in rows
    ]


# SQLite has one writer at a time. Writers that all wait in SQLite's busy handler wake in no order (it polls
# with growing sleeps), so a batch can starve (the long latency tail bench/ingest measured, and in the end
# "database is locked"); writers queue on a lock instead: a thread lock per engine within a process, and an
# flock on a file beside the database across the processes of `serve --workers N`. PostgreSQL needs none.
_sqlite_writers: weakref.WeakKeyDictionary[Engine, _WriterLock] = weakref.WeakKeyDictionary()
_writers_guard = threading.Lock()


class _WriterLock:
    """The turn of one writer of one SQLite file: the thread lock, then (for a file) the flock."""

    def __init__(self, database: str | None):
        self.thread = threading.Lock()
        self.path = f"{database}-writer.lock" if database and database != ":memory:" else None
        self.fd: int | None = None
        # Batches waiting for the writer (group commit, see _group_commit).
        self.queue: list[_Job] = []
        self.queue_guard = threading.Lock()

    @contextmanager
    def file_lock(self) -> Iterator[None]:
        """The turn among processes; the caller holds the thread lock."""
        if self.path is None:
            yield
            return
        if self.fd is None:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self.fd, fcntl.LOCK_UN)

    def __enter__(self) -> None:
        self.thread.acquire()
        try:
            self._file = self.file_lock()
            self._file.__enter__()
        except BaseException:
            self.thread.release()
            raise

    def __exit__(self, *exc: object) -> None:
        try:
            self._file.__exit__(None, None, None)
        finally:
            self.thread.release()


def _writer_turn(engine: Engine) -> AbstractContextManager[Any]:
    if engine.dialect.name != "sqlite":
        return nullcontext()
    with _writers_guard:
        lock = _sqlite_writers.get(engine)
        if lock is None:
            lock = _sqlite_writers[engine] = _WriterLock(engine.url.database)
    return lock


def store_batch(
    engine: Engine, agent_id: str, batch: Sequence[Event], received_at: datetime | None = None
) -> IngestResult:
    """Store a batch in one transaction; a replayed event counts as a duplicate and is never stored twice.

    Raises BatchError (nothing stored) for events breaking the contract, UnknownAgent for an agent
    without a row; database errors roll the whole batch back.
    """
    received_at = received_at or clock.now()
    if received_at.utcoffset() is None:
        raise ValueError("received_at must be a tz-aware datetime")
    # The wire carries a check's evidence as JSON text (protobuf stays at the edge): decoded here, it is stored
    # as one nested object that rules, the CLI and reports read as data.
    # (collector.ingest nests while decoding, so its events need no second dataclass each.)
    batch = [
        replace(ev, payload=nest(ev.payload)) if "evidence_json" in ev.payload and ev.kind == "check.result" else ev
        for ev in batch
    ]
    params = _driver_params(engine.dialect.name, agent_id, batch, received_at)
    job = _Job(agent_id, batch, params, received_at, _judge(engine, agent_id, batch))
    if engine.dialect.name == "sqlite":
        return _group_commit(engine, job)
    with engine.begin() as conn:
        return _store_one(conn, job)


def _judge(engine: Engine, agent_id: str, batch: Sequence[Event]) -> Judgement | None:
    """The batch's verdicts, worked out before the writer's turn: only the writes wait for it.

    The agent's segment, the policy and the covering exceptions are read here on a reader connection (on
    SQLite it queues behind no writer); the store re-checks the segment under its lock. None: no event of the
    batch has a rule (file, heartbeat... the common case), so the rule engine is not involved at all.
    """
    if not any(ev.kind in EVENT_KINDS for ev in batch):
        return None
    with engine.connect() as conn:
        conn = read_only(conn)
        row = conn.execute(_AGENT, {"agent_id": agent_id}).one_or_none()
        if row is None:
            return None  # the store raises UnknownAgent, under its lock as for any batch
        agent = AgentInfo(agent_id, row.segment, row.department)
        judgement = prepare(agent, facts.policy_document(conn, agent.segment), batch)
        flaggable = judgement.flaggable()
        judgement.exceptions = (
            vstore.covering_exceptions(conn, agent_id, agent.department, flaggable) if flaggable else []
        )
    return judgement


@dataclass(slots=True)
class _Job:
    """One batch ready to store (checked, driver parameters built), and what became of it."""

    agent_id: str
    batch: Sequence[Event]
    params: list[Any]
    received_at: datetime
    judgement: Judgement | None = None  # the rules' verdicts on the batch, before its transaction
    done: bool = False
    result: IngestResult | None = None
    error: BaseException | None = None


def _store_one(conn: Connection, job: _Job) -> IngestResult:
    agent_id, batch, params, received_at = job.agent_id, job.batch, job.params, job.received_at
    # The row lock serialises batches of one agent across collectors on PostgreSQL, so gap
    # detection and last_seq see every earlier batch; on SQLite BEGIN IMMEDIATE already does.
    agent = conn.execute(_AGENT_LOCKED, {"agent_id": agent_id}).one_or_none()
    if agent is None:
        raise UnknownAgent(agent_id)
    last_seq = agent.last_seq
    if not params:
        return IngestResult(acked_seq=last_seq, stored=0, duplicates=0)
    try:
        # Against the last stored seq, read under the row lock: only here is it current.
        validate.seq_window((ev.seq for ev in batch), last_seq)
    except validate.Invalid as exc:
        raise BatchError(str(exc)) from None
    info = AgentInfo(agent_id, agent.segment, agent.department)
    judgement = job.judgement
    judged = _new_rule_events(conn, agent_id, batch, last_seq)
    total = len(params)
    # Events the SIEM asked for ([forward] what = "events:..."), queued with them in this transaction.
    forwarded = _unstored(conn, agent_id, outbox.wanted_events(batch), last_seq) if outbox.forwards_events() else []
    if conn.dialect.name == "postgresql":
        params = _not_yet_stored(conn, agent_id, params, last_seq)
    # Both drivers report the rows an executemany really changed; a skipped conflict changes none.
    stored = conn.exec_driver_sql(_event_insert(conn), params).rowcount if params else 0
    if forwarded:  # before the violations they raise: the SIEM gets cause, then verdict
        outbox.enqueue_events(conn, agent_id, agent.segment, agent.department, forwarded, received_at)
    seqs = sorted(ev.seq for ev in batch)
    gaps = find_gaps(seqs, last_seq)
    # Same transaction: a critical event is an open violation by the time the batch is acked.
    if judged:
        # Not judged before (the agent's row appeared meanwhile), or moved to another segment or 所属 since.
        if judgement is None or judgement.agent != info:
            judgement = prepare(info, facts.policy_document(conn, info.segment), judged)
        settle(conn, judgement.keep(judged))
    if gaps:
        evaluate_events(conn, info, _record_gaps(conn, agent_id, gaps, received_at))
    acked = max(last_seq, seqs[-1])
    conn.execute(_ADVANCE, {"agent_id": agent_id, "acked": acked, "seen_at": received_at})
    return IngestResult(acked_seq=acked, stored=stored, duplicates=total - stored, gaps=gaps)


def _group_commit(engine: Engine, job: _Job) -> IngestResult:
    """SQLite: the thread that gets the writer's turn stores every batch queued by then in one transaction.

    SQLite has one writer, so batches wait for it anyway; one BEGIN/COMMIT (and one hand-over of the write
    lock between worker processes) for all of them is what lets the collector approach executemany's own
    rate. Each batch is its own SAVEPOINT: a refused batch rolls back alone. Nobody's Ack is sent before
    the shared COMMIT returned, so a crash loses nothing acknowledged.
    """
    writer = _writer_turn(engine)
    assert isinstance(writer, _WriterLock)
    with writer.queue_guard:
        writer.queue.append(job)
    with writer.thread:
        if not job.done:
            with writer.queue_guard:
                jobs, writer.queue = writer.queue, []
            with writer.file_lock():
                _store_all(engine, jobs)
    if job.error is not None:
        raise job.error
    assert job.result is not None
    return job.result


def _store_all(engine: Engine, jobs: list[_Job]) -> None:
    try:
        with engine.begin() as conn:
            for job in jobs:
                try:
                    with conn.begin_nested():
                        job.result = _store_one(conn, job)
                except Exception as exc:  # noqa: BLE001 (handed to the batch's own caller, the others go on)
                    job.error = exc
    except Exception as exc:  # noqa: BLE001 (the COMMIT failed: no batch of the group is stored)
        for job in jobs:
            job.result, job.error = None, job.error or exc
    finally:
        for job in jobs:
            job.done = True


def record_refused(engine: Engine, agent_id: str, payload: dict[str, Any], at: datetime) -> None:
    """Record that the agent's batches keep being refused (batch.refused, judged by OPS-003).

    Its heartbeats still move last_seen_at, so without this the terminal would look healthy while none of its
    events is stored.
    """
    row: dict[str, Any] = {
        "agent_id": agent_id,
        "seq": None,
        "event_id": str(uuid7()),
        "kind": REFUSED_KIND,
        "severity": GAP_SEVERITY,
        "occurred_at": at,
        "received_at": at,
        "payload": payload,
    }
    with _writer_turn(engine), engine.begin() as conn:
        agent = conn.execute(select(agents.c.segment, agents.c.department).where(agents.c.id == agent_id)).one_or_none()
        if agent is None:
            raise UnknownAgent(agent_id)
        conn.execute(dialect_insert(conn, events), [row])
        evaluate_events(
            conn,
            AgentInfo(agent_id, agent.segment, agent.department),
            [
                Event(
                    kind=REFUSED_KIND, payload=payload, severity=GAP_SEVERITY, event_id=row["event_id"], occurred_at=at
                )
            ],
        )


def touch_agent(
    engine: Engine,
    agent_id: str,
    *,
    seen_at: datetime,
    policy_version: str | None = None,
    agent_version: str | None = None,
) -> None:
    """Record a heartbeat; versions are only overwritten when the agent reported them."""
    values: dict[str, Any] = {"last_seen_at": seen_at}
    if policy_version is not None:
        values["policy_version"] = policy_version
    if agent_version is not None:
        values["agent_version"] = agent_version
    with engine.begin() as conn:
        if conn.execute(update(agents).where(agents.c.id == agent_id).values(**values)).rowcount == 0:
            raise UnknownAgent(agent_id)
