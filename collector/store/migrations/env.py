"""Alembic environment: migrates the connection handed over by collector.store.db, or the configured URL."""

from __future__ import annotations

from alembic import context

from collector.store.db import make_engine
from collector.store.models import metadata


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds tables for later migrations.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
elif context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run them against a database")
else:
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("no sqlalchemy.url: set it in alembic.ini or pass a connection")
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()
