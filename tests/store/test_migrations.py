"""Alembic migrations upgrade a database in place, on SQLite and PostgreSQL, to the metadata."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from loralab.store import Base, Database, DatasetRow, migrate
from loralab.store.migrate import alembic_config

_DATASETS = sa.table(
    "datasets",
    sa.column("id", sa.String),
    sa.column("name", sa.String),
    sa.column("kind", sa.String),
    sa.column("status", sa.String),
    sa.column("field_mapping", sa.JSON),
    sa.column("report", sa.JSON),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)
_JOBS = sa.table(
    "jobs",
    sa.column("id", sa.String),
    sa.column("kind", sa.String),
    sa.column("status", sa.String),
    sa.column("config", sa.JSON),
    sa.column("dataset_id", sa.String),
    sa.column("cancel_requested", sa.Boolean),
    sa.column("resume_requested", sa.Boolean),
    sa.column("last_seq", sa.Integer),
    sa.column("attempts", sa.Integer),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)
_PROBLEMS = [{"loc": "field_mapping.response", "message": "no column 'output'", "fix": "map one"}]


@pytest.fixture
def db(tmp_path: Path, database_url: str | None):
    database = Database(database_url or f"sqlite:///{tmp_path / 'loralab.db'}")
    yield database
    database.dispose()


def _upgrade_to(db: Database, revision: str) -> None:
    cfg = alembic_config(db.url)
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def _insert_old_datasets(db: Database) -> None:
    """Rows as revision 0002 stored them: three facts inside ``report`` under ``_`` keys."""
    now = sa.func.now()
    rows = [
        {  # a validated dataset whose mapping and system prompt the person chose
            "id": "chosen",
            "report": {
                "total_rows": 3,
                "format": "alpaca",
                "_system_prompt": "Be brief.",
                "_chosen": True,
            },
        },
        {  # an invalid one: no report of its own, only the problems
            "id": "invalid",
            "report": {"_problems": _PROBLEMS},
        },
        {"id": "plain", "report": {"total_rows": 2}},
        {"id": "new", "report": None},
    ]
    with db.engine.begin() as conn:
        for row in rows:
            conn.execute(
                _DATASETS.insert().values(
                    name=row["id"],
                    kind="upload",
                    status="ready",
                    field_mapping={},
                    created_at=now,
                    updated_at=now,
                    **row,
                )
            )
        # A job that uses a dataset: on SQLite, copying the datasets table (a batch migration)
        # would drop it, and the implicit DELETE would set this dataset_id to NULL.
        conn.execute(
            _JOBS.insert().values(
                id="job",
                kind="train",
                status="completed",
                config={},
                dataset_id="chosen",
                cancel_requested=False,
                resume_requested=False,
                last_seq=0,
                attempts=0,
                created_at=now,
                updated_at=now,
            )
        )


def _job_dataset_id(db: Database) -> str | None:
    with db.engine.connect() as conn:
        return conn.scalar(sa.select(_JOBS.c.dataset_id).where(_JOBS.c.id == "job"))


def _schema_diff(db: Database) -> list:
    with db.engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn), Base.metadata)


def test_upgrade_moves_dataset_facts_out_of_the_report(db):
    _upgrade_to(db, "0002")
    _insert_old_datasets(db)
    migrate(db)

    with db.read() as session:
        got = {row.id: row for row in session.scalars(sa.select(DatasetRow))}
        chosen, invalid, plain, new = (got[k] for k in ("chosen", "invalid", "plain", "new"))
        assert (chosen.system_prompt, chosen.mapping_chosen, chosen.problems) == (
            "Be brief.",
            True,
            None,
        )
        assert chosen.report == {"total_rows": 3, "format": "alpaca"}
        assert (invalid.system_prompt, invalid.mapping_chosen) == (None, False)
        assert invalid.problems == _PROBLEMS
        assert invalid.report is None
        assert (plain.report, plain.mapping_chosen, plain.problems) == (
            {"total_rows": 2},
            False,
            None,
        )
        assert (new.report, new.mapping_chosen) == (None, False)
    assert _job_dataset_id(db) == "chosen"
    assert _schema_diff(db) == []


def test_downgrade_puts_the_facts_back_into_the_report(db):
    _upgrade_to(db, "0002")
    _insert_old_datasets(db)
    migrate(db)
    cfg = alembic_config(db.url)
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0002")

    with db.engine.connect() as conn:
        reports = dict(conn.execute(sa.select(_DATASETS.c.id, _DATASETS.c.report)).all())
    assert reports["chosen"] == {
        "total_rows": 3,
        "format": "alpaca",
        "_system_prompt": "Be brief.",
        "_chosen": True,
    }
    assert reports["invalid"] == {"_problems": _PROBLEMS}
    assert reports["plain"] == {"total_rows": 2}
    assert reports["new"] is None
    assert _job_dataset_id(db) == "chosen"


def test_fresh_database_matches_the_metadata(db):
    migrate(db)
    assert _schema_diff(db) == []
