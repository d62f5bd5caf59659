"""``/api/datasets``: upload a file or register a hub dataset; validate, preview, delete."""

from __future__ import annotations

from fastapi import APIRouter, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from loralab.api.deps import DbDep, SettingsDep
from loralab.api.uploads import receive_upload
from loralab.services import dataset_preview, dataset_updates
from loralab.services import datasets as service
from loralab.services.dataset_preview import DatasetPreview
from loralab.services.dataset_updates import DatasetUpdate
from loralab.services.datasets import Dataset, HubDatasetIn
from loralab.services.uploads import check_upload_name

router = APIRouter(prefix="/api/datasets", tags=["datasets"])

DatasetId = Path(description="The dataset's id.", max_length=64)
MB = 1024 * 1024

_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "A .json, .jsonl, .csv or .parquet file.",
                        },
                        "name": {"type": "string", "description": "A display name."},
                    },
                }
            }
        },
    }
}


@router.post("/upload", response_model=Dataset, status_code=201, openapi_extra=_UPLOAD_BODY)
async def upload_dataset(request: Request, db: DbDep, settings: SettingsDep) -> Dataset:
    """Upload a dataset file (multipart field `file`); it is validated before the reply, or by
    a job when it is large (status `validating`). 413 `too_large`, 415/422 `unsupported_file`."""
    upload = await receive_upload(
        request,
        dest_dir=service.datasets_dir(settings),
        max_bytes=settings.max_upload_mb * MB,
        check_filename=check_upload_name,
    )
    return await run_in_threadpool(
        service.create_upload,
        db,
        settings,
        temp_path=upload.path,
        original_filename=upload.filename,
        size=upload.size,
        name=upload.fields.get("name"),
    )


@router.post("/hub", response_model=Dataset, status_code=201)
def register_hub_dataset(body: HubDatasetIn, db: DbDep, settings: SettingsDep) -> Dataset:
    """Register a Hugging Face hub dataset; a job validates it (503 `hub_unavailable` offline)."""
    return service.register_hub_dataset(db, settings, body)


@router.get("", response_model=list[Dataset])
def list_datasets(db: DbDep) -> list[Dataset]:
    """Every dataset, newest first (reports are left out; read one dataset for its report)."""
    return service.list_datasets(db)


@router.get("/{dataset_id}", response_model=Dataset)
def get_dataset(db: DbDep, dataset_id: str = DatasetId) -> Dataset:
    """One dataset with its validation report."""
    return service.get_dataset(db, dataset_id)


@router.get("/{dataset_id}/preview", response_model=DatasetPreview)
def preview_dataset(
    db: DbDep,
    settings: SettingsDep,
    dataset_id: str = DatasetId,
    n: int = Query(default=3, ge=1, le=50, description="How many rows."),
    model: str | None = Query(
        default=None,
        max_length=300,
        description="Render with this model's chat template: model:<id> or a cached hub id.",
    ),
    max_seq_length: int | None = Query(
        default=None, ge=16, le=262144, description="Flag rows longer than this many tokens."
    ),
) -> DatasetPreview:
    """The first rows rendered as training sees them, with the trained-on text marked."""
    return dataset_preview.preview_dataset(
        db, settings, dataset_id, n=n, model=model, max_seq_length=max_seq_length
    )


@router.patch("/{dataset_id}", response_model=Dataset)
def update_dataset(
    body: DatasetUpdate, db: DbDep, settings: SettingsDep, dataset_id: str = DatasetId
) -> Dataset:
    """Rename, or set the format, field mapping or system prompt (validates again)."""
    return dataset_updates.update_dataset(db, settings, dataset_id, body)


@router.delete("/{dataset_id}", status_code=204)
def delete_dataset(db: DbDep, settings: SettingsDep, dataset_id: str = DatasetId) -> Response:
    """Delete a dataset and its file (409 `dataset_in_use` while a queued or running job uses
    it)."""
    service.delete_dataset(db, settings, dataset_id)
    return Response(status_code=204)
