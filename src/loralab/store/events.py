"""Job events: what a run reported (progress, metrics, logs, status), one row each, by ``seq``.

Each job numbers its events 1, 2, 3, ... with no gaps. ``add_events`` takes the next numbers
from ``JobRow.last_seq`` while the job row is locked (``lock_job``), so the server and the
worker can both write events for one job and a reader that sees event N also sees every event
before it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from loralab.store.tables import EventRow, JobRow, utcnow

__all__ = [
    "NewEvent",
    "add_events",
    "count_events",
    "delete_events",
    "events_after",
    "event_heads",
    "events_of_type",
    "last_events_of_type",
]


@dataclass(frozen=True)
class NewEvent:
    """An event not yet stored: its type, JSON data and when it happened."""

    type: str
    data: dict[str, Any] = field(default_factory=dict)
    time: datetime | None = None


def add_events(session: Session, job: JobRow, events: Iterable[NewEvent]) -> int:
    """Store ``events`` for ``job`` with the next seqs; returns the job's new ``last_seq``.

    ``job`` must have been loaded with ``lock_job`` in this transaction.
    """
    seq = job.last_seq or 0
    for event in events:
        seq += 1
        session.add(
            EventRow(
                job_id=job.id,
                seq=seq,
                type=event.type,
                data=event.data,
                created_at=event.time or utcnow(),
            )
        )
    job.last_seq = seq
    return seq


def events_after(
    session: Session, job_id: str, since: int = 0, limit: int | None = None
) -> list[EventRow]:
    """Events of a job with ``seq > since``, oldest first, at most ``limit``."""
    query = (
        select(EventRow)
        .where(EventRow.job_id == job_id, EventRow.seq > since)
        .order_by(EventRow.seq)
    )
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def event_heads(session: Session, job_ids: Collection[str]) -> dict[str, tuple[str, int]]:
    """``{job_id: (status, last_seq)}`` of those of ``job_ids`` that exist, in one query.

    Cheap (the primary key, two columns), so a server can ask a few times a second which of the
    jobs it streams have new events: a job's events up to ``last_seq`` are committed.
    """
    if not job_ids:
        return {}
    query = select(JobRow.id, JobRow.status, JobRow.last_seq).where(JobRow.id.in_(list(job_ids)))
    return {job_id: (status, last_seq or 0) for job_id, status, last_seq in session.execute(query)}


def events_of_type(session: Session, job_id: str, types: Sequence[str]) -> list[EventRow]:
    """Every event of the given types, oldest first."""
    query = (
        select(EventRow)
        .where(EventRow.job_id == job_id, EventRow.type.in_(list(types)))
        .order_by(EventRow.seq)
    )
    return list(session.scalars(query))


def last_events_of_type(
    session: Session, job_id: str, types: Sequence[str], limit: int
) -> list[EventRow]:
    """The newest ``limit`` events of the given types, oldest first."""
    query = (
        select(EventRow)
        .where(EventRow.job_id == job_id, EventRow.type.in_(list(types)))
        .order_by(EventRow.seq.desc())
        .limit(limit)
    )
    return list(reversed(list(session.scalars(query))))


def count_events(session: Session, job_id: str) -> int:
    """How many events a job has."""
    query = select(func.count()).select_from(EventRow).where(EventRow.job_id == job_id)
    return int(session.scalar(query) or 0)


def delete_events(session: Session, job_id: str) -> None:
    """Remove every event of a job."""
    session.execute(delete(EventRow).where(EventRow.job_id == job_id))
