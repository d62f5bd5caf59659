"""``/api/schema``: the RunConfig JSON schema and the presets, for the UI's form."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from loralab.config import PRESETS, RunConfig, load_preset

router = APIRouter(prefix="/api/schema", tags=["schema"])


@router.get("/run-config", response_model=dict[str, Any])
def run_config_schema() -> dict[str, Any]:
    """The RunConfig JSON schema, with every field's description, default and bounds."""
    return RunConfig.model_json_schema()


@router.get("/presets", response_model=dict[str, dict[str, Any]])
def presets() -> dict[str, dict[str, Any]]:
    """The presets (recommended, fast, quality): partial configs laid under the user's."""
    return {name: load_preset(name) for name in PRESETS}
