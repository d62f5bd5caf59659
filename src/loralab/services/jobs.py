"""Jobs of every kind: submit, watch, cancel (gracefully), resume, delete.

A submitted spec is validated against its kind's model and prepared once, when it is queued:
the kind resolves its references (``dataset:<id>``, ``model:<id>``, ``adapter:<id>``) and gets
its own output folder; a request never names a file on the server. The worker reads that
prepared config from the job row. What a job produced is in ``job_outputs``. Nothing here
imports the training stack; nothing here names a kind except the default of ``JobCreate``.
"""

from __future__ import annotations

import shutil
import signal
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from loralab.config import Settings, StrictModel
from loralab.errors import ConfigError, Conflict, FieldProblem, NotFound
from loralab.jobs import (
    JOB_KINDS,
    JobKind,
    Scheduler,
    Submission,
    get_kind,
    signal_worker,
    wake_schedulers,
)
from loralab.jobs.kinds import OUTPUT_ROOTS
from loralab.jobs.remote_code import refuse_remote_code
from loralab.services import UtcDateTime
from loralab.store import Database, as_utc, new_id, reading
from loralab.store import jobs as store
from loralab.store.adapters import delete_adapter, jobs_using_adapter, list_adapters
from loralab.store.events import NewEvent, add_events, events_after
from loralab.store.tables import JobRow, utcnow

__all__ = [
    "Job",
    "JobCreate",
    "JobKindInfo",
    "cancel_job",
    "delete_job",
    "get_job",
    "job_events",
    "job_heads",
    "job_kinds",
    "job_updates",
    "list_jobs",
    "new_job_events",
    "resume_job",
    "start_scheduler",
    "submit_internal",
    "submit_job",
    "to_job",
]


class JobCreate(StrictModel):
    """A job to queue: its kind, the kind's spec (a RunConfig for ``train``) and a label."""

    kind: str = Field(
        default="train", max_length=32, description="The kind of job (see GET /api/jobs/kinds)."
    )
    config: dict[str, Any] = Field(
        description="The kind's spec; for `train` a RunConfig (see /api/schema/run-config)."
    )
    name: str | None = Field(default=None, max_length=200, description="A label for the job.")


class JobKindInfo(BaseModel):
    """A kind of job, as the registry declares it."""

    name: str
    title: str
    description: str
    device: bool = Field(description="Needs a GPU; pinned to its own through CUDA_VISIBLE_DEVICES.")
    outputs: str = Field(description="The folder under the data dir that holds its outputs.")
    resumable: bool
    refers_to: list[str] = Field(description="What a job of this kind may point at.")
    submittable: bool = Field(description="Accepted from POST /api/jobs (else server-started).")


class Job(BaseModel):
    """A job as the API shows it."""

    id: str
    name: str | None
    kind: str
    kind_title: str = Field(description="How people call this kind of job.")
    status: str = Field(description="queued, running, completed, stopped, failed, interrupted")
    config: dict[str, Any] = Field(description="The resolved spec the worker runs.")
    result: dict[str, Any] | None = Field(
        description="What the work produced (train: adapter_id; demo_model: model_id)."
    )
    dataset_id: str | None
    adapter_id: str | None = Field(description="The adapter the job starts from or works on.")
    parent_id: str | None = Field(description="The job this one belongs to.")
    devices: str | None = Field(description="The GPUs it is pinned to (CUDA_VISIBLE_DEVICES).")
    step: int | None
    total_steps: int | None
    progress: float | None = Field(description="0..1; 1 only once the outputs are on disk.")
    eta_seconds: float | None
    metrics: dict[str, Any] | None
    reason: str | None
    exit_code: int | None
    attempts: int
    cancel_requested: bool
    resumable: bool = Field(description="Its kind can resume after a stop or failure.")
    created_at: UtcDateTime
    started_at: UtcDateTime | None
    finished_at: UtcDateTime | None
    last_seq: int


def _kind_info(kind: JobKind) -> JobKindInfo:
    return JobKindInfo(
        name=kind.name,
        title=kind.title,
        description=kind.description,
        device=kind.device,
        outputs=kind.outputs,
        resumable=kind.resumable,
        refers_to=list(kind.refers_to),
        submittable=kind.submittable,
    )


def job_kinds() -> list[JobKindInfo]:
    """Every kind of job the server runs."""
    return [_kind_info(kind) for kind in JOB_KINDS.values()]


