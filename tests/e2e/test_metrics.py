"""/metrics, /healthz and grpc.health.v1 on a real collector: figures match what was sent and what is stored."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from collections import defaultdict
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from mamori.labels import SEGMENTS
from tests.e2e import clients
from tests.e2e.harness import Collector, free_port, wait_for
from tests.e2e.proxy import Proxy


def with_metrics(collector: Collector, listen: str | None = None) -> str:
    listen = listen or f"127.0.0.1:{free_port()}"
    cfg = collector.data_dir / "collector.toml"
    text = cfg.read_text()
    assert text.count('listen = ""') == 1  # the [metrics] key init wrote, off
    cfg.write_text(text.replace('listen = ""', f'listen = "{listen}"'))
    return f"http://{listen}"


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def scrape(base: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample as {(name, sorted labels): value}."""
    status, body = get(base + "/metrics")
    assert status == 200
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
    }


def value(samples, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def family(samples, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {labels: v for (n, labels), v in samples.items() if n == name}


def not_after(path: Path) -> float:
    return x509.load_pem_x509_certificate(path.read_bytes()).not_valid_after_utc.timestamp()


def health(collector: Collector, service: str = "") -> int:
    ca = (collector.data_dir / "ca.crt").read_bytes()
    with clients.channel(collector.enroll_port, ca) as ch:
        return health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(service=service), timeout=10).status


def test_metrics_follow_streams_ingest_and_the_store(collector, make_agent):
    base = with_metrics(collector)
    collector.start()
    assert f"serving metrics on {base}/metrics" in collector.log()
    first = scrape(base)
    assert value(first, "mamori_database_up") == 1
    assert all(value(first, "mamori_agent_streams", segment=s) == 0 for s in SEGMENTS)
    assert value(first, "mamori_events_ingested_total", segment="mynumber") == 0
    assert value(first, "mamori_certificate_not_after_seconds", certificate="ca") == not_after(
        collector.data_dir / "ca.crt"
    )
    assert value(first, "mamori_certificate_not_after_seconds", certificate="server") == not_after(
        collector.data_dir / "server.crt"
    )
    # Forwarding is off: both destinations are reported, with nothing waiting.
    assert family(first, "mamori_outbox_depth") == {(("sink", "mail"),): 0.0, (("sink", "syslog"),): 0.0}
    # serve runs its first state-rule tick at once; its duration is observed by this process.
    wait_for(lambda: value(scrape(base), "mamori_rule_tick_duration_seconds_count") == 1, what="the first tick")

    agent = make_agent()
    agent.enroll(collector, collector.token(segment="mynumber", department="市民課"))
    agent.write_config(checks={"enabled": False})
    agent.emit(3, kind="media.write")
    agent.start()
    wait_for(lambda: agent.spool_depth() == 0, timeout=60, what="the batch to be acked")
    now = scrape(base)
    assert value(now, "mamori_agent_streams", segment="mynumber") == 1
    assert value(now, "mamori_agent_streams", segment="lgwan") == 0
    stored = [e for e in collector.events() if e["agent_id"] == agent.agent_id and e["seq"] is not None]
    assert value(now, "mamori_events_ingested_total", segment="mynumber") == len(stored) >= 3
    assert value(now, "mamori_batch_duration_seconds_count") >= 1
    assert value(now, "mamori_certificate_not_after_seconds", certificate="agent_earliest") == not_after(
        agent.state_dir / "agent.crt"
    )
    # Open violations by rule, severity and status are exactly the store's unresolved ones.
    expected: dict[tuple, float] = defaultdict(float)
    for row in json.loads(collector.cli("violations", "list", "--json").stdout):
        if row["status"] in ("open", "acknowledged"):
            expected[(("rule", row["rule_id"]), ("severity", row["severity"]), ("status", row["status"]))] += 1
    assert family(now, "mamori_violations_open") == expected
    assert expected[(("rule", "MED-002"), ("severity", "critical"), ("status", "open"))] == 1
    # No host name, agent id or department ever becomes a label.
    body = get(base + "/metrics")[1]
    assert agent.agent_id not in body and "市民課" not in body

    agent.stop()
    wait_for(lambda: value(scrape(base), "mamori_agent_streams", segment="mynumber") == 0, what="stream closed")
    # Exactly what a hand-made stream sends: two new events count, their replay counts as duplicates only.
    key, cert = (agent.state_dir / "agent.key").read_bytes(), (agent.state_dir / "agent.crt").read_bytes()
    ca = (collector.data_dir / "ca.crt").read_bytes()
    # The agent's own agent.stopped went out as it stopped: count from what the store holds now.
    last = max(e["seq"] for e in collector.events() if e["agent_id"] == agent.agent_id and e["seq"] is not None)
    batch = clients.batch(clients.event(last + 1), clients.event(last + 2))
    before = scrape(base)
    clients.stream(collector.port, ca, key, cert, [batch])
    clients.stream(collector.port, ca, key, cert, [batch])
    after = scrape(base)

    def delta(name, **labels):
        return (value(after, name, **labels) or 0) - (value(before, name, **labels) or 0)

    assert delta("mamori_events_ingested_total", segment="mynumber") == 2
    assert delta("mamori_events_duplicate_total", segment="mynumber") == 2
    # A batch with a broken event is refused whole: counted by its bounded reason, none of it ingested.
    from mamori.v1 import events_pb2

    bad = events_pb2.Event.FromString(clients.event(last + 4))
    bad.event_id = "not-a-uuid"
    with pytest.raises(grpc.RpcError):
        clients.stream(collector.port, ca, key, cert, [clients.batch(clients.event(last + 3), bad.SerializeToString())])
    refused = scrape(base)
    assert value(refused, "mamori_events_ingested_total", segment="mynumber") == value(
        after, "mamori_events_ingested_total", segment="mynumber"
    )
    reasons = {dict(labels)["reason"]: v for labels, v in family(refused, "mamori_events_refused_total").items()}
    assert sum(reasons.values()) == 2 and len([r for r, v in reasons.items() if v]) == 1
    messages = {dict(labels)["reason"]: v for labels, v in family(refused, "mamori_messages_refused_total").items()}
    assert sum(messages.values()) == 1


def test_health_follows_the_sqlite_file(collector):
    base = with_metrics(collector)
    collector.start()
    assert get(base + "/healthz") == (200, "ok\n")
    assert health(collector) == health_pb2.HealthCheckResponse.SERVING
    assert health(collector, "mamori.v1.Telemetry") == health_pb2.HealthCheckResponse.SERVING
    db = collector.data_dir / "mamori.db"
    aside = db.with_name("moved-away.db")
    db.rename(aside)  # what a lost volume or a mistaken cleanup looks like to a new connection
    try:
        assert get(base + "/healthz") == (503, "database unreachable\n")
        assert health(collector) == health_pb2.HealthCheckResponse.NOT_SERVING
        assert value(scrape(base), "mamori_database_up") == 0  # /metrics itself still answers
        assert not db.exists(), "a probe must not create an empty database in its place"
    finally:
        aside.rename(db)
    assert get(base + "/healthz") == (200, "ok\n")
    assert health(collector) == health_pb2.HealthCheckResponse.SERVING
    assert "database is unreachable" in collector.log() and "reachable again" in collector.log()
    assert get(base + "/nothing")[0] == 404


@pytest.mark.postgres
def test_health_follows_postgresql(tmp_path, postgres_server, procs):
    name = "metrics_" + uuid.uuid4().hex[:8]
    postgres_server.create_database(name)
    link = Proxy(postgres_server.port)  # the network path to PostgreSQL, which the test can cut
    try:
        collector = Collector(tmp_path / "c").init(
            database_url=postgres_server.url(name).replace(f":{postgres_server.port}/", f":{link.port}/")
        )
        procs.append(collector)
        base = with_metrics(collector)
        collector.start()
        assert get(base + "/healthz") == (200, "ok\n")
        assert health(collector) == health_pb2.HealthCheckResponse.SERVING
        link.switch(free_port())  # nothing listens there: PostgreSQL is gone for new and open connections
        assert get(base + "/healthz") == (503, "database unreachable\n")
        assert health(collector) == health_pb2.HealthCheckResponse.NOT_SERVING
        link.switch(postgres_server.port)
        assert get(base + "/healthz") == (200, "ok\n")
        assert health(collector) == health_pb2.HealthCheckResponse.SERVING
    finally:
        link.close()


@pytest.mark.parametrize(
    "setting, complaint",
    [
        ('"7445"', "must be HOST:PORT"),
        ('"127.0.0.1:99999"', "must be HOST:PORT"),
        ("7445", "expected str, got int"),
    ],
)
def test_bad_metrics_settings_name_file_and_line(collector, setting, complaint):
    cfg = collector.data_dir / "collector.toml"
    text = cfg.read_text().replace('listen = ""', f"listen = {setting}")
    cfg.write_text(text)
    line = text.splitlines().index(f"listen = {setting}") + 1
    proc = collector.cli("serve", check=False)
    assert proc.returncode == 2
    assert f"{cfg}:{line}: key 'metrics.listen': {complaint}" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_metrics_port_in_use_is_one_line(collector):
    import socket

    port = free_port()
    with_metrics(collector, f"127.0.0.1:{port}")
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        proc = collector.cli("serve", check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert f"port {port} (metrics.listen" in proc.stderr
