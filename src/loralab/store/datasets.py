"""Query functions for registered datasets (uploads and hub datasets).

Three things have no column of their own yet and ride in the ``report`` JSON under keys that
start with ``_``: the dataset's ``system_prompt``, whether the person chose the format and
mapping (``_chosen``), and the structured problems of an invalid dataset (``_problems``). They
are read and written only through the functions here; ``dataset_report`` leaves them out.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from loralab.errors import Conflict, NotFound
from loralab.store.db import Database
from loralab.store.tables import DatasetRow, JobRow

__all__ = [
    "ACTIVE_JOB_STATUSES",
    "CHOSEN_KEY",
    "create_dataset",
    "dataset_problems",
    "dataset_report",
    "dataset_system_prompt",
    "delete_dataset",
    "get_dataset",
    "jobs_using_dataset",
    "list_datasets",
    "new_id",
    "reading",
    "record_validation",
    "update_dataset",
]

ACTIVE_JOB_STATUSES = ("queued", "running")
_SYSTEM_PROMPT_KEY = "_system_prompt"
CHOSEN_KEY = "_chosen"
_PROBLEMS_KEY = "_problems"
_KEPT_KEYS = (_SYSTEM_PROMPT_KEY, CHOSEN_KEY)  # survive a new validation result


@contextmanager
def reading(db: Database) -> Iterator[Session]:
    """``db.read()`` whose rows stay loaded after the block (its closing rollback would expire
    them), so callers can use them detached."""
    with db.read() as session:
        try:
            yield session
        finally:
            session.expunge_all()


def new_id() -> str:
    """A fresh 32-char hex id."""
    return uuid.uuid4().hex


def dataset_report(row: DatasetRow) -> dict[str, Any] | None:
    """The stored validation report, without the bookkeeping keys."""
    if not row.report:
        return None
    report = {k: v for k, v in row.report.items() if not k.startswith("_")}
    return report or None


def dataset_system_prompt(row: DatasetRow) -> str | None:
    """The system prompt the dataset is rendered and validated with."""
    return (row.report or {}).get(_SYSTEM_PROMPT_KEY)


def dataset_problems(row: DatasetRow) -> list[dict[str, Any]]:
    """Why the dataset is invalid, as ``FieldProblem.to_dict()`` entries (may be empty)."""
    return list((row.report or {}).get(_PROBLEMS_KEY) or [])


def _pack_report(
    report: dict[str, Any] | None,
    *,
    old: dict[str, Any] | None = None,
    problems: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any] | None:
    out = {k: v for k, v in (report or {}).items() if not k.startswith("_")}
    for key in _KEPT_KEYS:
        if (old or {}).get(key) is not None:
            out[key] = old[key]  # type: ignore[index]
    for key, value in extra.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    if problems:
        out[_PROBLEMS_KEY] = problems
    return out or None


def create_dataset(db: Database, *, system_prompt: str | None = None, **values: Any) -> DatasetRow:
    """Insert a dataset row; ``values`` are DatasetRow columns (``id`` is generated if absent)."""
    values.setdefault("id", new_id())
    values.setdefault("field_mapping", {})
    values["report"] = _pack_report(values.get("report"), **{_SYSTEM_PROMPT_KEY: system_prompt})
    with db.write() as session:
        row = DatasetRow(**values)
        session.add(row)
    return row


def get_dataset(db: Database, dataset_id: str) -> DatasetRow:
    """The dataset, or NotFound."""
    with reading(db) as session:
        row = session.get(DatasetRow, dataset_id)
    if row is None:
        raise NotFound(f"Dataset '{dataset_id}' does not exist.", code="dataset_not_found")
    return row


def list_datasets(db: Database) -> list[DatasetRow]:
    """Every dataset, newest first."""
    with reading(db) as session:
        stmt = select(DatasetRow).order_by(DatasetRow.created_at.desc(), DatasetRow.id)
        return list(session.scalars(stmt))


_UNSET: Any = object()


def update_dataset(
    db: Database,
    dataset_id: str,
    *,
    system_prompt: str | None = _UNSET,
    chosen: bool = _UNSET,
    **values: Any,
) -> DatasetRow:
    """Set columns on a dataset, and its system prompt and "format chosen by the person" flag."""
    with db.write() as session:
        row = session.get(DatasetRow, dataset_id)
        if row is None:
            raise NotFound(f"Dataset '{dataset_id}' does not exist.", code="dataset_not_found")
        for key, value in values.items():
            setattr(row, key, value)
        extra: dict[str, Any] = {}
        if system_prompt is not _UNSET:
            extra[_SYSTEM_PROMPT_KEY] = system_prompt
        if chosen is not _UNSET:
            extra[CHOSEN_KEY] = True if chosen else None
        if extra:
            old = dict(row.report or {})
            row.report = _pack_report(old, old=old, problems=dataset_problems(row) or None, **extra)
    return row


def record_validation(
    db: Database,
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
    ``problems`` (``FieldProblem.to_dict()`` entries) say what to fix when there is no report.
    Returns None when the dataset was deleted meanwhile.
    """
    with db.write() as session:
        row = session.get(DatasetRow, dataset_id)
        if row is None:
            return None
        row.status = status
        row.error = error
        row.report = _pack_report(report, old=row.report, problems=problems)
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
    return row


def jobs_using_dataset(db: Database, dataset_id: str) -> list[str]:
    """Ids of queued or running jobs that use the dataset."""
    with reading(db) as session:
        stmt = select(JobRow.id).where(
            JobRow.dataset_id == dataset_id, JobRow.status.in_(ACTIVE_JOB_STATUSES)
        )
        return list(session.scalars(stmt))


def delete_dataset(db: Database, dataset_id: str) -> DatasetRow:
    """Delete the row (not the file) unless a queued or running job uses it (409)."""
    with db.write() as session:
        # FOR UPDATE (PostgreSQL) makes a concurrent job insert wait for, then fail on, the delete.
        row = session.scalars(
            select(DatasetRow).where(DatasetRow.id == dataset_id).with_for_update()
        ).first()
        if row is None:
            raise NotFound(f"Dataset '{dataset_id}' does not exist.", code="dataset_not_found")
        busy = list(
            session.scalars(
                select(JobRow.id).where(
                    JobRow.dataset_id == dataset_id, JobRow.status.in_(ACTIVE_JOB_STATUSES)
                )
            )
        )
        if busy:
            raise Conflict(
                f"Dataset '{row.name}' is used by {len(busy)} queued or running job(s).",
                code="dataset_in_use",
                fix="Cancel or wait for the job(s) first: " + ", ".join(busy),
            )
        session.delete(row)
    return row
