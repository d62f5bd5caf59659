"""Query functions for saved, named RunConfigs.

Each takes the caller's ``Session``; the service opens the transaction (``db.write()`` or
``reading(db)``). A name that a concurrent save takes first raises ``IntegrityError`` at the
flush or the commit; the service answers it with ``duplicate_name(name)``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from loralab.errors import Conflict, NotFound
from loralab.store.db import new_id
from loralab.store.tables import ConfigRow

__all__ = [
    "create_config",
    "delete_config",
    "duplicate_name",
    "get_config",
    "list_configs",
    "update_config",
]


def duplicate_name(name: str) -> Conflict:
    """The 409 for a config name that is taken."""
    return Conflict(
        f"A saved config named '{name}' already exists.",
        code="duplicate_name",
        fix="Pick another name, or update the existing config.",
    )


def _not_found(config_id: str) -> NotFound:
    return NotFound(f"Saved config '{config_id}' does not exist.", code="config_not_found")


def _name_taken(session: Session, name: str, except_id: str | None = None) -> bool:
    stmt = select(func.count()).select_from(ConfigRow).where(ConfigRow.name == name)
    if except_id is not None:
        stmt = stmt.where(ConfigRow.id != except_id)
    return bool(session.scalar(stmt))


def create_config(
    session: Session, *, name: str, config: dict[str, Any], description: str | None = None
) -> ConfigRow:
    """Save a config under a new name (409 ``duplicate_name`` when the name is taken)."""
    if _name_taken(session, name):
        raise duplicate_name(name)
    row = ConfigRow(id=new_id(), name=name, config=config, description=description)
    session.add(row)
    session.flush()
    return row


def get_config(session: Session, config_id: str) -> ConfigRow:
    """The saved config, or NotFound."""
    row = session.get(ConfigRow, config_id)
    if row is None:
        raise _not_found(config_id)
    return row


def list_configs(session: Session) -> list[ConfigRow]:
    """Every saved config, by name."""
    return list(session.scalars(select(ConfigRow).order_by(ConfigRow.name)))


def update_config(
    session: Session,
    config_id: str,
    *,
    name: str,
    config: dict[str, Any],
    description: str | None = None,
) -> ConfigRow:
    """Replace a saved config's name, description and body."""
    row = get_config(session, config_id)
    if name != row.name and _name_taken(session, name, except_id=config_id):
        raise duplicate_name(name)
    row.name = name
    row.config = config
    row.description = description
    session.flush()
    return row


def delete_config(session: Session, config_id: str) -> None:
    """Delete a saved config, or NotFound."""
    session.delete(get_config(session, config_id))
