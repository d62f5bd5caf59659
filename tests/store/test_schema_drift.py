"""The migrations and the tables agree: ``alembic upgrade head`` on an empty database gives
exactly the schema ``store.tables`` declares (tables, columns and their types, nullability,
server defaults, indexes, unique and foreign keys), on SQLite and PostgreSQL. A column added
to a table without a migration, or a migration the tables never learnt about, fails here."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from loralab.store import Base, Database, migrate


@pytest.fixture
def db(tmp_path: Path, database_url: str | None):
    database = Database(database_url or f"sqlite:///{tmp_path / 'loralab.db'}")
    yield database
    database.dispose()


def _diffs(db: Database, metadata: sa.MetaData = Base.metadata) -> list:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        return compare_metadata(context, metadata)


def test_migrations_build_exactly_the_declared_schema(db):
    with db.engine.connect() as conn:
        assert sa.inspect(conn).get_table_names() == []  # a fresh database or schema
    migrate(db)

    assert _diffs(db) == []
    with db.engine.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names())
    assert tables == set(Base.metadata.tables) | {"alembic_version"}


def test_the_check_sees_a_column_without_a_migration(db):
    migrate(db)
    tables = sa.MetaData()  # a copy: the real metadata stays as it is for the other tests
    for table in Base.metadata.sorted_tables:
        table.to_metadata(tables)
    tables.tables["jobs"].append_column(sa.Column("not_migrated", sa.Integer, nullable=True))

    added = [d for d in _diffs(db, tables) if isinstance(d, tuple) and d[0] == "add_column"]
    assert [(d[2], d[3].name) for d in added] == [("jobs", "not_migrated")]
