"""A throwaway PostgreSQL cluster on 127.0.0.1 for benchmarks: initdb, start, databases, CPU, stop."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import psutil

from bench.procs import LOOPBACK, free_port

PG_ROOT = Path("/usr/lib/postgresql")
PG_USER = "postgres"
PG_TIMEOUT = 120


def pg_bindir() -> Path:
    """The newest installed PostgreSQL's bin folder (Debian layout), else the one on PATH."""
    found = (
        sorted(
            (int(d.name), d / "bin") for d in PG_ROOT.glob("*") if d.name.isdigit() and (d / "bin" / "pg_ctl").exists()
        )
        if PG_ROOT.is_dir()
        else []
    )
    if found:
        return found[-1][1]
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl is None:
        raise RuntimeError("PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin or on PATH")
    return Path(pg_ctl).parent


class PostgresCluster:
    """A private cluster in `root`, trust auth, listening on 127.0.0.1 only; durable settings by default."""

    def __init__(self, root: Path, settings: dict[str, str] | None = None):
        self.bindir = pg_bindir()
        self.root = root
        self.data = root / "data"
        self.port = free_port()
        self.settings = settings or {}
        self.running = False
        # PostgreSQL refuses to run as root: its binaries run as the postgres user.
        self._prefix = ["runuser", "-u", PG_USER, "--"] if os.geteuid() == 0 else []

    def _run(self, *args: str) -> None:
        cmd = [*self._prefix, str(self.bindir / args[0]), *args[1:]]
        done = subprocess.run(
            cmd, capture_output=True, text=True, cwd=self.root, timeout=PG_TIMEOUT, start_new_session=True
        )
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if self._prefix:
            shutil.chown(self.root, user=PG_USER)
        self._run("initdb", "-D", str(self.data), "-U", PG_USER, "-A", "trust", "-E", "UTF8", "--locale=C")
        conf = {
            "listen_addresses": f"'{LOOPBACK}'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.root}'",
            "max_connections": "200",
            **self.settings,
        }
        with (self.data / "postgresql.conf").open("a") as handle:
            handle.write("".join(f"{key} = {value}\n" for key, value in conf.items()))
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-w", "start")
        self.running = True

    def stop(self) -> None:
        if self.running:
            self.running = False
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def create_database(self, name: str) -> str:
        """A new empty database; returns its URL for `mamori-collector init --database-url`."""
        import psycopg

        with psycopg.connect(
            f"host={LOOPBACK} port={self.port} user={PG_USER} dbname=postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql://{PG_USER}@{LOOPBACK}:{self.port}/{name}"

    def pids(self) -> list[int]:
        """The postmaster and all its current children (backends, WAL writer, checkpointer, ...)."""
        try:
            master = int((self.data / "postmaster.pid").read_text().split()[0])
            proc = psutil.Process(master)
            return [master, *(child.pid for child in proc.children(recursive=True))]
        except (OSError, ValueError, IndexError, psutil.Error):
            return []
