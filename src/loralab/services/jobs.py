"""Jobs: submit a run, watch it, cancel it (gracefully), resume it, delete it.

A submitted RunConfig is resolved once, when it is queued (``run_refs``): registered datasets
and models become their paths, ``output.dir`` becomes the job's own ``data_dir/runs/<job-id>``,
and anything that looks like a filesystem path is refused. The worker reads that resolved
config from the job row. What a job produced is in ``job_outputs``. Nothing here imports the
training stack.
"""

from __future__ import annotations

import signal
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from loralab.config import RunConfig, Settings, StrictModel, check_run_config
from loralab.errors import ConfigError, Conflict, FieldProblem, NotFound
from loralab.jobs import Scheduler, remove_run_dir, run_dir, signal_worker
from loralab.services import UtcDateTime
from loralab.services.run_refs import resolve_run_refs
from loralab.store import Database
from loralab.store import jobs as store
from loralab.store.events import NewEvent, add_events, events_after
from loralab.store.tables import JobRow, utcnow

__all__ = [
    "Job",
    "JobCreate",
    "cancel_job",
    "delete_job",
    "get_job",
    "job_events",
    "job_updates",
    "list_jobs",
    "resume_job",
    "start_scheduler",
    "submit_job",
    "submit_task",
    "to_job",
]


class JobCreate(StrictModel):
    """A run to queue: the RunConfig and an optional label."""

    config: RunConfig
    name: str | None = Field(default=None, max_length=200, description="A label for the job.")


class Job(BaseModel):
    """A job as the API shows it."""

    id: str
    name: str | None
    kind: str
    status: str = Field(description="queued, running, completed, stopped, failed, interrupted")
    config: dict[str, Any] = Field(description="The resolved config the worker runs.")
    dataset_id: str | None
    step: int | None
    total_steps: int | None
    progress: float | None = Field(description="0..1; 1 only once the outputs are on disk.")
    eta_seconds: float | None
    metrics: dict[str, Any] | None
    reason: str | None
    exit_code: int | None
    attempts: int
    cancel_requested: bool
    created_at: UtcDateTime
    started_at: UtcDateTime | None
    finished_at: UtcDateTime | None
    last_seq: int


def to_job(row: JobRow) -> Job:
    """The API view of a job row."""
    return Job(
        id=row.id,
        name=row.name,
        kind=row.kind,
        status=row.status,
        config=row.config,
        dataset_id=row.dataset_id,
        step=row.step,
        total_steps=row.total_steps,
        progress=row.progress,
        eta_seconds=row.eta_seconds,
        metrics=row.metrics,
        reason=row.reason,
        exit_code=row.exit_code,
        attempts=row.attempts or 0,
        cancel_requested=bool(row.cancel_requested),
        created_at=store.as_utc(row.created_at),
        started_at=store.as_utc(row.started_at),
        finished_at=store.as_utc(row.finished_at),
        last_seq=row.last_seq or 0,
    )


def _not_found(job_id: str) -> NotFound:
    return NotFound(f"Job '{job_id}' does not exist.", code="job_not_found")


def start_scheduler(db: Database, settings: Settings) -> Scheduler:
    """Start the background scheduler (launches queued jobs, watches workers); ``.stop()`` it."""
    return Scheduler(db, settings).start()


# -- submitting ----------------------------------------------------------------------------------


def submit_job(db: Database, settings: Settings, body: JobCreate) -> Job:
    """Queue a training run.

    Raises:
        ConfigError: a cross-field rule fails, or a dataset/model reference or path is not
            acceptable (422 ``invalid_config``; ``errors[].loc`` like ``config.data.source``).
    """
    problems = [
        FieldProblem(loc=f"config.{p.loc}", message=p.message, line=p.line, fix=p.fix)
        for p in check_run_config(body.config)
    ]
    job_id = store.new_job_id()
    out = run_dir(settings.data_dir, job_id)
    raw = body.config.model_dump(mode="json")
    with db.write() as session:
        dataset_id, ref_problems = resolve_run_refs(session, settings, raw)
        problems += ref_problems
        if problems:
            raise ConfigError(f"The run config has {len(problems)} problem(s).", problems=problems)
        raw["output"]["dir"] = str(out)
        if body.name:
            raw["name"] = raw.get("name") or body.name
        row = store.add_job(
            session,
            job_id=job_id,
            kind="train",
            name=body.name or body.config.name,
            config=raw,
            dataset_id=dataset_id,
            output_dir=str(out),
        )
    out.mkdir(parents=True, exist_ok=True)
    return to_job(row)


def submit_task(
    db: Database,
    settings: Settings,
    kind: str,
    config: dict[str, Any],
    *,
    name: str | None = None,
    dataset_id: str | None = None,
) -> Job:
    """Queue a non-training job (e.g. ``validate``) whose ``config`` its worker understands."""
    job_id = store.new_job_id()
    out = run_dir(settings.data_dir, job_id)
    with db.write() as session:
        row = store.add_job(
            session,
            job_id=job_id,
            kind=kind,
            name=name,
            config=config,
            dataset_id=dataset_id,
            output_dir=str(out),
        )
    out.mkdir(parents=True, exist_ok=True)
    return to_job(row)


