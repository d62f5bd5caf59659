"""``/api/exports``: export jobs (adapter, merged, GGUF, Modelfile, parity), their files."""

from __future__ import annotations

from fastapi import APIRouter, Path, Query
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from loralab.api.deps import DbDep, SettingsDep
from loralab.jobs.export_job import ExportSpec
from loralab.services import exports as service
from loralab.services.exports import ExportEstimate
from loralab.services.jobs import Job

router = APIRouter(prefix="/api/exports", tags=["exports"])

JobId = Path(description="The export's job id.", max_length=64)


@router.get("", response_model=list[Job])
def list_exports(db: DbDep) -> list[Job]:
    """Every export, newest first, with its files and parity report once done."""
    return service.list_exports(db)


@router.post("", response_model=Job, status_code=201)
def start_export(body: ExportSpec, db: DbDep, settings: SettingsDep) -> Job:
    """Queue an export (507 `insufficient_storage`; 422 for a missing tool or a bad spec)."""
    return service.start_export(db, settings, body)


@router.get("/estimate", response_model=ExportEstimate)
def estimate_export(
    db: DbDep,
    settings: SettingsDep,
    adapter: str = Query(max_length=80, description="The adapter: adapter:<id>."),
) -> ExportEstimate:
    """Sizes of every format and quantization, the free disk and which tools are installed."""
    return service.estimate_export(db, settings, adapter)


@router.get("/{job_id}", response_model=Job)
def get_export(db: DbDep, job_id: str = JobId) -> Job:
    """One export (404 `export_not_found`)."""
    return service.get_export(db, job_id)


@router.get(
    "/{job_id}/files/{name:path}",
    response_class=FileResponse,
    responses={200: {"content": {"application/octet-stream": {}}, "description": "The file."}},
)
def download_export_file(
    db: DbDep,
    settings: SettingsDep,
    job_id: str = JobId,
    name: str = Path(max_length=300, description="A name from the export's result.files."),
):
    """One file of a completed export, by its name in the result; folders come as a zip."""
    path, filename, temporary = service.export_file(db, settings, job_id, name)
    task = BackgroundTask(path.unlink, missing_ok=True) if temporary else None
    return FileResponse(path, filename=filename, background=task)
