"""One ingest run on one backend: collector up, agents enrolled, timed streaming, store verified."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bench.ingest.agents import AgentResult, ClientSpec, client_main
from bench.ingest.clients import ClientGroup, client_processes
from bench.ingest.enroll import Credentials, enroll_agents
from bench.ingest.report import IngestFigures
from bench.ingest.verify import verify_store
from bench.postgres import PostgresCluster
from bench.procs import Collector, cpu_by_pid, cpu_delta, machine_busy_seconds, total_peak_rss_mib
from bench.profiling import Sampler, summary_lines

PREPARE_TIMEOUT = 900.0  # pre-encoding events and connecting, before the timed phase
DRAIN_GRACE = 120.0  # after --duration: outstanding acks, then the stream's end
LOG_TAIL = 20  # collector log lines shown when a run fails


@dataclass(frozen=True)
class Options:
    agents: int = 20
    events_per_agent: int = 10_000
    batch: int = 500
    window: int = 4
    duration: float = 300.0
    client_procs: int = 1
    profile_dir: Path | None = None
    workers: int = 0
    pg_settings: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Timed:
    """What the parent measured around the timed phase."""

    results: list[AgentResult]
    window_s: float
    collector_cpu_s: float
    database_cpu_s: float
    client_cpu_s: float
    machine_cpu_s: float


@contextmanager
def running_collector(
    backend: str, root: Path, pg_settings: dict[str, str], workers: int = 0
) -> Iterator[tuple[Collector, Callable[[], list[int]]]]:
    """A serving collector on SQLite or on a private PostgreSQL, and how to list the database's pids."""
    db_pids: Callable[[], list[int]] = list
    url = None
    with ExitStack() as stack:
        if backend == "postgres":
            cluster = PostgresCluster(root / "pg", pg_settings)
            stack.callback(cluster.stop)
            cluster.start()
            url = cluster.create_database("mamori_bench")
            db_pids = cluster.pids
        collector = Collector(root / f"collector-{backend}", workers=workers)
        collector.init(url)
        stack.callback(collector.stop)
        collector.start()
        try:
            yield collector, db_pids
        except Exception:
            print(
                f"collector log (last {LOG_TAIL} lines):",
                *collector.log().splitlines()[-LOG_TAIL:],
                sep="\n",
                file=sys.stderr,
            )
            raise


def enroll(collector: Collector, count: int) -> list[Credentials]:
    return enroll_agents(collector.enroll_port, collector.ca_cert, collector.token(count), count)


def timed_phase(
    group: ClientGroup,
    collector_pids: list[int],
    db_pids: Callable[[], list[int]],
    timeout: float,
    sampler: Sampler | None,
) -> Timed:
    """Start every client at once; CPU is read just before the start signal and after the last result.

    That CPU window is a little longer than first-send-to-last-ack (process wake-up, stream close).
    """
    collector0, db0, machine0 = cpu_by_pid(collector_pids), cpu_by_pid(db_pids()), machine_busy_seconds()
    start = time.monotonic()
    group.go.set()
    try:
        done = group.wait("done", timeout)
    finally:
        if sampler is not None:
            sampler.stop()
    window = time.monotonic() - start
    collector1, db1, machine1 = cpu_by_pid(collector_pids), cpu_by_pid(db_pids()), machine_busy_seconds()
    return Timed(
        results=[r for results, _ in done for r in results],
        window_s=window,
        collector_cpu_s=cpu_delta(collector0, collector1),
        database_cpu_s=cpu_delta(db0, db1),
        client_cpu_s=sum(cpu for _, cpu in done),
        machine_cpu_s=machine1 - machine0,
    )


def figures(backend: str, opts: Options, timed: Timed, stored: int, peak_rss: float) -> IngestFigures:
    sending = [r for r in timed.results if r.events]
    wall = max((r.last_ack for r in sending), default=0.0) - min((r.first_send for r in sending), default=0.0)
    events = sum(r.events for r in timed.results)
    return IngestFigures(
        backend=backend,
        agents=opts.agents,
        batch=opts.batch,
        events=events,
        stored=stored,
        wall_s=wall,
        latencies_s=[lat for r in timed.results for lat in r.latencies],
        cpu_window_s=timed.window_s,
        collector_cpu_s=timed.collector_cpu_s,
        database_cpu_s=timed.database_cpu_s if backend == "postgres" else None,
        client_cpu_s=timed.client_cpu_s,
        machine_cpu_s=timed.machine_cpu_s,
        peak_rss_mib=peak_rss,
        capped=events < opts.agents * opts.events_per_agent,
    )


def run_ingest(backend: str, opts: Options, root: Path) -> IngestFigures:
    """The whole benchmark for one backend; everything it started is stopped when it returns or raises."""
    with running_collector(backend, root, opts.pg_settings, opts.workers) as (collector, db_pids):
        agents = enroll(collector, opts.agents)
        spec = ClientSpec(
            port=collector.port,
            ca_pem=collector.ca_cert,
            agents=[],
            events_per_agent=opts.events_per_agent,
            batch_size=opts.batch,
            window=opts.window,
            duration=opts.duration,
            timeout=opts.duration + DRAIN_GRACE,
        )
        with client_processes(client_main, spec, agents, opts.client_procs) as group:
            group.wait("ready", PREPARE_TIMEOUT)
            sampler = None
            if opts.profile_dir is not None:
                sampler = Sampler(collector.pid, opts.profile_dir / f"collector-{backend}.txt")
            timed = timed_phase(group, collector.pids(), db_pids, spec.timeout + 60, sampler)
        stored = verify_store(collector.database_url, {r.agent_id: r.events for r in timed.results})
        result = figures(backend, opts, timed, stored, total_peak_rss_mib(collector.pids()))
    if sampler is not None:
        print("\n".join(summary_lines(sampler.output, timed.window_s, timed.collector_cpu_s)), flush=True)
    return result
