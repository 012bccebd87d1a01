"""Sample a running process with py-spy and attribute its GIL-holding time to the stages of the ingest path.

Only the thread holding the GIL is sampled (py-spy --gil): that is the Python work that a single
collector process can do at most one core of. C code that releases the GIL (SQLite's own work,
psycopg waiting for the server, OpenSSL, gRPC core) is not in these samples; it is the difference
between the process's CPU and the GIL time. (py-spy's idle detection does not work in this VM, so
sampling all threads would count threads blocked on a lock as busy.)
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

SAMPLE_RATE = 100
STOP_TIMEOUT = 60.0

# A sample belongs to the first stage (in this order) that any frame of its stack matches: JSON inside row
# building counts as JSON, psycopg's Python code inside executemany as the INSERT, and so on.
# Substrings of py-spy's "function (module/file.py:line)" frames.
STAGES: list[tuple[str, tuple[str, ...]]] = [
    ("JSON payload serialization (json.dumps)", ("json/", "json_dumps (")),
    ("timestamp conversion (sqlite_timestamp)", ("sqlite_timestamp (",)),
    ("row building + checks (_driver_params)", ("_driver_params (",)),
    (
        "event decode (mamori.events.decode, protobuf access)",
        (
            "mamori/events.py",
            "Telemetry._batch.<locals>.<listcomp>",
        ),
    ),
    ("INSERT executemany (sqlite3 / psycopg)", ("do_executemany (",)),
    ("COMMIT", ("do_commit (",)),
    ("BEGIN (IMMEDIATE on SQLite)", ("_on_begin (", "do_begin (")),
    ("other SQL (SELECT .. FOR UPDATE, UPDATE agents)", ("do_execute (",)),
    ("SQLAlchemy (connection, pool, transaction)", ("sqlalchemy/",)),
    ("gRPC Python layer (aio server, auth)", ("grpc/", "_authenticate (")),
    ("server loop (Telemetry._loop/_next, asyncio, to_thread)", ("collector/server.py", "asyncio/", "concurrent/")),
]
OTHER = "other"


def py_spy() -> str | None:
    """py-spy next to this interpreter, else on PATH (`pip install py-spy`)."""
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


class Sampler:
    """py-spy recording the GIL-holding thread of one process until stopped."""

    def __init__(self, pid: int, output: Path):
        exe = py_spy()
        if exe is None:
            raise RuntimeError("py-spy not found: pip install py-spy, or run without --profile")
        self.output = output
        self.proc = subprocess.Popen(
            [
                exe,
                "record",
                "--pid",
                str(pid),
                "--rate",
                str(SAMPLE_RATE),
                "--gil",
                "--format",
                "raw",
                "--output",
                str(output),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def stop(self) -> None:
        """Stop sampling; py-spy writes its file on SIGINT."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=STOP_TIMEOUT)


def stage_of(stack: str) -> str:
    for name, needles in STAGES:
        if any(needle in stack for needle in needles):
            return name
    return OTHER


def stage_samples(raw: Path) -> Counter[str]:
    """Samples per stage from py-spy's raw (collapsed stacks) output."""
    counts: Counter[str] = Counter()
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            counts[stage_of(stack)] += int(count)
    return counts


def summary_lines(raw: Path, seconds: float, cpu_seconds: float) -> list[str]:
    """How long the GIL was held per stage, against the window and the process's CPU time."""
    counts = stage_samples(raw)
    total = sum(counts.values())
    if not total or seconds <= 0:
        return [f"  (no samples in {raw})"]
    held = total / SAMPLE_RATE
    lines = [
        f"  GIL held {held:.1f} s of {seconds:.1f} s ({100 * held / seconds:.0f}%); process CPU {cpu_seconds:.1f} s, "
        f"so ~{max(0.0, cpu_seconds - held):.1f} s ran without the GIL (C: SQLite, OpenSSL, gRPC core, ...)",
        f"  GIL time per stage ({total} samples at {SAMPLE_RATE} Hz; raw stacks: {raw}):",
    ]
    for name, count in counts.most_common():
        lines.append(f"    {100 * count / total:5.1f}%  {count / SAMPLE_RATE:5.1f} s  {name}")
    return lines
