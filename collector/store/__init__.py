"""The collector's store: SQLAlchemy schema, Alembic migrations, ingest and queries (SQLite or PostgreSQL)."""
