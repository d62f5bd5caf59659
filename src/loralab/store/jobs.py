"""Job rows: create, find, lock, change status (with its ``status`` event), delete.

A job moves ``queued -> running -> completed | stopped | failed | interrupted``; a stopped,
interrupted or failed job can go back to ``queued`` to resume. Every status change is stored
together with a ``status`` event in the same transaction, so the event stream and the row agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from loralab.store.db import as_utc, new_id, reading
from loralab.store.events import NewEvent, add_events, delete_events
from loralab.store.tables import JobRow, utcnow

__all__ = [
    "ACTIVE_STATUSES",
    "FINAL_STATUSES",
    "JOB_STATUSES",
    "RESUMABLE_STATUSES",
    "add_job",
    "as_utc",
    "claim_queued_jobs",
    "count_running",
    "delete_job",
    "get_job",
    "has_queued",
    "jobs_changed_since",
    "list_jobs",
    "lock_job",
    "new_job_id",
    "reading",
    "running_jobs",
    "set_status",
]

JOB_STATUSES = ("queued", "running", "completed", "stopped", "failed", "interrupted")
ACTIVE_STATUSES = ("queued", "running")
FINAL_STATUSES = ("completed", "stopped", "failed", "interrupted")
RESUMABLE_STATUSES = ("stopped", "failed", "interrupted")


# Kept under the old names for callers that read jobs.
new_job_id = new_id


def add_job(
    session: Session,
    *,
    job_id: str,
    kind: str,
    config: dict[str, Any],
    name: str | None = None,
    dataset_id: str | None = None,
    adapter_id: str | None = None,
    parent_id: str | None = None,
    output_dir: str | None = None,
) -> JobRow:
    """Insert a queued job and its first ``status`` event."""
    job = JobRow(
        id=job_id,
        kind=kind,
        name=name,
        status="queued",
        config=config,
        dataset_id=dataset_id,
        adapter_id=adapter_id,
        parent_id=parent_id,
        output_dir=output_dir,
        cancel_requested=False,
        resume_requested=False,
        last_seq=0,
        attempts=0,
    )
    session.add(job)
    session.flush()
    add_events(session, job, [NewEvent("status", {"status": "queued", "attempt": 0})])
    return job


def get_job(session: Session, job_id: str) -> JobRow | None:
    """The job, or None."""
    return session.get(JobRow, job_id)


def lock_job(session: Session, job_id: str) -> JobRow | None:
    """The job, locked for this write transaction (PostgreSQL row lock; SQLite locks the file)."""
    query = select(JobRow).where(JobRow.id == job_id).with_for_update()
    return session.scalars(query).first()


def list_jobs(
    session: Session,
    status: str | None = None,
    *,
    kinds: Sequence[str] | None = None,
    exclude_kinds: Sequence[str] | None = None,
) -> list[JobRow]:
    """Jobs, newest first, optionally with one status and of (or not of) some kinds."""
    query = select(JobRow).order_by(JobRow.created_at.desc(), JobRow.id)
    if status:
        query = query.where(JobRow.status == status)
    return list(session.scalars(_kind_filter(query, kinds, exclude_kinds)))


def running_jobs(session: Session) -> list[JobRow]:
    """Every job whose status is ``running``."""
    return list(session.scalars(select(JobRow).where(JobRow.status == "running")))


def _kind_filter(query, kinds: Sequence[str] | None, exclude_kinds: Sequence[str] | None):
    if kinds is not None:
        query = query.where(JobRow.kind.in_(list(kinds)))
    if exclude_kinds:
        query = query.where(JobRow.kind.not_in(list(exclude_kinds)))
    return query


def count_running(
    session: Session,
    *,
    kinds: Sequence[str] | None = None,
    exclude_kinds: Sequence[str] | None = None,
) -> int:
    """How many jobs (of the given kinds, or not of ``exclude_kinds``) are running."""
    query = select(func.count()).select_from(JobRow).where(JobRow.status == "running")
    return int(session.scalar(_kind_filter(query, kinds, exclude_kinds)) or 0)


def has_queued(session: Session) -> bool:
    """Whether any job waits in the queue (a read, so idle polling takes no write lock)."""
    query = select(JobRow.id).where(JobRow.status == "queued").limit(1)
    return session.scalar(query) is not None


def jobs_changed_since(session: Session, since: datetime) -> list[JobRow]:
    """Jobs updated at or after ``since``, plus every active one (for the job-list stream)."""
    query = select(JobRow).where(
        or_(JobRow.updated_at >= since, JobRow.status.in_(ACTIVE_STATUSES))
    )
    return list(session.scalars(query))


def set_status(
    session: Session,
    job: JobRow,
    status: str,
    *,
    reason: str | None = None,
    exit_code: int | None = None,
    extra_events: list[NewEvent] | None = None,
) -> None:
    """Move a locked job to ``status`` and store the ``status`` event (after ``extra_events``)."""
    now = utcnow()
    job.status = status
    job.reason = reason
    job.exit_code = exit_code
    if status == "running":
        job.started_at = now
        job.finished_at = None
    elif status in FINAL_STATUSES:
        job.finished_at = now
        job.eta_seconds = None
    data: dict[str, Any] = {"status": status, "attempt": job.attempts}
    if reason is not None:
        data["reason"] = reason
    if exit_code is not None:
        data["exit_code"] = exit_code
    add_events(session, job, [*(extra_events or []), NewEvent("status", data, now)])


def claim_queued_jobs(
    session: Session,
    limit: int,
    *,
    kinds: Sequence[str] | None = None,
    exclude_kinds: Sequence[str] | None = None,
) -> list[JobRow]:
    """Move up to ``limit`` of the oldest queued jobs to ``running`` (attempt + 1) and return them.

    Run inside a write transaction; on PostgreSQL ``SKIP LOCKED`` lets two servers on one
    database claim different jobs instead of the same one.
    """
    if limit <= 0:
        return []
    query = select(JobRow).where(JobRow.status == "queued")
    query = (
        _kind_filter(query, kinds, exclude_kinds)
        .order_by(JobRow.created_at, JobRow.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    jobs = list(session.scalars(query))
    now = utcnow()
    for job in jobs:
        job.attempts = (job.attempts or 0) + 1
        job.pid = None
        job.heartbeat_at = now  # the worker gets a full timeout to start before it is missed
        job.cancel_requested = False
        job.cancel_requested_at = None
        set_status(session, job, "running")
    return jobs


def delete_job(session: Session, job: JobRow) -> None:
    """Remove the job and its events."""
    delete_events(session, job.id)
    session.delete(job)