def to_job(row: JobRow) -> Job:
    """The API view of a job row."""
    kind = JOB_KINDS.get(row.kind)
    return Job(
        id=row.id,
        name=row.name,
        kind=row.kind,
        kind_title=kind.title if kind else row.kind,
        status=row.status,
        config=row.config,
        result=row.result,
        dataset_id=row.dataset_id,
        adapter_id=row.adapter_id,
        parent_id=row.parent_id,
        devices=row.devices,
        step=row.step,
        total_steps=row.total_steps,
        progress=row.progress,
        eta_seconds=row.eta_seconds,
        metrics=row.metrics,
        reason=row.reason,
        exit_code=row.exit_code,
        attempts=row.attempts or 0,
        cancel_requested=bool(row.cancel_requested),
        resumable=bool(kind and kind.resumable),
        created_at=as_utc(row.created_at),
        started_at=as_utc(row.started_at),
        finished_at=as_utc(row.finished_at),
        last_seq=row.last_seq or 0,
    )


def _not_found(job_id: str) -> NotFound:
    return NotFound(f"Job '{job_id}' does not exist.", code="job_not_found")


def start_scheduler(db: Database, settings: Settings) -> Scheduler:
    """Start the background scheduler (launches queued jobs, watches workers); ``.stop()`` it."""
    return Scheduler(db, settings).start()


# -- submitting ----------------------------------------------------------------------------------


def _validate_spec(kind: JobKind, raw: dict[str, Any]) -> BaseModel:
    try:
        return kind.spec.model_validate(raw)
    except ValidationError as exc:
        problems = [
            FieldProblem(
                loc=".".join(["config", *(str(part) for part in err["loc"])]),
                message=err["msg"],
            )
            for err in exc.errors()
        ]
        raise ConfigError(
            f"The {kind.name} spec has {len(problems)} problem(s).", problems=problems
        ) from None


def _queue(
    db: Database,
    settings: Settings,
    kind: JobKind,
    raw: dict[str, Any],
    *,
    name: str | None = None,
    dataset_id: str | None = None,
    adapter_id: str | None = None,
    parent_id: str | None = None,
) -> Job:
    spec = _validate_spec(kind, raw)
    refuse_remote_code(settings, spec)
    job_id = new_id()
    out = kind.output_dir(settings.data_dir, job_id)
    with db.write() as session:
        prepared = kind.prepare(session, settings, Submission(spec, job_id, out, name))
        if prepared.problems:
            raise ConfigError(
                f"The {kind.name} spec has {len(prepared.problems)} problem(s).",
                problems=prepared.problems,
            )
        row = store.add_job(
            session,
            job_id=job_id,
            kind=kind.name,
            name=prepared.name or name,
            config=prepared.config,
            dataset_id=prepared.dataset_id or dataset_id,
            adapter_id=prepared.adapter_id or adapter_id,
            parent_id=prepared.parent_id or parent_id,
            output_dir=str(out),
        )
    out.mkdir(parents=True, exist_ok=True)
    wake_schedulers()  # start it now, not at the scheduler's next round
    return to_job(row)


def submit_job(db: Database, settings: Settings, body: JobCreate) -> Job:
    """Queue a job of a kind people submit (``train`` by default).

    Raises:
        ConfigError: an unknown or server-only kind (422 ``unknown_job_kind`` at ``kind``), or
            a spec that fails validation, a cross-field rule or a reference
            (422 ``invalid_config``; ``errors[].loc`` like ``config.data.source``), or one
            that asks for remote code the server does not allow (422
            ``remote_code_not_allowed``, see ``jobs.remote_code``).
    """
    kind = get_kind(body.kind)
    if not kind.submittable:
        public = ", ".join(k.name for k in JOB_KINDS.values() if k.submittable)
        raise ConfigError(
            f"Jobs of kind '{kind.name}' are started by the server, not submitted.",
            code="unknown_job_kind",
            problems=[FieldProblem(loc="kind", message=f"must be one of: {public}")],
            fix=f"Submit one of: {public}.",
        )
    return _queue(db, settings, kind, body.config, name=body.name)


def submit_internal(
    db: Database,
    settings: Settings,
    kind: str,
    spec: dict[str, Any],
    *,
    name: str | None = None,
    dataset_id: str | None = None,
    adapter_id: str | None = None,
    parent_id: str | None = None,
) -> Job:
    """Queue a job the server starts itself (``validate``, ``demo_model``): same validation,
    any kind."""
    return _queue(
        db,
        settings,
        get_kind(kind),
        spec,
        name=name,
        dataset_id=dataset_id,
        adapter_id=adapter_id,
        parent_id=parent_id,
    )


# -- reading ---------------------------------------------------------------------------------------


def get_job(db: Database, job_id: str) -> Job:
    """One job (404 ``job_not_found``)."""
    with reading(db) as session:
        row = store.get_job(session, job_id)
    if row is None:
        raise _not_found(job_id)
    return to_job(row)


def _kinds_param(value: str | None) -> list[str] | None:
    if value is None:
        return None
    names = [part.strip() for part in value.split(",") if part.strip()]
    for name in names:
        get_kind(name, loc="kind")
    return names


