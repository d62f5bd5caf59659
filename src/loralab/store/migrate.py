"""Apply the Alembic migrations at start (the server, CLI commands and tests call ``migrate``).

Alembic is imported only when a migration runs: a job worker, which never migrates, starts
faster without it (about 0.3 s of its start-up, issue 12).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from loralab.store.db import Database

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = ["alembic_config", "migrate"]

_HERE = Path(__file__).resolve().parent


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_HERE / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(db: Database) -> None:
    """Bring the schema to the newest revision; safe to call from several processes.

    On SQLite foreign keys are off while it runs: Alembic's batch mode rebuilds a table by
    copying it and dropping the old one, and with foreign keys on that drop fires every
    ``ON DELETE CASCADE`` pointing at it (a copy of ``jobs`` would empty ``job_events``). The
    keys are checked before the migration commits.
    """
    from alembic import command

    cfg = alembic_config(db.url)
    with db.engine.connect() as conn:
        raw = conn.connection.dbapi_connection if db.is_sqlite else None
        if raw is not None:
            raw.execute("PRAGMA foreign_keys=OFF")  # outside a transaction, or it is ignored
        try:
            with conn.begin():
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
                if raw is not None:
                    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise RuntimeError(f"the migration broke foreign keys: {broken[:5]}")
        finally:
            if raw is not None:
                raw.execute("PRAGMA foreign_keys=ON")
