"""python -m bench.ingest.stages: CPU per event of each step of the collector's ingest path, in one process."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.ingest.payloads import agent_batches
from bench.ingest.report import TARGET_EVENTS_PER_S
from bench.postgres import PostgresCluster
from collector.ingest import IngestService
from collector.store import ingest as ingest_store
from collector.store import queries
from collector.store.db import json_dumps, make_engine, upgrade
from collector.store.ingest import _driver_params, store_batch
from mamori import events as ev
from mamori.ids import uuid7
from mamori.v1 import telemetry_pb2


@dataclass(frozen=True, slots=True)
class Spent:
    """A step that measured only part of itself returns the CPU seconds of that part."""

    seconds: float


def cpu_us_per_event(prepare: Callable[[], Callable[[], object]], events: int, repeat: int) -> float:
    """The least process CPU time (all threads) of `repeat` runs of a freshly prepared step, per event, in us.

    The least of several runs is the figure least disturbed by whatever else the machine runs.
    """
    best = float("inf")
    for _ in range(repeat):
        step = prepare()
        start = time.process_time()
        result = step()
        best = min(best, result.seconds if isinstance(result, Spent) else time.process_time() - start)
    return 1e6 * best / events


def new_agent(engine: object) -> str:
    agent_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    queries.create_agent(
        engine,
        agent_id=agent_id,
        segment="lgwan",
        department="bench",
        hostname="bench",
        os="Linux",  # type: ignore[arg-type]
        os_version="bench",
        agent_version="bench",
        machine_id="bench",
        cert_serial=1,
        cert_sha256="00" * 32,
        cert_not_after=now + timedelta(days=1),
        enrolled_at=now,
    )
    return agent_id


def measure(url: str, events: int, batch: int, repeat: int) -> list[tuple[str, float]]:
    """(step, CPU us per event) for `events` events of one agent in batches of `batch`."""
    raw = [data for _, data in agent_batches(events, batch)]
    messages = [telemetry_pb2.AgentMessage.FromString(data) for data in raw]
    decoded = [[ev.decode(e) for e in m.batch.events] for m in messages]
    engine = make_engine(url)
    now = datetime.now(UTC)

    def store() -> Callable[[], object]:
        # A new agent and new event ids each run: every event is stored, none is a duplicate.
        agent_id = new_agent(engine)
        fresh = [[replace(e, event_id=str(uuid7())) for e in b] for b in decoded]
        return lambda: [store_batch(engine, agent_id, b, now) for b in fresh]

    def service() -> Callable[[], object]:
        agent_id = new_agent(engine)
        fresh = [telemetry_pb2.AgentMessage.FromString(d) for d in raw]
        for m in fresh:
            for e in m.batch.events:
                e.event_id = str(uuid7())
        ingest = IngestService(engine)
        return lambda: [ingest.store(agent_id, m.batch.events, now) for m in fresh]

    def serialized() -> Callable[[], object]:
        # Only the CPU inside the writer's turn (SQLite's group commit: what N workers cannot overlap).
        run = store()
        inner = ingest_store._store_all
        spent = [0.0]

        def timed(engine: object, jobs: list) -> None:
            start = time.process_time()
            try:
                inner(engine, jobs)  # type: ignore[arg-type]
            finally:
                spent[0] += time.process_time() - start

        def go() -> Spent:
            ingest_store._store_all = timed  # type: ignore[assignment]
            try:
                run()
            finally:
                ingest_store._store_all = inner
            return Spent(spent[0])

        return go

    steps: list[tuple[str, Callable[[], Callable[[], object]]]] = [
        (
            "protobuf parse of AgentMessage (gRPC deserializer)",
            lambda: lambda: [telemetry_pb2.AgentMessage.FromString(d) for d in raw],
        ),
        (
            "mamori.events.decode (server.py _batch)",
            lambda: lambda: [[ev.decode(e) for e in m.batch.events] for m in messages],
        ),
        (
            "_driver_params (checks, timestamps, JSON)",
            lambda: lambda: [_driver_params(engine.dialect.name, "a", b, now) for b in decoded],
        ),
        (
            "  of which: JSON of payloads (json_dumps)",
            lambda: lambda: [[json_dumps(e.payload) for e in b] for b in decoded],
        ),
        ("store_batch (the above + BEGIN, SELECT, INSERT, rules, UPDATE, COMMIT)", store),
        ("  of which: inside the writer's turn (the serialized transaction)", serialized),
        ("  IngestService.store (decode + nest + store_batch: what a worker thread does per batch)", service),
    ]
    try:
        return [(name, cpu_us_per_event(prepare, events, repeat)) for name, prepare in steps]
    finally:
        engine.dispose()


def print_table(backend: str, rows: list[tuple[str, float]]) -> None:
    print(f"[{backend}] collector-process CPU per event (database server CPU not included)")
    for name, us in rows:
        print(f"  {us:7.1f} us  {1e6 / us if us else 0:>9,.0f} events/s per core  {name}")
    total = sum(us for name, us in rows if not name.startswith(("  ", "_driver_params")))
    print(f"  {total:7.1f} us  {1e6 / total:>9,.0f} events/s per core  parse + decode + store_batch, before gRPC/TLS")
    print(
        f"  budget: {TARGET_EVENTS_PER_S:,} events/s is {1e6 / TARGET_EVENTS_PER_S:.0f} us per event for a "
        f"process bound to one core by the GIL ({2e6 / TARGET_EVENTS_PER_S:.0f} us if 2 cores were usable)",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.ingest.stages", description=__doc__)
    p.add_argument("--events", type=int, default=50_000)
    p.add_argument("--batch", type=int, default=500)
    p.add_argument("--repeat", type=int, default=3, help="runs per step; the least CPU time counts")
    p.add_argument("--postgres", action="store_true", help="also on a private PostgreSQL cluster")
    args = p.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="mamori-bench-stages-"))
    root.chmod(0o711)  # PostgreSQL runs as its own user and must reach its folder inside
    try:
        with ExitStack() as stack:
            urls = {"sqlite": f"sqlite:///{root / 'stages.db'}"}
            if args.postgres:
                cluster = PostgresCluster(root / "pg")
                stack.callback(cluster.stop)
                cluster.start()
                urls["postgres"] = cluster.create_database("stages")
            for backend, url in urls.items():
                upgrade(url)
                print_table(backend, measure(url, args.events, args.batch, max(1, args.repeat)))
        return 0
    except KeyboardInterrupt:
        return 130
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
