"""A real collector process on 127.0.0.1 (init, tokens, serve, stop) and its CPU and memory figures."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
LOOPBACK = "127.0.0.1"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0


def free_port() -> int:
    """An ephemeral port the OS considers free on the loopback interface only."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def child_env() -> dict[str, str]:
    """The environment for product subprocesses: the repo importable, messages in English."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["MAMORI_LANG"] = "en"
    return env


def collector_command() -> list[str]:
    """`mamori-collector` from this interpreter's environment, else the same CLI as a module."""
    script = Path(sys.executable).parent / "mamori-collector"
    return [str(script)] if script.exists() else [sys.executable, "-m", "collector.cli"]


def stop_process(proc: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT) -> int | None:
    """SIGTERM (the collector drains), then SIGKILL if it does not exit in time."""
    if proc.poll() is not None:
        return proc.returncode
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait(timeout=timeout)


@dataclass
class Collector:
    """One collector data folder and, once started, its `serve` process."""

    data_dir: Path
    port: int = field(default_factory=free_port)
    enroll_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    workers: int = 0  # serve --workers N; 0: the collector's default (one per core)

    @property
    def log_path(self) -> Path:
        return self.data_dir.with_name(self.data_dir.name + "-serve.log")

    @property
    def ca_cert(self) -> bytes:
        return (self.data_dir / "ca.crt").read_bytes()

    @property
    def database_url(self) -> str:
        """The store's URL as `serve` resolves it from the data folder's configuration."""
        from collector.config import DataDir

        datadir = DataDir(self.data_dir)
        return datadir.database_url(datadir.load_settings())

    def cli(self, *args: str, timeout: float = 120) -> str:
        cmd = [*collector_command(), "--data-dir", str(self.data_dir), *args]
        done = subprocess.run(cmd, capture_output=True, text=True, env=child_env(), timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def init(self, database_url: str | None = None) -> None:
        args = [
            "init",
            "--host",
            LOOPBACK,
            "--listen",
            f"{LOOPBACK}:{self.port}",
            "--enroll-listen",
            f"{LOOPBACK}:{self.enroll_port}",
        ]
        self.cli(*args, *(["--database-url", database_url] if database_url else []))

    def token(self, uses: int) -> str:
        out = self.cli(
            "token",
            "create",
            "--segment",
            "lgwan",
            "--department",
            "bench",
            "--uses",
            str(uses),
            "--expires",
            "24h",
            "--by",
            "bench",
            "--json",
        )
        return json.loads(out)["token"]

    def start(self) -> None:
        with self.log_path.open("wb") as log:
            # A session of its own: a Ctrl-C in the terminal reaches the benchmark, which stops us in order.
            self.proc = subprocess.Popen(
                [
                    *collector_command(),
                    "--data-dir",
                    str(self.data_dir),
                    "serve",
                    *(["--workers", str(self.workers)] if self.workers else []),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=child_env(),
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"collector exited ({self.proc.returncode}):\n{self.log()}")
            if b"serving telemetry" in self.log_path.read_bytes():
                return
            time.sleep(0.1)
        raise RuntimeError(f"collector not serving after {START_TIMEOUT:.0f}s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise RuntimeError("collector is not running")
        return self.proc.pid

    def pids(self) -> list[int]:
        """The serve process and its workers (serve --workers N > 1 runs N children)."""
        try:
            return [self.pid, *(c.pid for c in psutil.Process(self.pid).children(recursive=True))]
        except psutil.Error:
            return [self.pid]


def cpu_by_pid(pids: list[int]) -> dict[int, float]:
    """User + system CPU seconds of each live process (all its threads); vanished ones are left out."""
    out = {}
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.Error:
            continue
        out[pid] = times.user + times.system
    return out


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds spent between two cpu_by_pid readings; a process born in between started at 0."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def total_peak_rss_mib(pids: list[int]) -> float:
    """The sum of the processes' high-water RSS: the collector's figure with its workers."""
    return sum(peak_rss_mib(pid) for pid in pids)


def rss_mib(pid: int) -> float:
    return psutil.Process(pid).memory_info().rss / 2**20


def peak_rss_mib(pid: int) -> float:
    """The process's high-water RSS since it started (Linux VmHWM), else its current RSS."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return rss_mib(pid)


def machine_busy_seconds() -> float:
    """CPU seconds all cores of the machine have spent busy (not idle, not waiting for I/O) since boot."""
    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)
