"""Engine construction per backend, and Alembic migrations run programmatically."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, Table, create_engine, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
# Any fixed key: collectors sharing one PostgreSQL take it so only one of them migrates at a time.
_MIGRATION_LOCK_KEY = 0x6D616D6F7269


# Payloads carry Japanese paths and names; keep them readable and compact in the database. One encoder for all:
# json.dumps with options builds a new JSONEncoder per call, a quarter of its cost on the ingest path.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def json_dumps(value: Any) -> str:
    return _ENCODER.encode(value)


def normalize_url(url: str) -> str:
    """Pin PostgreSQL to the psycopg 3 driver; other URLs pass through unchanged."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An Engine for a SQLite or PostgreSQL URL, tuned for the collector's concurrent writers."""
    url = normalize_url(url)
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        engine = create_engine(url, json_serializer=json_dumps, **kwargs)
        _tune_sqlite(engine)
        return engine
    if backend == "postgresql":
        return create_engine(url, json_serializer=json_dumps, pool_pre_ping=True, **kwargs)
    raise ValueError(f"unsupported database URL {make_url(url).render_as_string()!r}: use sqlite or postgresql")


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module (SQLAlchemy's pysqlite recipe) so the
        # "begin" hook below decides how a transaction starts.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA journal_mode = WAL")
        # In WAL mode NORMAL loses no committed data on a process crash, only on power loss.
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # A DEFERRED transaction that reads and then writes cannot wait for the write lock: SQLite
        # fails it with SQLITE_BUSY at once. IMMEDIATE takes the lock up front, so writers from
        # several processes queue on busy_timeout instead. Pure readers may opt out.
        if conn.get_execution_options().get("sqlite_read_only"):
            conn.exec_driver_sql("BEGIN DEFERRED")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


def read_only(conn: Connection) -> Connection:
    """Mark a connection read-only: on SQLite it begins DEFERRED, so it never queues behind writers."""
    return conn.execution_options(sqlite_read_only=True)


def dialect_insert(conn: Connection, table: Table) -> Any:
    """The backend's INSERT construct, which offers ON CONFLICT."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    if conn.dialect.name == "sqlite":
        return sqlite.insert(table)
    raise ValueError(f"unsupported dialect {conn.dialect.name}")


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def _migrate(url: str, action: Callable[[Config, str], None], revision: str) -> None:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            sqlite = conn.dialect.name == "sqlite"
            if sqlite:
                # Batch mode rebuilds a table (copy, drop, rename): with rows referencing it, the drop would break
                # foreign keys mid-way. SQLite's own advice: keys off outside the transaction, checked before commit.
                # On the driver's connection: through SQLAlchemy it would run inside BEGIN, where it is a no-op.
                conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
            with conn.begin():
                if conn.dialect.name == "postgresql":
                    # Several collectors may start at once against one database; migrate one at a time.
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK_KEY})
                cfg = alembic_config()
                cfg.attributes["connection"] = conn
                action(cfg, revision)
                if sqlite and conn.exec_driver_sql("PRAGMA foreign_key_check").first() is not None:
                    raise RuntimeError("migration left rows whose foreign keys point nowhere; rolled back")
            if sqlite:
                conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]
    finally:
        engine.dispose()


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at url to the given revision (default: the newest), in one transaction."""
    _migrate(url, command.upgrade, revision)


def downgrade(url: str, revision: str) -> None:
    """Migrate the database at url back to the given revision ("base": no tables)."""
    _migrate(url, command.downgrade, revision)


def current_revision(engine: Engine) -> str | None:
    """The Alembic revision the database is at, None when it was never migrated."""
    with read_only(engine.connect()) as conn:
        return MigrationContext.configure(conn).get_current_revision()
