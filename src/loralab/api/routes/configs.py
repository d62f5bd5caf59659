"""``/api/configs``: saved, named RunConfigs."""

from __future__ import annotations

from fastapi import APIRouter, Path, Response

from loralab.api.deps import DbDep, SettingsDep
from loralab.services import configs as service
from loralab.services.configs import SavedConfig, SavedConfigIn

router = APIRouter(prefix="/api/configs", tags=["configs"])

ConfigId = Path(description="The saved config's id.", max_length=64)


@router.get("", response_model=list[SavedConfig])
def list_configs(db: DbDep) -> list[SavedConfig]:
    """Every saved config, by name."""
    return service.list_configs(db)


@router.post("", response_model=SavedConfig, status_code=201)
def create_config(body: SavedConfigIn, db: DbDep, settings: SettingsDep) -> SavedConfig:
    """Save a RunConfig under a new name (409 `duplicate_name` when taken)."""
    return service.create_config(db, settings, body)


@router.get("/{config_id}", response_model=SavedConfig)
def get_config(db: DbDep, config_id: str = ConfigId) -> SavedConfig:
    """One saved config."""
    return service.get_config(db, config_id)


@router.put("/{config_id}", response_model=SavedConfig)
def update_config(
    body: SavedConfigIn, db: DbDep, settings: SettingsDep, config_id: str = ConfigId
) -> SavedConfig:
    """Replace a saved config's name, description and body."""
    return service.update_config(db, settings, config_id, body)


@router.delete("/{config_id}", status_code=204)
def delete_config(db: DbDep, config_id: str = ConfigId) -> Response:
    """Delete a saved config."""
    service.delete_config(db, config_id)
    return Response(status_code=204)
