"""Query functions for saved, named RunConfigs."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from loralab.errors import Conflict, NotFound
from loralab.store.datasets import new_id, reading
from loralab.store.db import Database
from loralab.store.tables import ConfigRow

__all__ = ["create_config", "delete_config", "get_config", "list_configs", "update_config"]


def _duplicate(name: str) -> Conflict:
    return Conflict(
        f"A saved config named '{name}' already exists.",
        code="duplicate_name",
        fix="Pick another name, or update the existing config.",
    )


def _not_found(config_id: str) -> NotFound:
    return NotFound(f"Saved config '{config_id}' does not exist.", code="config_not_found")


def _name_taken(session, name: str, except_id: str | None = None) -> bool:
    stmt = select(func.count()).select_from(ConfigRow).where(ConfigRow.name == name)
    if except_id is not None:
        stmt = stmt.where(ConfigRow.id != except_id)
    return bool(session.scalar(stmt))


def create_config(
    db: Database, *, name: str, config: dict[str, Any], description: str | None = None
) -> ConfigRow:
    """Save a config under a new name (409 ``duplicate_name`` when the name is taken)."""
    try:
        with db.write() as session:
            if _name_taken(session, name):
                raise _duplicate(name)
            row = ConfigRow(id=new_id(), name=name, config=config, description=description)
            session.add(row)
    except IntegrityError:  # a concurrent save won the unique constraint
        raise _duplicate(name) from None
    return row


def get_config(db: Database, config_id: str) -> ConfigRow:
    """The saved config, or NotFound."""
    with reading(db) as session:
        row = session.get(ConfigRow, config_id)
    if row is None:
        raise _not_found(config_id)
    return row


def list_configs(db: Database) -> list[ConfigRow]:
    """Every saved config, by name."""
    with reading(db) as session:
        return list(session.scalars(select(ConfigRow).order_by(ConfigRow.name)))


def update_config(
    db: Database,
    config_id: str,
    *,
    name: str,
    config: dict[str, Any],
    description: str | None = None,
) -> ConfigRow:
    """Replace a saved config's name, description and body."""
    try:
        with db.write() as session:
            row = session.get(ConfigRow, config_id)
            if row is None:
                raise _not_found(config_id)
            if name != row.name and _name_taken(session, name, except_id=config_id):
                raise _duplicate(name)
            row.name = name
            row.config = config
            row.description = description
    except IntegrityError:
        raise _duplicate(name) from None
    return row


def delete_config(db: Database, config_id: str) -> None:
    """Delete a saved config, or NotFound."""
    with db.write() as session:
        row = session.get(ConfigRow, config_id)
        if row is None:
            raise _not_found(config_id)
        session.delete(row)
