"""``create_app``: the FastAPI application, built from settings when it is created.

``loralab serve`` runs it through uvicorn's factory mode; tests call ``create_app(settings)``
with their own. Creating the app opens the database and applies the migrations; the lifespan
starts the job scheduler (when the jobs package is installed) and stops it on shutdown.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from sqlalchemy.exc import OperationalError

import loralab
from loralab.api.event_hub import EventHub
from loralab.api.problems import install_problem_handlers
from loralab.api.routes import (
    adapters,
    configs,
    datasets,
    evaluations,
    exports,
    health,
    inference,
    job_results,
    models,
    openai_compat,
    rewards,
    schema,
    system,
)
from loralab.api.security import SecurityMiddleware, resolve_token
from loralab.api.static import STATIC_DIR, install_api_docs
from loralab.api.uploads import PART_PREFIX
from loralab.config import Settings
from loralab.errors import LoralabError
from loralab.jobs.inference_process import InferenceProcess
from loralab.services.adapters import register_finished_runs
from loralab.store import Database, migrate

__all__ = ["create_app"]

log = logging.getLogger("loralab.api")

# What the API and the UI use, no more: a listed origin gets credentials, so "*" never appears.
CORS_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
CORS_HEADERS = ["Authorization", "Content-Type"]


def _optional_module(name: str) -> Any | None:
    """Import ``name`` if it exists; a module that exists but fails to import still raises."""
    import importlib

    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name == name:
            return None
        raise


def _clean_partial_uploads(settings: Settings) -> None:
    folder = settings.data_dir / "datasets"
    for part in folder.glob(f"{PART_PREFIX}*.part") if folder.is_dir() else ():
        part.unlink(missing_ok=True)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app: settings (from the environment when not given), database, routes."""
    settings = settings if settings is not None else Settings()
    if str(settings.data_dir).startswith("~"):  # LORALAB_DATA_DIR=~/x from a non-shell env
        settings = settings.model_copy(update={"data_dir": settings.data_dir.expanduser()})
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    (settings.data_dir / "datasets").mkdir(exist_ok=True)
    _clean_partial_uploads(settings)
    db = Database(settings.resolved_database_url)
    try:
        migrate(db)
    except OperationalError as exc:
        db.dispose()
        raise LoralabError(
            f"Cannot open the database: {str(exc.orig or exc).strip().splitlines()[0]}",
            code="database_unavailable",
            status=503,
            fix="Check LORALAB_DATABASE_URL and that the database server is running.",
        ) from None
    # Runs that finished before adapters were resources (or whose worker ended between saving
    # the adapter and registering it) get their adapter now.
    register_finished_runs(db)
    jobs_routes = _optional_module("loralab.api.routes.jobs")
    jobs_service = _optional_module("loralab.services.jobs")
    hub = EventHub(db)
    # Started on first use; stopped with the server (tests may put a shared one on app.state).
    inference_process = InferenceProcess(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        handle = None
        if jobs_service is not None:
            handle = jobs_service.start_scheduler(db, settings)
        hub.start()
        try:
            yield
        finally:
            await hub.stop()
            if handle is not None:
                handle.stop()
            inference_process.stop()
            db.dispose()

    app = FastAPI(
        title="loralab",
        version=loralab.__version__,
        description="Fine-tune open LLMs with LoRA: datasets, models, configs and jobs.",
        lifespan=lifespan,
        separate_input_output_schemas=False,
        docs_url=None,  # served by install_api_docs with local assets
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.db = db
    app.state.event_hub = hub
    app.state.token = resolve_token(settings)
    app.state.static_dir = STATIC_DIR
    app.state.inference = inference_process

    install_problem_handlers(app)
    install_api_docs(app)
    for module in (health, system, datasets, models, adapters, configs, schema, inference):
        app.include_router(module.router)
    if jobs_routes is not None:
        app.include_router(jobs_routes.router)
    app.include_router(openai_compat.router)
    app.include_router(evaluations.router)
    app.include_router(job_results.router)
    app.include_router(exports.router)
    app.include_router(rewards.router)

    app.add_middleware(SecurityMiddleware, settings=settings, token=app.state.token)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_credentials=True,
            allow_methods=CORS_METHODS,
            allow_headers=CORS_HEADERS,
        )
    return app
