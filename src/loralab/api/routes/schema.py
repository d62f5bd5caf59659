"""``/api/schema``: the RunConfig JSON schema and the presets, for the UI's form."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from loralab.config import PRESETS, RunConfig, load_preset, preset_description

router = APIRouter(prefix="/api/schema", tags=["schema"])


class Preset(BaseModel):
    """A preset of one training method: a partial config laid under the user's."""

    description: str
    lora: dict[str, Any] = Field(default_factory=dict)
    train: dict[str, Any] = Field(description="The train section, `method` included.")


@router.get("/run-config", response_model=dict[str, Any])
def run_config_schema() -> dict[str, Any]:
    """The RunConfig JSON schema, with every field's description, default and bounds."""
    return RunConfig.model_json_schema()


@router.get("/presets", response_model=dict[str, dict[str, Preset]])
def presets() -> dict[str, dict[str, Preset]]:
    """Each training method's presets, by method and then name; a method's first is its default."""
    return {
        method: {
            name: Preset(description=preset_description(name, method), **load_preset(name, method))
            for name in names
        }
        for method, names in PRESETS.items()
    }
