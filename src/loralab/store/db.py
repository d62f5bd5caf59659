"""Engines and sessions for SQLite (embedded default) and PostgreSQL.

SQLite runs in WAL mode with a busy timeout and foreign keys on, and write transactions take
the write lock up front (``BEGIN IMMEDIATE``), so the server and worker processes wait for each
other instead of failing with "database is locked" halfway through a transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, sessionmaker

from loralab.errors import InvalidRequest

__all__ = ["Database", "as_utc", "new_id", "normalize_url", "reading"]

SQLITE_BUSY_TIMEOUT_MS = 30_000


def normalize_url(url: str) -> str:
    """Use psycopg 3 for plain ``postgresql://`` URLs."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # pragma: no cover - exercised by every test
        # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite would defer it).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        conn.exec_driver_sql(f"BEGIN {mode}")


@contextmanager
def _refused_values_are_bad_input() -> Iterator[None]:
    # A value the database refuses (PostgreSQL: a NUL in text, an integer out of range) is bad
    # input that slipped past validation: a 422 that says what, not a 500. The transaction is
    # rolled back, so nothing already stored changes.
    try:
        yield
    except sa_exc.DataError as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0][:300]
        raise InvalidRequest(
            f"The database refused a value in this request: {reason}",
            fix="Remove control characters from text and keep numbers within range.",
        ) from exc


class Database:
    """One engine and its session factories; build one per process from the settings' URL."""

    def __init__(self, url: str) -> None:
        self.url = normalize_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        if self.is_sqlite:
            path = self.url.split("///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            self.engine = create_engine(
                self.url, connect_args={"check_same_thread": False, "timeout": 30}
            )
            _configure_sqlite(self.engine)
            reader = self.engine.execution_options(sqlite_begin="DEFERRED")
        else:
            self.engine = create_engine(self.url, pool_pre_ping=True)
            reader = self.engine
        self._write = sessionmaker(self.engine, expire_on_commit=False)
        self._read = sessionmaker(reader, expire_on_commit=False)

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A transaction that writes; committed on success, rolled back on error."""
        with _refused_values_are_bad_input(), self._write() as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only session that does not take SQLite's write lock.

        Closing (not rolling back) ends the transaction: a rollback would expire the rows read,
        and a caller using them after the block would hit DetachedInstanceError.
        """
        with _refused_values_are_bad_input(), self._read() as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


def new_id() -> str:
    """A fresh 32-character hex id (every resource's primary key)."""
    return uuid.uuid4().hex


@contextmanager
def reading(db: Database) -> Iterator[Session]:
    """``db.read()`` whose rows stay usable after the block.

    ``Database.read`` ends the transaction, which expires every loaded row; detaching them
    first keeps their loaded values for the caller.
    """
    with db.read() as session:
        try:
            yield session
        finally:
            session.expunge_all()


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every time loralab stores is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=timezone.utc)
