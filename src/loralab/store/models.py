"""Query functions for registered models: local folders and adapters from finished jobs."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from loralab.errors import Conflict, NotFound
from loralab.store.datasets import new_id, reading
from loralab.store.db import Database
from loralab.store.tables import JobRow, ModelRow

__all__ = [
    "completed_jobs",
    "create_model",
    "delete_model",
    "get_job",
    "get_model",
    "list_models",
]


def create_model(
    db: Database,
    *,
    name: str,
    kind: str,
    path: str,
    base_model: str | None = None,
    job_id: str | None = None,
    info: dict[str, Any] | None = None,
) -> ModelRow:
    """Register a model. A local folder can be registered once (409 ``model_exists``)."""
    with db.write() as session:
        existing = session.scalars(
            select(ModelRow).where(ModelRow.kind == kind, ModelRow.path == path)
        ).first()
        if existing is not None:
            raise Conflict(
                f"{path} is already registered as '{existing.name}'.",
                code="model_exists",
                fix=f"Use model:{existing.id}.",
            )
        row = ModelRow(
            id=new_id(),
            name=name,
            kind=kind,
            path=path,
            base_model=base_model,
            job_id=job_id,
            info=info,
        )
        session.add(row)
    return row


def get_model(db: Database, model_id: str) -> ModelRow | None:
    """The registered model, or None."""
    with reading(db) as session:
        return session.get(ModelRow, model_id)


def list_models(db: Database, kind: str | None = None) -> list[ModelRow]:
    """Registered models (optionally of one kind), newest first."""
    stmt = select(ModelRow).order_by(ModelRow.created_at.desc(), ModelRow.id)
    if kind is not None:
        stmt = stmt.where(ModelRow.kind == kind)
    with reading(db) as session:
        return list(session.scalars(stmt))


def delete_model(db: Database, model_id: str) -> None:
    """Forget a registered model (its files stay where they are)."""
    with db.write() as session:
        row = session.get(ModelRow, model_id)
        if row is None:
            raise NotFound(f"Model '{model_id}' does not exist.", code="model_not_found")
        session.delete(row)


def completed_jobs(db: Database) -> list[JobRow]:
    """Completed jobs that wrote an output folder, newest first."""
    stmt = (
        select(JobRow)
        .where(JobRow.status == "completed", JobRow.output_dir.is_not(None))
        .order_by(JobRow.finished_at.desc(), JobRow.created_at.desc())
    )
    with reading(db) as session:
        return list(session.scalars(stmt))


def get_job(db: Database, job_id: str) -> JobRow | None:
    """A job row by id (read-only use: adapters are found through their job)."""
    with reading(db) as session:
        return session.get(JobRow, job_id)
