"""Migration 0004 adds the arena's tables in place, on SQLite and PostgreSQL, to the metadata."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from loralab.errors import Conflict
from loralab.store import Base, Database, JobRow, migrate
from loralab.store import votes as store
from loralab.store.migrate import alembic_config

_JOBS = sa.table(
    "jobs",
    sa.column("id", sa.String),
    sa.column("kind", sa.String),
    sa.column("status", sa.String),
    sa.column("config", sa.JSON),
    sa.column("cancel_requested", sa.Boolean),
    sa.column("resume_requested", sa.Boolean),
    sa.column("last_seq", sa.Integer),
    sa.column("attempts", sa.Integer),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)


@pytest.fixture
def db(tmp_path: Path, database_url: str | None):
    database = Database(database_url or f"sqlite:///{tmp_path / 'loralab.db'}")
    yield database
    database.dispose()


def _alembic(db: Database, action, revision: str) -> None:
    cfg = alembic_config(db.url)
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        action(cfg, revision)


def _tables(db: Database) -> set[str]:
    return set(sa.inspect(db.engine).get_table_names())


def _insert_evaluation(db: Database) -> None:
    now = sa.func.now()
    with db.engine.begin() as conn:
        conn.execute(
            _JOBS.insert().values(
                id="eval",
                kind="evaluate",
                status="completed",
                config={"adapter": "adapter:x"},
                cancel_requested=False,
                resume_requested=False,
                last_seq=0,
                attempts=1,
                created_at=now,
                updated_at=now,
            )
        )


def test_upgrade_from_0003_adds_votes_and_keeps_jobs(db):
    _alembic(db, command.upgrade, "0003")
    _insert_evaluation(db)
    migrate(db)

    assert {"votes", "arena_pairs"} <= _tables(db)
    with db.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    with db.write() as session:
        assert session.get(JobRow, "eval").config == {"adapter": "adapter:x"}
        pair = store.keep_arena_pair(session, "eval", "0", "tuned")
        # A second draw for the same sample keeps the first side.
        assert store.keep_arena_pair(session, "eval", "0", "base").id == pair.id
        store.add_vote(session, job_id="eval", sample_id="0", choice="a", a_is="tuned")
    with pytest.raises(Conflict) as caught, db.write() as session:
        store.add_vote(session, job_id="eval", sample_id="0", choice="b", a_is="tuned")
    assert caught.value.code == "already_voted"
    with db.read() as session:
        assert store.voted_sample_ids(session, "eval") == {"0"}
        assert [v.choice for v in store.list_votes(session, "eval")] == ["a"]

    # Votes and pairs go with their evaluation.
    with db.write() as session:
        session.delete(session.get(JobRow, "eval"))
    with db.read() as session:
        assert store.count_votes(session, "eval") == 0
        assert store.arena_pair(session, "eval", "0") is None


def test_downgrade_to_0003_drops_only_the_arena_tables(db):
    _alembic(db, command.upgrade, "0003")
    _insert_evaluation(db)
    migrate(db)
    _alembic(db, command.downgrade, "0003")

    tables = _tables(db)
    assert "votes" not in tables and "arena_pairs" not in tables
    with db.engine.connect() as conn:
        assert conn.scalar(sa.select(_JOBS.c.kind).where(_JOBS.c.id == "eval")) == "evaluate"