def list_jobs(
    db: Database,
    status: str | None = None,
    *,
    kind: str | None = None,
    exclude_kind: str | None = None,
) -> list[Job]:
    """Jobs, newest first, optionally of one status and of (or not of) some kinds (comma lists).

    Raises ConfigError (422 ``invalid_status`` / ``unknown_job_kind``) for unknown names.
    """
    if status is not None and status not in store.JOB_STATUSES:
        raise ConfigError(
            f"Unknown job status '{status}'.",
            code="invalid_status",
            fix=f"Use one of: {', '.join(store.JOB_STATUSES)}.",
        )
    kinds, excluded = _kinds_param(kind), _kinds_param(exclude_kind)
    with reading(db) as session:
        rows = store.list_jobs(session, status, kinds=kinds, exclude_kinds=excluded)
    return [to_job(row) for row in rows]


def job_events(
    db: Database, job_id: str, since: int = 0, limit: int = 500
) -> tuple[list[dict[str, Any]], str]:
    """Events with ``seq > since`` as ``{seq, type, data, time}``, and the job's status now.

    The status is read in the same snapshot as the events, so when it is final the list holds
    every event up to the end.
    """
    with reading(db) as session:
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
            "time": as_utc(e.created_at).isoformat(),
        }
        for e in events
    ], status


def job_updates(db: Database, since: datetime) -> list[dict[str, Any]]:
    """``{job_id, kind, status, progress, step, total_steps}`` of active jobs and those changed
    since ``since``."""
    with reading(db) as session:
        rows = store.jobs_changed_since(session, since)
    return [
        {
            "job_id": r.id,
            "kind": r.kind,
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


def resume_job(db: Database, settings: Settings, job_id: str) -> Job:
    """Queue a stopped, interrupted or failed job again; it continues from its last complete
    checkpoint (or starts over when it has none), with the same id and ``attempts + 1``.

    Raises NotFound (404 ``job_not_found``), Conflict (409 ``job_not_resumable``: the job
    has not ended that way, or its kind does not resume) and ConfigError (422
    ``remote_code_not_allowed``: it was queued by a server that allowed remote code, this one
    does not).
    """
    with db.write() as session:
        row = store.lock_job(session, job_id)
        if row is None:
            raise _not_found(job_id)
        refuse_remote_code(settings, row.config)
        kind = JOB_KINDS.get(row.kind)
        if kind is None or not kind.resumable:
            raise Conflict(
                f"A {kind.title.lower() if kind else row.kind} cannot be resumed.",
                code="job_not_resumable",
                fix="Start it again instead.",
            )
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
    wake_schedulers()
    return to_job(row)


def _remove_job_dir(settings: Settings, output_dir: str | None) -> None:
    """Delete a job's folder, but only when it really is one of the data dir's job folders."""
    if not output_dir:
        return
    data_dir = Path(settings.data_dir).expanduser().resolve()
    target = Path(output_dir).expanduser().resolve()
    # A job row could in principle hold any path; never delete outside the job folders.
    if target.parent in {data_dir / root for root in OUTPUT_ROOTS}:
        shutil.rmtree(target, ignore_errors=True)


def delete_job(db: Database, settings: Settings, job_id: str) -> None:
    """Delete a job, its events, its folder and the adapter it trained.

    Adapters promoted from its checkpoints stay (they have their own files). Raises NotFound
    (404 ``job_not_found``) and Conflict (409 ``job_running`` while it runs, 409
    ``adapter_in_use`` while a queued or running job uses its adapter).
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
        for adapter in list_adapters(session, job_id=job_id):
            if adapter.source != "training":
                continue
            users = [j for j in jobs_using_adapter(session, adapter.id) if j != job_id]
            if users:
                raise Conflict(
                    f"The adapter of job '{job_id}' is in use by job {users[0]}.",
                    code="adapter_in_use",
                    fix="Wait until that job has ended, or cancel it, then delete this one.",
                )
            delete_adapter(session, adapter)
        output_dir = row.output_dir
        store.delete_job(session, row)
    _remove_job_dir(settings, output_dir)


# -- the event fan-out's reads -------------------------------------------------------------------


def job_heads(db: Database, job_ids: list[str]) -> dict[str, tuple[str, int]]:
    """``{job_id: (status, last_seq)}`` of those of ``job_ids`` that exist, in one cheap query.

    Every event of a job up to its ``last_seq`` is committed, so this says which jobs have new
    events and how far to read.
    """
    from loralab.store.events import event_heads

    with reading(db) as session:
        return event_heads(session, job_ids)


def new_job_events(db: Database, job_id: str, since: int, limit: int) -> list[dict[str, Any]]:
    """Events of a job with ``seq > since`` (at most ``limit``) as ``{seq, type, data, time}``.

    Like ``job_events`` without looking the job up: the caller has just read its head.
    """
    with reading(db) as session:
        events = events_after(session, job_id, since, limit)
    return [
        {
            "seq": e.seq,
            "type": e.type,
            "data": e.data,
            "time": as_utc(e.created_at).isoformat(),
        }
        for e in events
    ]
