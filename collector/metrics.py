"""Prometheus metrics of one `serve` process: live counters from the servers, store figures read at scrape time."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select

from collector.store.db import read_only
from collector.store.models import agents, violations
from mamori import clock
from mamori.labels import SEGMENTS

log = logging.getLogger("mamori.collector.metrics")

# Every refusal of an agent message falls in one of these: a label must never carry the agent's own text.
REFUSAL_REASONS = (
    "malformed",
    "invalid_message",
    "invalid_event",
    "bad_sequence",
    "store_refused",
    "store_unavailable",
)
# Unresolved violations: the two statuses whose active_key is set.
UNRESOLVED = ("open", "acknowledged")


@dataclass(frozen=True)
class OutboxStats:
    """One forwarding destination's queue as the outbox reports it."""

    sink: str  # a configured destination kind ("syslog", "mail"), never an address
    depth: int
    oldest_age_seconds: float | None  # None: the queue is empty


# The forwarding outbox (collector/forward/) plugs in here; without one there is nothing to report.
OutboxSource = Callable[[Engine, datetime], Sequence[OutboxStats]]


def no_outbox(_engine: Engine, _now: datetime) -> Sequence[OutboxStats]:
    return ()


def earliest_agent_cert_expiry(engine: Engine) -> datetime | None:
    """The first not_after among certificates in use (agents neither revoked nor superseded).

    Hook for agent certificate tracking: the agents row holds the certificate on record; a later table of
    renewed certificates should answer here instead.
    """
    with read_only(engine.connect()) as conn:
        return conn.execute(
            select(func.min(agents.c.cert_not_after)).where(
                agents.c.revoked_at.is_(None), agents.c.superseded_by.is_(None)
            )
        ).scalar()


def cert_not_after(path: Path) -> float | None:
    """A PEM certificate file's not_after as unix seconds; None when it is missing or unreadable."""
    try:
        return x509.load_pem_x509_certificate(path.read_bytes()).not_valid_after_utc.timestamp()
    except (OSError, ValueError):
        return None


class StoreCollector(Collector):
    """Figures read when Prometheus scrapes: they are the store's truth, shared by every collector process."""

    def __init__(
        self, engine: Engine, certificates: dict[str, Path], outbox: OutboxSource, healthy: Callable[[], bool]
    ):
        self.engine = engine
        self.certificates = certificates
        self.outbox = outbox
        self.healthy = healthy

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = self.healthy()
        yield GaugeMetricFamily("mamori_database_up", "1 while the store answers, 0 otherwise.", value=int(up))
        horizons = GaugeMetricFamily(
            "mamori_certificate_not_after_seconds",
            "Expiry of the collector's certificates (unix seconds); agent_earliest is the "
            "first agent certificate in use to expire.",
            labels=["certificate"],
        )
        for name, path in self.certificates.items():
            value = cert_not_after(path)
            if value is not None:
                horizons.add_metric([name], value)
        if up:
            yield from self._store(horizons)
        yield horizons
        yield from self._outbox()

    def _store(self, horizons: GaugeMetricFamily) -> Iterator[GaugeMetricFamily]:
        try:
            with read_only(self.engine.connect()) as conn:
                rows = conn.execute(
                    select(violations.c.rule_id, violations.c.severity, violations.c.status, func.count())
                    .where(violations.c.active_key.is_not(None))
                    .group_by(violations.c.rule_id, violations.c.severity, violations.c.status)
                ).all()
            earliest = earliest_agent_cert_expiry(self.engine)
        except Exception:  # a store that fails mid-scrape: the scrape still answers, mamori_database_up says why
            log.warning("metrics: cannot read the store", exc_info=True)
            return
        family = GaugeMetricFamily(
            "mamori_violations_open",
            "Unresolved violations (open or acknowledged) now.",
            labels=["rule", "severity", "status"],
        )
        for rule, severity, status, count in rows:
            family.add_metric([rule, severity, status], count)
        yield family
        if earliest is not None:
            horizons.add_metric(["agent_earliest"], earliest.timestamp())

    def _outbox(self) -> Iterator[GaugeMetricFamily]:
        depth = GaugeMetricFamily("mamori_outbox_depth", "Records waiting to be forwarded.", labels=["sink"])
        age = GaugeMetricFamily(
            "mamori_outbox_oldest_age_seconds", "Age of the oldest record waiting.", labels=["sink"]
        )
        try:
            stats = self.outbox(self.engine, clock.now())
        except Exception:
            log.warning("metrics: cannot read the outbox", exc_info=True)
            stats = ()
        for s in stats:
            depth.add_metric([s.sink], s.depth)
            age.add_metric([s.sink], s.oldest_age_seconds or 0.0)
        yield depth
        yield age


class Metrics:
    """The registry of one serve process (no global default registry): servers count into it as they work."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.streams = Gauge(
            "mamori_agent_streams", "Telemetry streams open now, by the agent's segment.", ["segment"], registry=r
        )
        self.ingested = Counter("mamori_events_ingested", "Events stored (replays excluded).", ["segment"], registry=r)
        self.duplicates = Counter(
            "mamori_events_duplicate", "Replayed events already stored, not stored again.", ["segment"], registry=r
        )
        self.refused_events = Counter(
            "mamori_events_refused", "Events in refused batches (nothing stored).", ["reason"], registry=r
        )
        self.refused = Counter("mamori_messages_refused", "Agent messages refused, by reason.", ["reason"], registry=r)
        self.batch_seconds = Histogram(
            "mamori_batch_duration_seconds",
            "Time to store and judge one batch, in seconds.",
            registry=r,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.tick_seconds = Histogram(
            "mamori_rule_tick_duration_seconds",
            "Time of one state-rule tick this process ran, in seconds.",
            registry=r,
            buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300),
        )
        self.tick_failures = Counter("mamori_rule_tick_failures", "State-rule ticks that failed.", registry=r)
        # Zero series from the start: a rate() over a label that appears later misses its first increase.
        for segment in SEGMENTS:
            self.streams.labels(segment)
            self.ingested.labels(segment)
            self.duplicates.labels(segment)
        for reason in REFUSAL_REASONS:
            self.refused.labels(reason)
            self.refused_events.labels(reason)

    def attach_store(
        self,
        engine: Engine,
        certificates: dict[str, Path],
        healthy: Callable[[], bool],
        outbox: OutboxSource = no_outbox,
    ) -> None:
        self.registry.register(StoreCollector(engine, certificates, outbox, healthy))

    def refusal(self, reason: str, events: int) -> None:
        self.refused.labels(reason).inc()
        if events:
            self.refused_events.labels(reason).inc(events)
