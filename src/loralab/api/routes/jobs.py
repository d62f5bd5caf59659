"""``/api/jobs``: submit, list, cancel, resume and delete jobs of every kind; their metrics, logs,
checkpoints and run card. The event WebSockets live in ``job_events``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Query, Response

from loralab.api.deps import DbDep, SettingsDep
from loralab.api.routes import job_events
from loralab.services import job_outputs
from loralab.services import jobs as service
from loralab.services.job_outputs import Checkpoint, JobLogs, JobMetrics
from loralab.services.jobs import Job, JobCreate, JobKindInfo

router = APIRouter(prefix="/api/jobs", tags=["jobs"])
router.include_router(job_events.router)

JobId = Path(description="The job's id.", max_length=64)


@router.post("", response_model=Job, status_code=201)
def submit_job(body: JobCreate, db: DbDep, settings: SettingsDep) -> Job:
    """Queue a job, a training run by default (422 `invalid_config` with field paths when the
    config is wrong, 422 `unknown_job_kind` for a kind that cannot be submitted)."""
    return service.submit_job(db, settings, body)


@router.get("", response_model=list[Job])
def list_jobs(
    db: DbDep,
    status: str | None = Query(default=None, max_length=32, description="Only this status."),
    kind: str | None = Query(
        default=None, max_length=200, description="Only these kinds (comma-separated)."
    ),
    exclude_kind: str | None = Query(
        default=None, max_length=200, description="Not these kinds (comma-separated)."
    ),
) -> list[Job]:
    """Jobs, newest first (`?kind=train` for the training runs)."""
    return service.list_jobs(db, status, kind=kind, exclude_kind=exclude_kind)


@router.get("/kinds", response_model=list[JobKindInfo])
def job_kinds() -> list[JobKindInfo]:
    """Every kind of job: what it needs, where its outputs live, what it refers to."""
    return service.job_kinds()


@router.get("/{job_id}", response_model=Job)
def get_job(db: DbDep, job_id: str = JobId) -> Job:
    """One job (404 `job_not_found`)."""
    return service.get_job(db, job_id)


@router.post("/{job_id}/cancel", response_model=Job)
def cancel_job(db: DbDep, job_id: str = JobId) -> Job:
    """Stop gracefully: save a checkpoint, then `stopped` (409 `job_not_running` when ended)."""
    return service.cancel_job(db, job_id)


@router.post("/{job_id}/resume", response_model=Job)
def resume_job(db: DbDep, settings: SettingsDep, job_id: str = JobId) -> Job:
    """Continue from the last complete checkpoint (409 `job_not_resumable` unless
    stopped, interrupted or failed)."""
    return service.resume_job(db, settings, job_id)


@router.delete("/{job_id}", status_code=204)
def delete_job(db: DbDep, settings: SettingsDep, job_id: str = JobId) -> Response:
    """Delete the job and its files (409 `job_running` while it runs)."""
    service.delete_job(db, settings, job_id)
    return Response(status_code=204)


@router.get("/{job_id}/metrics", response_model=JobMetrics)
def job_metrics(db: DbDep, job_id: str = JobId) -> JobMetrics:
    """Every step's loss, learning rate, grad norm, tokens/s and epoch, and every evaluation."""
    return job_outputs.job_metrics(db, job_id)


@router.get("/{job_id}/logs", response_model=JobLogs)
def job_logs(
    db: DbDep,
    job_id: str = JobId,
    tail: int = Query(default=200, ge=1, le=10_000, description="How many of the newest lines."),
) -> JobLogs:
    """The newest lines of the job's log."""
    return job_outputs.job_logs(db, job_id, tail)


@router.get("/{job_id}/checkpoints", response_model=list[Checkpoint])
def job_checkpoints(db: DbDep, job_id: str = JobId) -> list[Checkpoint]:
    """The run's checkpoints; only complete ones can be resumed from."""
    return job_outputs.job_checkpoints(db, job_id)


@router.get("/{job_id}/run-card")
def job_run_card(db: DbDep, job_id: str = JobId) -> dict[str, Any]:
    """The run card (404 `run_card_not_found` until the run has written it)."""
    return job_outputs.job_run_card(db, job_id)
