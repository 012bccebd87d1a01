"""python -m bench.ingest: ingest throughput over real mutual TLS, on SQLite and/or PostgreSQL."""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from types import FrameType

from bench.ingest.floor import measure_floor
from bench.ingest.idle import IdleOptions, run_idle
from bench.ingest.report import print_comparison
from bench.ingest.run import Options, run_ingest

BACKENDS = {"sqlite": ["sqlite"], "postgres": ["postgres"], "both": ["sqlite", "postgres"]}
MAX_BATCH = 5000  # the collector's default server.max_batch_events


def _positive(value: float, text: str) -> None:
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")


def positive_int(text: str) -> int:
    value = int(text)
    _positive(value, text)
    return value


def positive_float(text: str) -> float:
    value = float(text)
    _positive(value, text)
    return value


def setting(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"use KEY=VALUE, got {text!r}")
    return key.strip(), value.strip()


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__)
    p.add_argument("--agents", type=positive_int, default=20, help="simulated agents, one mTLS stream each")
    p.add_argument("--events-per-agent", type=positive_int, default=10_000, help="events per agent (seqs 1..M)")
    p.add_argument("--batch", type=positive_int, default=500, help=f"events per EventBatch (at most {MAX_BATCH})")
    p.add_argument("--window", type=positive_int, default=4, help="unacknowledged batches per agent")
    p.add_argument("--backend", choices=sorted(BACKENDS), default="both")
    p.add_argument(
        "--duration",
        type=positive_float,
        default=300.0,
        help="stop sending new batches after this many seconds (a bound; normally all are sent)",
    )
    p.add_argument("--client-procs", type=positive_int, default=1, help="client processes sharing the agents")
    p.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="sample the collector with py-spy during the timed phase; raw stacks go to DIR",
    )
    p.add_argument(
        "--pg-setting",
        type=setting,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra postgresql.conf line, e.g. synchronous_commit=off (repeatable)",
    )
    p.add_argument("--workers", type=int, default=0, help="serve --workers N (0: the collector's default)")
    p.add_argument(
        "--idle",
        type=positive_int,
        metavar="N",
        help="instead: hold N idle connected agents and report the collector's RSS and CPU",
    )
    p.add_argument("--idle-seconds", type=positive_float, default=10.0, help="how long --idle holds them")
    args = p.parse_args(argv)
    if args.batch > MAX_BATCH:
        p.error(f"--batch must be at most {MAX_BATCH}, the collector refuses larger batches")
    return args


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    # Once: a second Ctrl-C or SIGTERM must not cut short the cleanup the first one started.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    raise KeyboardInterrupt(f"signal {signum}")


def run(args: argparse.Namespace, root: Path) -> None:
    if args.idle:
        for backend in BACKENDS[args.backend]:
            print(
                "\n".join(
                    run_idle(
                        backend, IdleOptions(args.idle, args.idle_seconds, args.client_procs), root / backend
                    ).lines()
                ),
                flush=True,
            )
        return
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    opts = Options(
        agents=args.agents,
        events_per_agent=args.events_per_agent,
        batch=args.batch,
        window=args.window,
        duration=args.duration,
        client_procs=args.client_procs,
        profile_dir=args.profile,
        pg_settings=dict(args.pg_setting),
        workers=args.workers,
    )
    # The floor in the same run, before and after the collectors (never beside them): the ratio is what the
    # design is judged by, and on a shared machine the mean of the two readings brackets the collector's run.
    floors = [measure_floor(root / "floor-before", args.agents, args.events_per_agent, args.batch)]
    print(
        f"[floor] sqlite3.executemany into the events table init created, batches of {args.batch}, one "
        f"transaction each: {floors[0].events_per_s:,.0f} events/s ({floors[0].events} rows in "
        f"{floors[0].seconds:.2f} s)",
        flush=True,
    )
    runs = []
    for backend in BACKENDS[args.backend]:
        runs.append(run_ingest(backend, opts, root / backend))
        print("\n".join(runs[-1].lines()), flush=True)
    floors.append(measure_floor(root / "floor-after", args.agents, args.events_per_agent, args.batch))
    floor = sum(f.events_per_s for f in floors) / len(floors)
    print(
        f"[floor] again after the run: {floors[1].events_per_s:,.0f} events/s; mean {floor:,.0f} events/s", flush=True
    )
    for r in runs:
        print(
            f"[{r.backend}] vs floor: {r.events_per_s / floor:.2f} x the raw SQLite floor of {floor:,.0f} events/s "
            f"measured in this run",
            flush=True,
        )
    print_comparison(runs, floor)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    for sig in (signal.SIGINT, signal.SIGTERM):  # clean up on kill as on Ctrl-C
        signal.signal(sig, _interrupt)
    root = Path(tempfile.mkdtemp(prefix="mamori-bench-"))
    root.chmod(0o711)  # PostgreSQL runs as its own user and must reach its folder inside
    try:
        run(args, root)
        return 0
    except KeyboardInterrupt:
        print("interrupted: stopped everything this benchmark started", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 (one clear line; temp files and processes are cleaned below)
        print(f"benchmark failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
