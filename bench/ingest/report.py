"""Figures of one ingest run per backend, and how they are printed next to the design target."""

from __future__ import annotations

from dataclasses import dataclass

TARGET_EVENTS_PER_S = 50_000  # design.md: sustained ingest over mTLS on one 2-core machine


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class IngestFigures:
    """What one backend achieved; CPU seconds are over cpu_window_s, from start signal to last result."""

    backend: str
    agents: int
    batch: int
    events: int
    stored: int
    wall_s: float
    latencies_s: list[float]
    cpu_window_s: float
    collector_cpu_s: float
    database_cpu_s: float | None
    client_cpu_s: float
    machine_cpu_s: float
    peak_rss_mib: float
    capped: bool

    @property
    def events_per_s(self) -> float:
        return self.events / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def collector_core_pct(self) -> float:
        return 100 * self.collector_cpu_s / self.cpu_window_s if self.cpu_window_s > 0 else 0.0

    @property
    def outside_cpu_s(self) -> float:
        """Busy CPU on the machine during the window not spent by the collector, database or clients."""
        ours = self.collector_cpu_s + (self.database_cpu_s or 0.0) + self.client_cpu_s
        return max(0.0, self.machine_cpu_s - ours)

    @property
    def cpu_us_per_event(self) -> float:
        return 1e6 * self.collector_cpu_s / self.events if self.events else 0.0

    def lines(self) -> list[str]:
        db = "-" if self.database_cpu_s is None else f"{self.database_cpu_s:.1f} s"
        return [
            f"[{self.backend}] {self.agents} agents x {self.events // max(self.agents, 1)} events, "
            f"batch {self.batch}{' (stopped by --duration)' if self.capped else ''}",
            f"  stored           {self.stored} events (verified by SQL: matches the acknowledged "
            f"{self.events}, no gap, no duplicate)",
            f"  throughput       {self.events_per_s:,.0f} events/s over {self.wall_s:.2f} s (first send to last ack)",
            f"  ack latency      p50 {1e3 * percentile(self.latencies_s, 50):.1f} ms, "
            f"p99 {1e3 * percentile(self.latencies_s, 99):.1f} ms, max {1e3 * max(self.latencies_s, default=0):.1f} ms"
            f" ({len(self.latencies_s)} batches)",
            f"  collector CPU    {self.collector_cpu_s:.1f} s = {self.collector_core_pct:.0f}% of one core, "
            f"{self.cpu_us_per_event:.0f} us/event (a full core would give at most "
            f"{1e6 / self.cpu_us_per_event if self.cpu_us_per_event else 0:,.0f} events/s); "
            f"peak RSS {self.peak_rss_mib:.0f} MiB",
            f"  other CPU        database {db}, clients {self.client_cpu_s:.1f} s, "
            f"rest of the machine {self.outside_cpu_s:.1f} s (noise: should be near 0)",
            f"  vs target        {self.events_per_s / TARGET_EVENTS_PER_S:.2f} x the design target of "
            f"{TARGET_EVENTS_PER_S:,} events/s",
        ]


def print_comparison(runs: list[IngestFigures], floor: float = 0.0) -> None:
    """One line comparing the backends' throughput with each other, the raw SQLite floor and the design target."""
    parts = [
        f"{r.backend} {r.events_per_s:,.0f} events/s = {r.events_per_s / TARGET_EVENTS_PER_S:.2f} x target"
        + (f" = {r.events_per_s / floor:.2f} x floor" if floor else "")
        for r in runs
    ]
    if floor:
        parts.append(f"floor {floor:,.0f} events/s")
    if len(runs) > 1 and runs[0].events_per_s:
        parts += [f"{r.backend}/{runs[0].backend} {r.events_per_s / runs[0].events_per_s:.2f}" for r in runs[1:]]
    print(f"summary: {'; '.join(parts)} (target {TARGET_EVENTS_PER_S:,} events/s on 2 cores)", flush=True)
