"""Query functions for adapters. Each takes the caller's Session."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from loralab.errors import Conflict
from loralab.store.db import new_id
from loralab.store.jobs import ACTIVE_STATUSES
from loralab.store.tables import AdapterRow, JobRow

__all__ = [
    "add_adapter",
    "adapter_of_job",
    "delete_adapter",
    "find_adapter_by_path",
    "get_adapter",
    "jobs_using_adapter",
    "list_adapters",
]


def find_adapter_by_path(session: Session, path: str) -> AdapterRow | None:
    """The adapter whose files are at ``path``, or None."""
    return session.scalars(select(AdapterRow).where(AdapterRow.path == path)).first()


def add_adapter(session: Session, *, path: str, **values: Any) -> AdapterRow:
    """Insert an adapter; one folder is one adapter (409 ``adapter_exists``)."""
    existing = find_adapter_by_path(session, path)
    if existing is not None:
        raise Conflict(
            f"{path} is already the adapter '{existing.name}'.",
            code="adapter_exists",
            fix=f"Use adapter:{existing.id}.",
        )
    row = AdapterRow(id=values.pop("id", None) or new_id(), path=path, **values)
    session.add(row)
    session.flush()
    return row


def get_adapter(session: Session, adapter_id: str) -> AdapterRow | None:
    """The adapter, or None."""
    return session.get(AdapterRow, adapter_id)


def adapter_of_job(session: Session, job_id: str) -> AdapterRow | None:
    """The adapter a training run produced at its end (not its promoted checkpoints)."""
    query = select(AdapterRow).where(AdapterRow.job_id == job_id, AdapterRow.source == "training")
    return session.scalars(query).first()


def list_adapters(session: Session, *, job_id: str | None = None) -> list[AdapterRow]:
    """Adapters, newest first (optionally those of one job)."""
    query = select(AdapterRow).order_by(AdapterRow.created_at.desc(), AdapterRow.id)
    if job_id is not None:
        query = query.where(AdapterRow.job_id == job_id)
    return list(session.scalars(query))


def jobs_using_adapter(session: Session, adapter_id: str) -> list[str]:
    """Ids of queued or running jobs that refer to the adapter."""
    query = select(JobRow.id).where(
        JobRow.adapter_id == adapter_id, JobRow.status.in_(ACTIVE_STATUSES)
    )
    return list(session.scalars(query))


def delete_adapter(session: Session, row: AdapterRow) -> None:
    """Remove the adapter's row (the caller removes its files)."""
    session.delete(row)
