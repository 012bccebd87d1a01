"""The migrations build exactly the schema models.py declares, on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.dialects import postgresql

from collector.store import db, models


def _diff(engine: sa.Engine, metadata: sa.MetaData) -> list:
    with engine.connect() as conn:
        # PostgreSQL's event partitions share their parent's schema: compared as the one events table.
        ctx = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "compare_server_default": True,
                "include_name": lambda name, type_, _parent: not (type_ == "table" and models.is_partition(name)),
            },
        )
        return compare_metadata(ctx, metadata)


def test_upgrade_matches_models(engine):
    assert db.current_revision(engine) == db.head_revision()
    assert _diff(engine, models.metadata_for(engine.dialect.name)) == []


def test_comparison_would_see_drift(engine):
    # Guards the test above: the comparison must notice a column the migrations do not create.
    drifted = sa.MetaData()
    for table in models.metadata_for(engine.dialect.name).tables.values():
        table.to_metadata(drifted)
    sa.Table("agents", drifted, sa.Column("extra", sa.Integer()), extend_existing=True)
    diffs = _diff(engine, drifted)
    assert [(d[0], d[3].name) for d in diffs] == [("add_column", "extra")]


def test_named_constraints_match_models(engine):
    # Autogenerate ignores CHECK constraints and does not compare names; check those directly.
    inspector = sa.inspect(engine)
    for table in models.metadata.tables.values():
        declared = {c.name for c in table.constraints if isinstance(c, sa.CheckConstraint)}
        assert {c["name"] for c in inspector.get_check_constraints(table.name)} == declared, table.name
        declared_uq = {c.name for c in table.constraints if isinstance(c, sa.UniqueConstraint)}
        assert {c["name"] for c in inspector.get_unique_constraints(table.name)} == declared_uq, table.name
        assert inspector.get_pk_constraint(table.name)["name"] == table.primary_key.name


def test_upgrade_again_is_a_no_op_and_downgrade_empties(db_url, engine):
    db.upgrade(db_url)
    assert db.current_revision(engine) == db.head_revision()
    db.downgrade(db_url, "base")
    assert db.current_revision(engine) is None
    assert set(sa.inspect(engine).get_table_names()) <= {"alembic_version"}
    db.upgrade(db_url)
    assert _diff(engine, models.metadata_for(engine.dialect.name)) == []


def test_sqlite_connection_settings(tmp_path):
    engine = db.make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        with engine.connect() as conn:
            pragma = {
                name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "synchronous", "busy_timeout", "foreign_keys")
            }
        assert pragma == {"journal_mode": "wal", "synchronous": 1, "busy_timeout": 30_000, "foreign_keys": 1}
    finally:
        engine.dispose()


def test_sqlite_write_transactions_take_the_write_lock_at_begin(tmp_path):
    # BEGIN IMMEDIATE: a second writer must be refused (or queued) at BEGIN, not at its first write.
    url = f"sqlite:///{tmp_path / 'x.db'}"
    db.upgrade(url)
    first, second = db.make_engine(url), db.make_engine(url)

    @sa.event.listens_for(second, "connect")
    def _no_wait(dbapi_conn, _record):  # runs after make_engine's own listener
        dbapi_conn.execute("PRAGMA busy_timeout = 0")

    try:
        with first.begin():
            with second.connect() as conn:
                try:
                    conn.execute(sa.select(models.agents.c.id)).all()
                except sa.exc.OperationalError as exc:
                    assert "locked" in str(exc)
                else:
                    raise AssertionError("a second write transaction began while the first held the lock")
            # A connection marked read-only still reads under WAL while the writer holds the lock.
            with db.read_only(second.connect()) as conn:
                assert conn.execute(sa.select(sa.func.count()).select_from(models.agents)).scalar() == 0
    finally:
        first.dispose()
        second.dispose()


def test_postgresql_urls_use_psycopg():
    engine = db.make_engine("postgresql://mamori@db.example/mamori")
    assert (engine.dialect.name, engine.dialect.driver) == ("postgresql", "psycopg")
    assert db.normalize_url("postgres://u:p%40ss@h/d") == "postgresql+psycopg://u:p%40ss@h/d"
    assert isinstance(models.events.c.payload.type.dialect_impl(engine.dialect), postgresql.JSONB)
