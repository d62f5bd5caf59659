"""Query functions for registered datasets (uploads and hub datasets).

Each takes the caller's ``Session``; the service opens the transaction (``db.write()`` or
``reading(db)``), as in ``store.jobs``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from loralab.errors import Conflict, NotFound
from loralab.store.db import new_id
from loralab.store.jobs import ACTIVE_STATUSES
from loralab.store.tables import DatasetRow, JobRow

__all__ = [
    "create_dataset",
    "dataset_problems",
    "dataset_report",
    "dataset_system_prompt",
    "delete_dataset",
    "get_dataset",
    "jobs_using_dataset",
    "list_datasets",
    "record_validation",
    "update_dataset",
]


def _not_found(dataset_id: str) -> NotFound:
    return NotFound(f"Dataset '{dataset_id}' does not exist.", code="dataset_not_found")


def dataset_report(row: DatasetRow) -> dict[str, Any] | None:
    """The stored validation report, or None."""
    return dict(row.report) if row.report else None


def dataset_system_prompt(row: DatasetRow) -> str | None:
    """The system prompt the dataset is rendered and validated with."""
    return row.system_prompt


def dataset_problems(row: DatasetRow) -> list[dict[str, Any]]:
    """Why the dataset is invalid, as ``FieldProblem.to_dict()`` entries (may be empty)."""
    return list(row.problems or [])


def create_dataset(session: Session, **values: Any) -> DatasetRow:
    """Insert a dataset row; ``values`` are DatasetRow columns (``id`` is generated if absent)."""
    values.setdefault("id", new_id())
    values.setdefault("field_mapping", {})
    values.setdefault("mapping_chosen", False)
    row = DatasetRow(**values)
    session.add(row)
    session.flush()
    return row


def get_dataset(session: Session, dataset_id: str) -> DatasetRow:
    """The dataset, or NotFound (``dataset_not_found``)."""
    row = session.get(DatasetRow, dataset_id)
    if row is None:
        raise _not_found(dataset_id)
    return row


def list_datasets(session: Session) -> list[DatasetRow]:
    """Every dataset, newest first."""
    stmt = select(DatasetRow).order_by(DatasetRow.created_at.desc(), DatasetRow.id)
    return list(session.scalars(stmt))


def update_dataset(session: Session, dataset_id: str, **values: Any) -> DatasetRow:
    """Set DatasetRow columns (``name``, ``format``, ``system_prompt``, ``mapping_chosen`` ...)."""
    row = get_dataset(session, dataset_id)
    for key, value in values.items():
        setattr(row, key, value)
    session.flush()
    return row


def record_validation(
    session: Session,
    dataset_id: str,
    report: dict[str, Any] | None,
    *,
    status: str,
    error: str | None,
    row_count: int | None = None,
    format: str | None = None,
    field_mapping: dict[str, str] | None = None,
    fingerprint: str | None = None,
    problems: list[dict[str, Any]] | None = None,
) -> DatasetRow | None:
    """Store a validation result (the jobs worker calls this after a "validate" job).

    ``status`` is ``ready``, ``invalid`` (or ``validating`` while a job runs); ``report`` is
    ``ValidationReport.model_dump(mode="json")``. ``row_count`` and ``fingerprint`` default to
    the report's; ``format`` and ``field_mapping`` are the resolved ones, kept when not given;
    ``problems`` (``FieldProblem.to_dict()`` entries) say what to fix when there is no report
    and replace the earlier ones. The system prompt and ``mapping_chosen`` are kept.
    Returns None when the dataset was deleted meanwhile.
    """
    row = session.get(DatasetRow, dataset_id)
    if row is None:
        return None
    row.status = status
    row.error = error
    row.report = dict(report) if report else None
    row.problems = list(problems) if problems else None
    if row_count is None and report is not None:
        row_count = report.get("total_rows")
    row.row_count = row_count
    if fingerprint is None and report is not None:
        fingerprint = report.get("fingerprint")
    row.fingerprint = fingerprint
    if format is not None:
        row.format = format
    if field_mapping is not None:
        row.field_mapping = dict(field_mapping)
    session.flush()
    return row


def jobs_using_dataset(session: Session, dataset_id: str) -> list[str]:
    """Ids of queued or running jobs that use the dataset."""
    stmt = select(JobRow.id).where(
        JobRow.dataset_id == dataset_id, JobRow.status.in_(ACTIVE_STATUSES)
    )
    return list(session.scalars(stmt))


def delete_dataset(session: Session, dataset_id: str) -> DatasetRow:
    """Delete the row (not the file) unless a queued or running job uses it (409)."""
    # FOR UPDATE (PostgreSQL) makes a concurrent job insert wait for, then fail on, the delete.
    row = session.scalars(
        select(DatasetRow).where(DatasetRow.id == dataset_id).with_for_update()
    ).first()
    if row is None:
        raise _not_found(dataset_id)
    busy = jobs_using_dataset(session, dataset_id)
    if busy:
        raise Conflict(
            f"Dataset '{row.name}' is used by {len(busy)} queued or running job(s).",
            code="dataset_in_use",
            fix="Cancel or wait for the job(s) first: " + ", ".join(busy),
        )
    session.delete(row)
    session.flush()
    return row
