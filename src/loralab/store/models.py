"""Query functions for registered base models (local folders). Each takes the caller's Session;
the service opens the transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from loralab.errors import Conflict, NotFound
from loralab.store.db import new_id
from loralab.store.tables import ModelRow

__all__ = ["add_model", "delete_model", "find_model_by_path", "get_model", "list_models"]


def find_model_by_path(session: Session, path: str) -> ModelRow | None:
    """The model registered for the folder ``path``, or None."""
    return session.scalars(select(ModelRow).where(ModelRow.path == path)).first()


def add_model(
    session: Session, *, name: str, path: str, info: dict[str, Any] | None = None
) -> ModelRow:
    """Register a local model folder; a folder can be registered once (409 ``model_exists``)."""
    existing = find_model_by_path(session, path)
    if existing is not None:
        raise Conflict(
            f"{path} is already registered as '{existing.name}'.",
            code="model_exists",
            fix=f"Use model:{existing.id}.",
        )
    row = ModelRow(id=new_id(), name=name, kind="local", path=path, info=info)
    session.add(row)
    session.flush()
    return row


def get_model(session: Session, model_id: str) -> ModelRow | None:
    """The registered model, or None."""
    return session.get(ModelRow, model_id)


def list_models(session: Session) -> list[ModelRow]:
    """Registered local models, newest first."""
    stmt = (
        select(ModelRow)
        .where(ModelRow.kind == "local")
        .order_by(ModelRow.created_at.desc(), ModelRow.id)
    )
    return list(session.scalars(stmt))


def delete_model(session: Session, model_id: str) -> None:
    """Forget a registered model (its files stay where they are); 404 ``model_not_found``."""
    row = session.get(ModelRow, model_id)
    if row is None:
        raise NotFound(f"Model '{model_id}' does not exist.", code="model_not_found")
    session.delete(row)