# -- reading ---------------------------------------------------------------------------------------


def get_job(db: Database, job_id: str) -> Job:
    """One job (404 ``job_not_found``)."""
    with store.reading(db) as session:
        row = store.get_job(session, job_id)
    if row is None:
        raise _not_found(job_id)
    return to_job(row)


def list_jobs(db: Database, status: str | None = None) -> list[Job]:
    """Jobs, newest first, optionally of one status (422 ``invalid_status`` for an unknown one)."""
    if status is not None and status not in store.JOB_STATUSES:
        raise ConfigError(
            f"Unknown job status '{status}'.",
            code="invalid_status",
            fix=f"Use one of: {', '.join(store.JOB_STATUSES)}.",
        )
    with store.reading(db) as session:
        return [to_job(row) for row in store.list_jobs(session, status)]


def job_events(
    db: Database, job_id: str, since: int = 0, limit: int = 500
) -> tuple[list[dict[str, Any]], str]:
    """Events with ``seq > since`` as ``{seq, type, data, time}``, and the job's status now.

    The status is read in the same snapshot as the events, so when it is final the list holds
    every event up to the end.
    """
    with store.reading(db) as session:
        row = store.get_job(session, job_id)
        if row is None:
            raise _not_found(job_id)
        events = events_after(session, job_id, since, limit)
        status = row.status
    return [
        {
            "seq": e.seq,
            "type": e.type,
            "data": e.data,
            "time": store.as_utc(e.created_at).isoformat(),
        }
        for e in events
    ], status


def job_updates(db: Database, since: datetime) -> list[dict[str, Any]]:
    """``{job_id, status, progress, step, total_steps}`` of active jobs and those changed since."""
    with store.reading(db) as session:
        rows = store.jobs_changed_since(session, since)
    return [
        {
            "job_id": r.id,
            "status": r.status,
            "progress": r.progress,
            "step": r.step,
            "total_steps": r.total_steps,
        }
        for r in rows
    ]


# -- changing --------------------------------------------------------------------------------------


def cancel_job(db: Database, job_id: str) -> Job:
    """Stop a job gracefully: a running one saves a checkpoint and ends ``stopped``.

    A queued job is stopped at once. Raises NotFound (404 ``job_not_found``) and Conflict
    (409 ``job_not_running``) for a job that has already ended.
    """
    with db.write() as session:
        row = store.lock_job(session, job_id)
        if row is None:
            raise _not_found(job_id)
        pid = None
        if row.status == "queued":
            store.set_status(session, row, "stopped", reason="Cancelled before it started.")
        elif row.status == "running":
            if not row.cancel_requested:
                row.cancel_requested = True
                row.cancel_requested_at = utcnow()
                note = {"message": "Stop requested: saving a checkpoint, then stopping."}
                add_events(session, row, [NewEvent("log", {**note, "level": "info"})])
            pid = row.pid
        else:
            raise Conflict(
                f"Job '{job_id}' is {row.status}; only a queued or running job can be cancelled.",
                code="job_not_running",
            )
    if pid:
        # The store flag reaches the worker within a heartbeat; the signal reaches it now.
        signal_worker(pid, job_id, signal.SIGTERM)
    return to_job(row)


def resume_job(db: Database, job_id: str) -> Job:
    """Queue a stopped, interrupted or failed job again; it continues from its last complete
    checkpoint (or starts over when it has none), with the same id and ``attempts + 1``.

    Raises NotFound (404 ``job_not_found``) and Conflict (409 ``job_not_resumable``).
    """
    with db.write() as session:
        row = store.lock_job(session, job_id)
        if row is None:
            raise _not_found(job_id)
        if row.status not in store.RESUMABLE_STATUSES:
            raise Conflict(
                f"Job '{job_id}' is {row.status}; only a stopped, interrupted or failed job "
                "can be resumed.",
                code="job_not_resumable",
            )
        row.resume_requested = True
        row.cancel_requested = False
        row.cancel_requested_at = None
        row.pid = None
        row.finished_at = None
        store.set_status(session, row, "queued")
    return to_job(row)


def delete_job(db: Database, settings: Settings, job_id: str) -> None:
    """Delete a job, its events and its run folder.

    Raises NotFound (404 ``job_not_found``) and Conflict (409 ``job_running``) while it runs.
    """
    with db.write() as session:
        row = store.lock_job(session, job_id)
        if row is None:
            raise _not_found(job_id)
        if row.status == "running":
            raise Conflict(
                f"Job '{job_id}' is running.",
                code="job_running",
                fix="Cancel it and wait until it has stopped, then delete it.",
            )
        store.delete_job(session, row)
    remove_run_dir(settings.data_dir, run_dir(settings.data_dir, job_id))
