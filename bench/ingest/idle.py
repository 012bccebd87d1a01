"""Hold many idle agent streams open (the 10,000-agent target) and measure the collector's RSS and CPU."""

from __future__ import annotations

import asyncio
import resource
import signal
import time
import traceback
from dataclasses import dataclass
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event as MpEvent
from pathlib import Path

from bench.ingest.agents import AgentStream, connect_all, wait_go
from bench.ingest.clients import client_processes
from bench.ingest.enroll import Credentials
from bench.ingest.run import enroll, running_collector
from bench.procs import cpu_by_pid, cpu_delta, peak_rss_mib, rss_mib

CONNECT_TIMEOUT = 1800.0
CLOSE_TIMEOUT = 300.0


@dataclass(frozen=True)
class IdleOptions:
    agents: int
    seconds: float
    client_procs: int


@dataclass(frozen=True)
class IdleSpec:
    port: int
    ca_pem: bytes
    agents: list[Credentials]
    hold_timeout: float


@dataclass(frozen=True)
class IdleFigures:
    backend: str
    agents: int
    enroll_s: float
    connect_s: float
    rss_before_mib: float
    rss_connected_mib: float
    peak_rss_mib: float
    idle_s: float
    idle_cpu_s: float

    def lines(self) -> list[str]:
        per_agent = 1024 * (self.rss_connected_mib - self.rss_before_mib) / self.agents
        return [
            f"[{self.backend}] {self.agents} idle agents, each its own mTLS stream (Hello done)",
            f"  enrollment       {self.enroll_s:.1f} s ({self.agents / self.enroll_s:,.0f} agents/s)",
            f"  connecting       {self.connect_s:.1f} s ({self.agents / self.connect_s:,.0f} streams/s, incl. spawn)",
            f"  collector RSS    {self.rss_before_mib:.0f} MiB enrolled, {self.rss_connected_mib:.0f} MiB connected "
            f"({per_agent:.0f} KiB per stream); peak {self.peak_rss_mib:.0f} MiB",
            f"  collector CPU    {self.idle_cpu_s:.2f} s over {self.idle_s:.0f} s idle = "
            f"{100 * self.idle_cpu_s / self.idle_s:.1f}% of one core",
        ]


async def _hold(spec: IdleSpec, out: Queue, go: MpEvent) -> int:
    streams = [AgentStream(creds, spec.port, spec.ca_pem) for creds in spec.agents]
    try:
        await connect_all(streams)
        out.put(("ready", len(streams)))
        await wait_go(go, spec.hold_timeout)
        return len(streams)
    finally:
        await asyncio.gather(*(s.close() for s in streams), return_exceptions=True)


def idle_main(spec: IdleSpec, out: Queue, go: MpEvent) -> None:
    """Entry point of a client process: ("ready", n) once all its streams are up, ("done", n) on release."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # one socket per agent
    try:
        out.put(("done", asyncio.run(_hold(spec, out, go))))
    except BaseException:  # noqa: B036 (report anything to the parent, which decides)
        out.put(("error", traceback.format_exc()))


def run_idle(backend: str, opts: IdleOptions, root: Path) -> IdleFigures:
    """Enroll and connect opts.agents agents, hold them idle for opts.seconds, then let them go."""
    with running_collector(backend, root, {}) as (collector, _db_pids):
        start = time.monotonic()
        agents = enroll(collector, opts.agents)
        enroll_s = time.monotonic() - start
        rss_before = rss_mib(collector.pid)
        spec = IdleSpec(
            port=collector.port, ca_pem=collector.ca_cert, agents=[], hold_timeout=CONNECT_TIMEOUT + opts.seconds
        )
        with client_processes(idle_main, spec, agents, opts.client_procs) as group:
            start = time.monotonic()
            group.wait("ready", CONNECT_TIMEOUT)
            connect_s = time.monotonic() - start
            cpu0, start = cpu_by_pid([collector.pid]), time.monotonic()
            time.sleep(opts.seconds)
            cpu1, idle_s = cpu_by_pid([collector.pid]), time.monotonic() - start
            rss_connected = rss_mib(collector.pid)
            group.go.set()
            group.wait("done", CLOSE_TIMEOUT)
        return IdleFigures(
            backend=backend,
            agents=opts.agents,
            enroll_s=enroll_s,
            connect_s=connect_s,
            rss_before_mib=rss_before,
            rss_connected_mib=rss_connected,
            peak_rss_mib=peak_rss_mib(collector.pid),
            idle_s=idle_s,
            idle_cpu_s=cpu_delta(cpu0, cpu1),
        )
