"""Shared pytest fixtures: a throwaway PostgreSQL server and freshly migrated databases on both backends."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_ROOT = Path("/usr/lib/postgresql")
PG_USER = "postgres"


def _pg_bindir() -> Path | None:
    """The newest installed PostgreSQL's bin directory (Debian layout), else whatever is on PATH."""
    versions = []
    if PG_ROOT.is_dir():
        for entry in PG_ROOT.iterdir():
            if entry.name.isdigit() and (entry / "bin" / "pg_ctl").exists():
                versions.append((int(entry.name), entry / "bin"))
    if versions:
        return max(versions)[1]
    pg_ctl = shutil.which("pg_ctl")
    return Path(pg_ctl).parent if pg_ctl else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """A PostgreSQL cluster private to this test session, reachable only on 127.0.0.1 with trust auth."""

    def __init__(self, bindir: Path, root: Path):
        self.bindir = bindir
        self.root = root
        self.data = root / "data"
        self.port = 0
        # PostgreSQL refuses to run as root: drop to the postgres user for its binaries.
        self._prefix = ["runuser", "-u", PG_USER, "--"] if os.geteuid() == 0 else []

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = [*self._prefix, str(self.bindir / args[0]), *args[1:]]
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=self.root, timeout=120)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc

    def start(self) -> None:
        if self._prefix:
            shutil.chown(self.root, user=PG_USER)
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        base = (self.data / "postgresql.conf").read_text()
        # The port comes from the OS and another process could take it before we bind: retry a few times.
        for attempt in range(5):
            self.port = _free_port()
            (self.data / "postgresql.conf").write_text(
                base
                + "\n".join(
                    [
                        "listen_addresses = '127.0.0.1'",
                        f"port = {self.port}",
                        f"unix_socket_directories = '{self.root}'",
                        "fsync = off",
                        "synchronous_commit = off",
                        "full_page_writes = off",
                        "max_connections = 200",
                        "",
                    ]
                )
            )
            try:
                self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-w", "start")
                return
            except RuntimeError:
                if attempt == 4:
                    log = self.root / "server.log"
                    raise RuntimeError(log.read_text() if log.exists() else "pg_ctl start failed") from None

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, name: str) -> str:
        """Create an empty database and return its URL."""
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    bindir = _pg_bindir()
    if bindir is None:
        pytest.fail(
            "PostgreSQL server binaries not found (looked in /usr/lib/postgresql/*/bin and PATH); "
            "run the bootstrap script, which installs the postgresql package",
            pytrace=False,
        )
    if os.geteuid() == 0:
        try:
            import pwd

            pwd.getpwnam(PG_USER)
        except KeyError:
            pytest.fail(f"running as root but no {PG_USER!r} user exists; run the bootstrap script", pytrace=False)
    root = Path(tempfile.mkdtemp(prefix="mamori-pg-"))
    server = PostgresServer(bindir, root)
    try:
        server.start()
    except RuntimeError as exc:
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"could not start the test PostgreSQL server: {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of a fresh database migrated to head, once per backend."""
    from collector.store.db import upgrade

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'mamori.db'}"
    else:
        # Looked up lazily so that a run deselecting -m postgres never starts a server.
        server: PostgresServer = request.getfixturevalue("postgres_server")
        url = server.create_database(f"t_{uuid.uuid4().hex[:16]}")
    upgrade(url)
    return url


@pytest.fixture
def engine(db_url: str):
    """An Engine on db_url, disposed after the test."""
    from collector.store.db import make_engine

    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture(autouse=True)
def _staff_language() -> Iterator[None]:
    """Every test starts in the staff's default language (Japanese), whatever an earlier test chose."""
    from mamori import i18n

    i18n.setup("ja")
    yield
    i18n.setup("ja")
