"""python -m bench.queries: violations-list p95 and one-year report time on a store of 10M events, 100k violations.

Builds the store once (SQLite by default, or --db-url for PostgreSQL) with bulk inserts shaped like real
traffic — 10,000 terminals in 3 segments and 40 所属, a fiscal year of events and violations — then times
the staff's queries the way the CLI runs them. Figures are printed against the design targets; nothing is
asserted (this is a benchmark, not a test).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, timedelta
from pathlib import Path

from sqlalchemy import func, select

from collector.reports import write
from collector.reports.data import build
from collector.reports.period import parse_period
from collector.rules import RULES
from collector.store import violations as vstore
from collector.store.db import make_engine, read_only, upgrade
from collector.store.models import agents, events, violations
from mamori.labels import SEGMENTS

TARGET_LIST_P95_MS = 50.0
TARGET_REPORT_S = 30.0
FY = parse_period("FY2026")
KINDS = ["check.result"] * 6 + ["policy.applied", "agent.started", "usb.blocked", "media.write"]
STATUSES = ["resolved"] * 7 + ["open"] * 2 + ["acknowledged"]


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _uuid7(at, rnd: random.Random) -> str:
    ms = int(at.timestamp() * 1000)
    value = (ms << 80) | (0x7 << 76) | (rnd.getrandbits(12) << 64) | (0b10 << 62) | rnd.getrandbits(62)
    return str(uuid.UUID(int=value))


def build_store(url: str, n_events: int, n_violations: int, n_agents: int, seed: int = 7) -> None:
    rnd = random.Random(seed)
    upgrade(url)
    engine = make_engine(url)
    start, span = FY.start, (FY.end - FY.start).total_seconds()
    depts = [f"部署{i:02d}課" for i in range(40)]
    agent_rows = []
    for i in range(n_agents):
        seg = SEGMENTS[i % 3]
        agent_rows.append(
            dict(
                id=str(uuid.UUID(int=rnd.getrandbits(128))),
                segment=seg,
                department=depts[i % 40],
                hostname=f"PC-{i:05d}",
                os="windows",
                os_version="11",
                agent_version="0.1",
                machine_id=f"m{i}",
                cert_serial=f"{i + 1:x}",
                cert_sha256="ab" * 32,
                cert_not_after=FY.end + timedelta(days=365),
                enrolled_at=start - timedelta(days=30),
                last_seen_at=FY.end,
                last_seq=0,
            )
        )
    with engine.begin() as conn:
        conn.execute(agents.insert(), agent_rows)
    ids = [a["id"] for a in agent_rows]
    seqs = dict.fromkeys(ids, 0)
    t0 = time.perf_counter()
    chunk = 50_000
    pg = engine.dialect.name == "postgresql"
    sql = "INSERT INTO events (agent_id, seq, event_id, kind, severity, occurred_at, received_at, payload) " + (
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)" if pg else "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
    )
    done = 0
    step = span / n_events
    while done < n_events:
        rows = []
        # The store fills in time order, as a real one does: times and UUIDv7 ids ascend.
        for i in range(done, done + min(chunk, n_events - done)):
            aid = ids[rnd.randrange(n_agents)]
            seqs[aid] += 1
            at = start + timedelta(seconds=(i + rnd.random()) * step)
            stamp = at if pg else at.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
            kind = rnd.choice(KINDS)
            payload = json.dumps(
                {"check_id": "firewall", "status": "pass"} if kind == "check.result" else {"path": "/media/usb/f.txt"}
            )
            rows.append((aid, seqs[aid], _uuid7(at, rnd), kind, "info", stamp, stamp, payload))
        with engine.begin() as conn:
            conn.exec_driver_sql(sql, rows)
        done += len(rows)
        rate = done / (time.perf_counter() - t0)
        _log(f"  events {done:,}/{n_events:,} ({rate:,.0f}/s)")
    rules = list(RULES.values())
    vrows = []
    for i in range(n_violations):
        a = agent_rows[rnd.randrange(n_agents)]
        rule = rnd.choice([r for r in rules if a["segment"] in r.severity])
        first = start + timedelta(seconds=rnd.random() * span)
        status = rnd.choice(STATUSES)
        vrows.append(
            dict(
                agent_id=a["id"],
                rule_id=rule.id,
                segment=a["segment"],
                department=a["department"],
                severity=rule.severity[a["segment"]],
                status=status,
                active_key=None if status == "resolved" else f"{a['id']}:{rule.id}:{i}",
                first_seen=first,
                last_seen=first + timedelta(hours=rnd.randrange(1, 200)),
                count=rnd.randrange(1, 5),
                event_id=str(uuid.uuid4()),
                last_event_id=None,
                detail="bench",
                evidence={"bench": True},
                exception_id=None,
                resolved_at=first + timedelta(days=2) if status == "resolved" else None,
                resolved_by="担当" if status == "resolved" else None,
            )
        )
    for i in range(0, len(vrows), 20_000):
        with engine.begin() as conn:
            conn.execute(violations.insert(), vrows[i : i + 20_000])
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("ANALYZE")
        else:
            conn.exec_driver_sql("ANALYZE")
    engine.dispose()


def _filters(rnd: random.Random, agent_ids: list[str]) -> dict:
    choice = rnd.randrange(7)
    return [
        {},
        {"status": "open"},
        {"segment": rnd.choice(SEGMENTS), "severity": "high"},
        {"department": f"部署{rnd.randrange(40):02d}課"},
        {"agent_id": rnd.choice(agent_ids)},
        {"rule_id": rnd.choice(list(RULES)), "since": FY.end - timedelta(days=30)},
        {"status": "acknowledged", "segment": "lgwan", "department": f"部署{rnd.randrange(40):02d}課"},
    ][choice]


def time_lists(url: str, runs: int) -> list[float]:
    engine = make_engine(url)
    rnd = random.Random(11)
    with engine.connect() as conn:
        agent_ids = list(conn.execute(select(agents.c.id).limit(2000)).scalars())
    times = []
    for _ in range(runs):
        f = _filters(rnd, agent_ids)
        t = time.perf_counter()
        with read_only(engine.connect()) as conn:
            vstore.list_violations(conn, limit=100, **f)
        times.append((time.perf_counter() - t) * 1000)
    engine.dispose()
    return times


def time_report(url: str, fmt: str, out_dir: Path) -> tuple[float, int]:
    engine = make_engine(url)
    t = time.perf_counter()
    with read_only(engine.connect()) as conn:
        data = build(conn, FY, lang="ja")
    write(data, fmt, out_dir / f"fy2026.{fmt}")
    elapsed = time.perf_counter() - t
    engine.dispose()
    return elapsed, len(data["violations"])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.queries", description=__doc__.splitlines()[0])
    p.add_argument("--scale", type=float, default=1.0, help="fraction of 10M events / 100k violations (e.g. 0.1)")
    p.add_argument("--dir", help="where the SQLite store lives (kept; reused when it exists)")
    p.add_argument("--db-url", help="PostgreSQL URL of an empty database instead of SQLite")
    p.add_argument("--runs", type=int, default=300, help="violations-list queries to time")
    p.add_argument("--formats", default="xlsx,html,csv,json")
    args = p.parse_args(argv)
    n_events, n_violations = int(10_000_000 * args.scale), int(100_000 * args.scale)
    n_agents = max(30, int(10_000 * min(1.0, args.scale * 10)))
    root = Path(args.dir or tempfile.mkdtemp(prefix="mamori-bench-queries-"))
    root.mkdir(parents=True, exist_ok=True)
    url = args.db_url or f"sqlite:///{root / 'mamori.db'}"
    engine = make_engine(url)
    try:
        upgrade(url)
        with engine.connect() as conn:
            have = conn.execute(select(func.count()).select_from(violations)).scalar_one()
    finally:
        engine.dispose()
    if have == 0:
        _log(f"building {n_events:,} events, {n_violations:,} violations, {n_agents:,} terminals in {url}")
        t = time.perf_counter()
        build_store(url, n_events, n_violations, n_agents)
        _log(f"built in {time.perf_counter() - t:.0f} s")
    else:
        _log(f"reusing the store in {url} ({have:,} violations)")
    engine = make_engine(url)
    with engine.connect() as conn:
        n_ev = conn.execute(select(func.count()).select_from(events)).scalar_one()
        n_v = conn.execute(select(func.count()).select_from(violations)).scalar_one()
    engine.dispose()
    times = time_lists(url, args.runs)
    p95 = statistics.quantiles(times, n=20)[18]
    print(f"store: {n_ev:,} events, {n_v:,} violations ({engine.dialect.name})")
    print(
        f"violations list (filters, limit 100): p50 {statistics.median(times):.1f} ms, p95 {p95:.1f} ms "
        f"(target < {TARGET_LIST_P95_MS:.0f} ms: {'met' if p95 < TARGET_LIST_P95_MS else 'MISSED'})"
    )
    for fmt in args.formats.split(","):
        elapsed, rows = time_report(url, fmt, root)
        print(
            f"one-year report FY2026 --format {fmt}: {elapsed:.1f} s for {rows:,} violations "
            f"(target < {TARGET_REPORT_S:.0f} s: {'met' if elapsed < TARGET_REPORT_S else 'MISSED'})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
