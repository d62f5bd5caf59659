"""Fixtures for the jobs tests: a fresh store per test (SQLite or PostgreSQL), the real app, the
tiny model and a sample dataset registered in it, and cleanup of any worker left running."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from loralab.config import Settings
from loralab.store import Database, migrate
from loralab.store.datasets import create_dataset
from loralab.store.jobs import reading
from loralab.store.models import add_model
from loralab.store.tables import JobRow

from .jobs_support import ServerProcess

PG_ADMIN_URL = os.environ.get("LORALAB_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
SAMPLE = "openai_messages_sample.jsonl"


# -- databases -------------------------------------------------------------------------------------


def _pg_database() -> Iterator[str]:
    import psycopg

    name = f"loralab_jobs_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request, tmp_path) -> Iterator[str | None]:
    """None (SQLite in the data dir) or the URL of a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield None
    else:
        yield from _pg_database()


def make_settings(data_dir: Path, database_url: str | None, **extra: Any) -> Settings:
    """Settings with short timings so the tests see heartbeats and stops quickly."""
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": database_url,
        "heartbeat_seconds": 0.5,
        "heartbeat_timeout_seconds": 20.0,
        "cancel_grace_seconds": 60.0,
        "max_concurrent_jobs": 1,
        "allowed_hosts": ["testserver"],  # the TestClient's Host
    }
    values.update(extra)
    return Settings(**values)


@pytest.fixture
def settings(tmp_path, database_url) -> Settings:
    return make_settings(tmp_path / "data", database_url)


@pytest.fixture
def db(settings) -> Iterator[Database]:
    database = Database(settings.resolved_database_url)
    migrate(database)
    yield database
    _kill_workers(database)
    database.dispose()


def _kill_workers(db: Database) -> None:
    """No worker outlives its test: kill the process group of every job that has a pid."""
    from loralab.jobs import kill_worker_group

    with reading(db) as session:
        rows = [(r.id, r.pid) for r in session.query(JobRow).all()]
    for job_id, pid in rows:
        kill_worker_group(pid, job_id)


# -- the app ---------------------------------------------------------------------------------------


def build_app(settings: Settings):
    """The server's app (``loralab.api.app.create_app``)."""
    from loralab.api.app import create_app

    return create_app(settings)


@pytest.fixture
def client(settings, db) -> Iterator[Any]:
    """A TestClient on the real app; its lifespan runs the scheduler."""
    from fastapi.testclient import TestClient

    with TestClient(build_app(settings)) as test_client:
        yield test_client


# -- a run to submit -------------------------------------------------------------------------------


def register_inputs(db: Database, settings: Settings, tiny_model: Path, formats_dir: Path):
    """Register the tiny model and a sample dataset; returns (model_id, dataset_id)."""
    folder = Path(settings.data_dir) / "datasets"
    folder.mkdir(parents=True, exist_ok=True)
    stored = f"{uuid.uuid4().hex}.jsonl"
    shutil.copyfile(formats_dir / SAMPLE, folder / stored)
    with db.write() as session:
        dataset = create_dataset(
            session,
            name="messages sample",
            kind="upload",
            stored_name=stored,
            original_filename=SAMPLE,
            size_bytes=(folder / stored).stat().st_size,
            status="ready",
            format="messages",
        )
    with db.write() as session:
        model = add_model(session, name="tiny qwen2", path=str(tiny_model))
    return model.id, dataset.id


def run_config(model_id: str, dataset_id: str, *, max_steps: int = 6, save_steps: int = 2):
    """A short CPU run of the tiny model."""
    return {
        "model": {"name_or_path": f"model:{model_id}"},
        "data": {"source": f"dataset:{dataset_id}", "max_samples": 40},
        "lora": {"r": 4, "alpha": 8},
        "train": {
            "max_steps": max_steps,
            "save_steps": save_steps,
            "batch_size": 2,
            "gradient_accumulation_steps": 1,
            "max_seq_length": 256,
            "gradient_checkpointing": False,
            "logging_steps": 1,
            "save_total_limit": 2,
            "warmup_ratio": 0.0,
        },
    }


@pytest.fixture
def inputs(db, settings, tiny_model, formats_dir) -> tuple[str, str]:
    """(model_id, dataset_id) registered in this test's store."""
    return register_inputs(db, settings, tiny_model, formats_dir)


@pytest.fixture
def make_config(inputs) -> Callable[..., dict[str, Any]]:
    """Builds a run config body for the registered tiny model and dataset."""
    model_id, dataset_id = inputs

    def _make(**kwargs: Any) -> dict[str, Any]:
        return run_config(model_id, dataset_id, **kwargs)

    return _make


@pytest.fixture
def server_factory(tmp_path) -> Iterator[Callable[[Settings], ServerProcess]]:
    """Starts real server processes; stops whatever is left at the end."""
    started: list[ServerProcess] = []

    def _start(settings: Settings) -> ServerProcess:
        server = ServerProcess(settings, tmp_path / f"server-{len(started)}.log").start()
        started.append(server)
        return server

    yield _start
    for server in started:
        server.stop()
