"""``/api/adapters``: trained, promoted and registered LoRA adapters; download as a zip."""

from __future__ import annotations

from fastapi import APIRouter, Path, Response
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from loralab.api.deps import DbDep, SettingsDep
from loralab.services import adapters as service
from loralab.services.adapters import Adapter, AdapterRegistration, CheckpointPromotion

router = APIRouter(prefix="/api/adapters", tags=["adapters"])

AdapterId = Path(description="The adapter's id.", max_length=64)


@router.get("", response_model=list[Adapter])
def list_adapters(db: DbDep) -> list[Adapter]:
    """Every adapter, newest first."""
    return service.list_adapters(db)


@router.post("/register", response_model=Adapter, status_code=201)
def register_adapter(body: AdapterRegistration, db: DbDep) -> Adapter:
    """Register a PEFT adapter folder on the server, checked against its base model."""
    return service.register_adapter(db, body)


@router.post("/promote", response_model=Adapter, status_code=201)
def promote_checkpoint(body: CheckpointPromotion, db: DbDep, settings: SettingsDep) -> Adapter:
    """Keep a complete checkpoint of a training run as an adapter."""
    return service.promote_checkpoint(db, settings, body)


@router.get("/{adapter_id}", response_model=Adapter)
def get_adapter(db: DbDep, adapter_id: str = AdapterId) -> Adapter:
    """One adapter (404 `adapter_not_found`)."""
    return service.get_adapter(db, adapter_id)


@router.get(
    "/{adapter_id}/download",
    response_class=FileResponse,
    responses={200: {"content": {"application/zip": {}}, "description": "The adapter's files."}},
)
def download_adapter(db: DbDep, settings: SettingsDep, adapter_id: str = AdapterId):
    """The adapter's files as a zip (PEFT's `from_pretrained` loads the unzipped folder)."""
    path, filename = service.adapter_archive(db, settings, adapter_id)
    return FileResponse(
        path,
        media_type="application/zip",
        filename=filename,
        background=BackgroundTask(path.unlink, missing_ok=True),
    )


@router.delete("/{adapter_id}", status_code=204)
def delete_adapter(db: DbDep, settings: SettingsDep, adapter_id: str = AdapterId) -> Response:
    """Delete the adapter and the files loralab made for it (409 `adapter_in_use`)."""
    service.delete_adapter(db, settings, adapter_id)
    return Response(status_code=204)
