"""`serve --workers N`: N whole collector processes sharing the two ports (SO_REUSEPORT); the parent supervises.

One Python process is bound to one core by the GIL; the kernel spreads new connections over the workers'
listeners. The parent binds (never listens on) each port first with SO_REUSEPORT, so the workers can join it
and an ephemeral port ("host:0") is the same for all. Everything shared lives in the database: state rules
claim each tick there (collector.rules.scheduler), revocations and policy changes are polled from it by every
worker for its own streams, and SQLite writers queue on one lock file (collector.store.ingest).
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
from contextlib import ExitStack
from pathlib import Path
from typing import Any

log = logging.getLogger("mamori.collector.server")
PR_SET_PDEATHSIG = 1
STOP_TIMEOUT = 60.0


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def _split(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


def reserve(address: str) -> tuple[socket.socket, str]:
    """Bind address with SO_REUSEPORT (not listening: the kernel hands connections to listeners only)."""
    host, port = _split(address)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    bound = sock.getsockname()[1]
    return sock, f"[{host}]:{bound}" if family == socket.AF_INET6 else f"{host}:{bound}"


def _die_with_parent() -> None:
    # A worker must not outlive a parent killed with SIGKILL: it would keep the port and take new agents.
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass
    if os.getppid() == 1:
        os._exit(1)


def _worker(root: str, settings: dict[str, Any], index: int) -> None:
    import asyncio

    from collector.config import DataDir
    from collector.server import serve

    _die_with_parent()
    logging.basicConfig(
        level=logging.INFO, format=f"%(asctime)s %(levelname)s [worker {index}] %(message)s", stream=sys.stderr
    )
    asyncio.run(serve(DataDir(Path(root)), settings, reuseport=True))


def run(root: Path, settings: dict[str, Any], workers: int) -> int:
    """Start the workers and wait; SIGTERM/SIGINT reach each of them (they drain), a dead worker stops all."""
    ctx = multiprocessing.get_context("spawn")  # nothing of gRPC's or SQLAlchemy's parent state is inherited
    stopping = threading.Event()
    procs: list[Any] = []

    def stop(_signum: int, _frame: Any) -> None:
        stopping.set()

    with ExitStack() as stack:
        shared = dict(settings)
        for key in ("server.listen", "server.enroll_listen"):
            sock, shared[key] = reserve(settings[key])
            stack.callback(sock.close)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, stop)
        for index in range(workers):
            proc = ctx.Process(target=_worker, args=(str(root), shared, index), name=f"collector-worker-{index}")
            proc.start()
            procs.append(proc)
        log.info(
            "started %d workers on %s (telemetry) and %s (enrollment)",
            workers,
            shared["server.listen"],
            shared["server.enroll_listen"],
        )
        while not stopping.is_set():
            if any(p.exitcode is not None for p in procs):
                log.error("a worker exited unexpectedly; stopping the others")
                break
            stopping.wait(0.5)
        for p in procs:
            if p.exitcode is None and p.pid is not None:
                os.kill(p.pid, signal.SIGTERM)
        for p in procs:
            p.join(STOP_TIMEOUT)
            if p.exitcode is None:
                p.kill()
                p.join()
    return 0 if stopping.is_set() else 1
