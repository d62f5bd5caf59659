"""Fixtures for API (and store) tests: a fresh app on a fresh database, SQLite and PostgreSQL.

Every test that uses ``database_url`` (directly or through ``settings``, ``app``, ``client``,
``db``...) runs twice: ``[sqlite]`` with the embedded default (``loralab.db`` in the test's own
data dir) and ``[postgres]`` in a fresh, empty schema of its own, made for that test alone and
dropped after it, inside a database created for the test session on the local server
(``LORALAB_TEST_POSTGRES_URL``, default ``postgresql://postgres@127.0.0.1:5432/test``, names the
server and a database to connect to for CREATE/DROP). The postgres variants carry the
``postgres`` marker.

- ``settings``: ``Settings`` for the test: its own ``tmp_path/data`` dir, bound to 127.0.0.1
  (no token), ``testserver`` (TestClient's Host) allowed. ``make_settings(**overrides)`` builds
  variants (``host="0.0.0.0"``, ``token=...``, ``max_upload_mb=1``, ``cors_origins=[...]``).
- ``app``: ``create_app(settings)``; the database is migrated.
- ``client``: a ``TestClient`` with the app's lifespan running (so the job scheduler runs).
- ``bare_client``: a ``TestClient`` without the lifespan: no scheduler, so rows a test writes
  (a queued job, say) stay exactly as written.
- ``make_client(settings=None, *, lifespan=True, **overrides)``: more clients, e.g. a second
  app on the same data dir, or one bound to 0.0.0.0; all closed after the test.
- ``db``: the app's ``Database``, for arranging rows and checking what was stored.
- ``upload(client, filename, content, **fields)``: POST a file to ``/api/datasets/upload``;
  ``content`` is bytes or a Path, ``fields`` extra form fields (``name=``).
"""

from __future__ import annotations

import os
import uuid
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from loralab.api.app import create_app
from loralab.config import Settings
from loralab.store import Database

POSTGRES_URL = os.environ.get(
    "LORALAB_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def _admin_conninfo() -> str:
    return POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://", 1)


def _sql(statement: str, conninfo: str | None = None) -> None:
    with psycopg.connect(conninfo or _admin_conninfo(), autocommit=True) as conn:
        conn.execute(statement)


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A database made for this test session (dropped at its end); tests get schemas in it."""
    name = f"loralab_test_{uuid.uuid4().hex[:12]}"
    _sql(f'CREATE DATABASE "{name}"')
    url = make_url(POSTGRES_URL).set(drivername="postgresql+psycopg", database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        _sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request) -> Iterator[str | None]:
    """None for SQLite in the data dir; for PostgreSQL, the URL of an empty schema made for
    this test alone in the session's database (``search_path`` set through the URL, so the
    server, the migrations and worker processes all land in it), dropped after the test.

    CREATE DATABASE takes about a second here (a checkpoint); a schema takes milliseconds and
    isolates a test just as well.
    """
    if request.param == "sqlite":
        yield None
        return
    database = request.getfixturevalue("postgres_database")
    schema = f"t_{uuid.uuid4().hex[:16]}"
    conninfo = make_url(database).set(drivername="postgresql").render_as_string(False)
    _sql(f'CREATE SCHEMA "{schema}"', conninfo)
    try:
        yield f"{database}?options=-csearch_path%3D{schema}"
    finally:
        # Waits for connections a test left open (a worker shutting down); the session's
        # DROP DATABASE ... WITH (FORCE) removes whatever is left if that takes too long.
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute("SET lock_timeout = '30s'")
            try:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            except psycopg.errors.LockNotAvailable:
                warnings.warn(f"schema {schema} still in use", stacklevel=1)


@pytest.fixture
def make_settings(tmp_path: Path, database_url: str | None) -> Callable[..., Settings]:
    """Build ``Settings`` for this test's data dir and database, with overrides."""

    def make(**overrides) -> Settings:
        values = {
            "data_dir": tmp_path / "data",
            "database_url": database_url,
            "host": "127.0.0.1",
            "port": 7860,
            "token": None,
            "allowed_hosts": ["testserver"],
            "cors_origins": [],
            "max_upload_mb": 64,
        }
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture
def settings(make_settings) -> Settings:
    return make_settings()


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    app = create_app(settings)
    yield app
    app.state.db.dispose()


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


@pytest.fixture
def bare_client(app: FastAPI) -> TestClient:
    return TestClient(app)


@pytest.fixture
def db(app: FastAPI) -> Database:
    return app.state.db


@pytest.fixture
def make_client(make_settings) -> Iterator[Callable[..., TestClient]]:
    opened: list[tuple[TestClient, FastAPI, bool]] = []

    def make(settings: Settings | None = None, *, lifespan: bool = True, **overrides):
        app = create_app(settings or make_settings(**overrides))
        client = TestClient(app)
        if lifespan:
            client.__enter__()
        opened.append((client, app, lifespan))
        return client

    yield make
    for client, app, entered in reversed(opened):
        if entered:
            client.__exit__(None, None, None)
        app.state.db.dispose()


def upload_file(client: TestClient, filename: str, content: bytes | Path, **fields: str):
    """POST ``content`` as ``filename`` to the upload endpoint (``fields``: extra form fields,
    e.g. ``name=``); returns the response."""
    data = content.read_bytes() if isinstance(content, Path) else content
    return client.post(
        "/api/datasets/upload", files={"file": (filename, data)}, data=fields or None
    )


@pytest.fixture
def upload() -> Callable[..., object]:
    return upload_file
