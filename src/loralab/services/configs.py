"""Saved configs: named RunConfigs a user keeps and loads again into the form."""

from __future__ import annotations

from pydantic import BaseModel, Field, ValidationError, field_validator
from sqlalchemy.exc import IntegrityError

from loralab.config import RunConfig, Settings, StrictModel
from loralab.errors import ConfigError, FieldProblem
from loralab.jobs.remote_code import refuse_remote_code
from loralab.services import UtcDateTime
from loralab.store import Database
from loralab.store import configs as store
from loralab.store.db import reading
from loralab.store.tables import ConfigRow

__all__ = [
    "SavedConfig",
    "SavedConfigIn",
    "create_config",
    "delete_config",
    "get_config",
    "list_configs",
    "update_config",
]


class SavedConfigIn(StrictModel):
    """A RunConfig to save under a name."""

    name: str = Field(min_length=1, max_length=200, description="Unique name of the config.")
    description: str | None = Field(default=None, max_length=5000)
    config: RunConfig

    @field_validator("name")
    @classmethod
    def _clean_name(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("the name must not be blank")
        if any(ord(c) < 32 for c in value):
            raise ValueError("the name must not hold control characters")
        return value


class SavedConfig(BaseModel):
    """A saved, named RunConfig."""

    id: str
    name: str
    description: str | None
    config: RunConfig
    created_at: UtcDateTime
    updated_at: UtcDateTime


def _to_model(row: ConfigRow) -> SavedConfig:
    try:
        config = RunConfig.model_validate(row.config)
    except ValidationError as exc:
        raise ConfigError(
            f"Saved config '{row.name}' no longer matches the RunConfig schema.",
            code="stale_config",
            problems=[
                FieldProblem(loc=".".join(map(str, e["loc"])), message=e["msg"])
                for e in exc.errors()
            ],
            fix="Save it again from the form, or delete it.",
        ) from None
    return SavedConfig(
        id=row.id,
        name=row.name,
        description=row.description,
        config=config,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def create_config(db: Database, settings: Settings, body: SavedConfigIn) -> SavedConfig:
    """Save a new named config.

    Raises:
        ConfigError: the config breaks a cross-field rule (422 ``invalid_config``), or asks
            for remote code the server does not allow (422 ``remote_code_not_allowed``).
        Conflict: the name is taken (409 ``duplicate_name``).
    """
    refuse_remote_code(settings, body.config)
    try:
        with db.write() as session:
            row = store.create_config(
                session,
                name=body.name,
                config=body.config.model_dump(mode="json"),
                description=body.description,
            )
    except IntegrityError:  # a concurrent save won the unique constraint
        raise store.duplicate_name(body.name) from None
    return _to_model(row)


def list_configs(db: Database) -> list[SavedConfig]:
    """Every saved config, by name."""
    with reading(db) as session:
        rows = store.list_configs(session)
    return [_to_model(row) for row in rows]


def get_config(db: Database, config_id: str) -> SavedConfig:
    """One saved config (404 ``config_not_found``)."""
    with reading(db) as session:
        row = store.get_config(session, config_id)
    return _to_model(row)


def update_config(
    db: Database, settings: Settings, config_id: str, body: SavedConfigIn
) -> SavedConfig:
    """Replace a saved config (404 when missing, 409 when renamed onto a taken name, 422 as
    ``create_config``)."""
    refuse_remote_code(settings, body.config)
    try:
        with db.write() as session:
            row = store.update_config(
                session,
                config_id,
                name=body.name,
                config=body.config.model_dump(mode="json"),
                description=body.description,
            )
    except IntegrityError:  # a concurrent save took the name first
        raise store.duplicate_name(body.name) from None
    return _to_model(row)


def delete_config(db: Database, config_id: str) -> None:
    """Delete a saved config (404 when missing)."""
    with db.write() as session:
        store.delete_config(session, config_id)
