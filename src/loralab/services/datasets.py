"""Datasets: register an uploaded file or a hub dataset, list, read and delete them.

Uploaded files live in ``data_dir/datasets/<id><ext>``; the name the user's file had is kept as
display metadata only. A file that cannot be read at all (empty, not UTF-8, not Parquet, not a
table) is refused with a 422 and nothing is kept. A file that can be read is stored with its
validation report: ``ready`` when at least one row is usable, else ``invalid`` with the reason,
so a wrong field mapping can be fixed (``services.dataset_updates``). How and where a dataset
is validated is ``services.dataset_validation``; its preview is ``services.dataset_preview``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from loralab.config import Settings, StrictModel
from loralab.data import ValidationReport
from loralab.services import UtcDateTime, hub
from loralab.services.dataset_files import dataset_file, datasets_dir
from loralab.services.dataset_validation import validate_dataset
from loralab.services.uploads import check_upload_content, check_upload_name, display_name
from loralab.store import Database
from loralab.store import datasets as store
from loralab.store.db import new_id, reading
from loralab.store.tables import DatasetRow

__all__ = [
    "Dataset",
    "HubDatasetIn",
    "Problem",
    "create_upload",
    "dataset_file",
    "datasets_dir",
    "delete_dataset",
    "get_dataset",
    "list_datasets",
    "register_hub_dataset",
    "to_dataset",
]

_SUBSET = r"^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,127}$"

Status = Literal["validating", "ready", "invalid"]


class Problem(BaseModel):
    """One problem at one place: a field (``field_mapping.answer``), a file line, a column."""

    loc: str
    message: str
    line: int | None = None
    fix: str | None = None


class Dataset(BaseModel):
    """A registered dataset: an uploaded file or a hub dataset, with its validation."""

    id: str
    name: str
    kind: Literal["upload", "hub"]
    original_filename: str | None = Field(description="The uploaded file's name, for display.")
    hub_id: str | None
    split: str | None
    subset: str | None
    size_bytes: int | None
    status: Status
    format: str | None = Field(description="The resolved format, detected unless chosen.")
    field_mapping: dict[str, str] = Field(description="Format field -> column.")
    system_prompt: str | None
    row_count: int | None
    invalid_rows: int | None = Field(
        default=None, description="Rows that training will skip; the report says why, by line."
    )
    error: str | None = Field(description="Why the dataset is invalid.")
    problems: list[Problem] = Field(default_factory=list, description="What to fix, by field.")
    report: ValidationReport | None = Field(
        default=None, description="The validation report (single-dataset reads only)."
    )
    created_at: UtcDateTime
    updated_at: UtcDateTime


class HubDatasetIn(StrictModel):
    """A Hugging Face hub dataset to register."""

    hub_id: str = Field(pattern=hub.HUB_ID_PATTERN, description="e.g. mlabonne/FineTome-100k")
    split: str = Field(default="train", pattern=hub.SPLIT_PATTERN)
    subset: str | None = Field(default=None, pattern=_SUBSET)
    name: str | None = Field(default=None, min_length=1, max_length=255)


def to_dataset(row: DatasetRow, *, with_report: bool = False) -> Dataset:
    """The API model of a dataset row; ``with_report`` adds the full validation report."""
    report = None
    raw = store.dataset_report(row)
    if with_report and raw:
        try:
            report = ValidationReport.model_validate(raw)
        except ValidationError:
            report = None  # written by an older version; the summary fields still hold
    if report is not None and row.kind == "upload":
        report.source = f"dataset:{row.id}"  # the reference to use, not a path on the server
    error = row.error
    if error and row.stored_name:
        error = error.replace(row.stored_name, row.original_filename or row.name)
    status = row.status if row.status in ("ready", "invalid") else "validating"
    return Dataset(
        id=row.id,
        name=row.name,
        kind="hub" if row.kind == "hub" else "upload",
        original_filename=row.original_filename,
        hub_id=row.hub_id,
        split=row.split,
        subset=row.subset,
        size_bytes=row.size_bytes,
        status=status,
        format=row.format,
        field_mapping=dict(row.field_mapping or {}),
        system_prompt=store.dataset_system_prompt(row),
        row_count=row.row_count,
        invalid_rows=raw.get("invalid_rows") if raw else None,
        error=error,
        problems=[Problem(**p) for p in store.dataset_problems(row)],
        report=report,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def list_datasets(db: Database) -> list[Dataset]:
    """Every dataset, newest first (without the full reports)."""
    with reading(db) as session:
        rows = store.list_datasets(session)
    return [to_dataset(row) for row in rows]


def get_dataset(db: Database, dataset_id: str) -> Dataset:
    """One dataset with its validation report (404 ``dataset_not_found``)."""
    with reading(db) as session:
        row = store.get_dataset(session, dataset_id)
    return to_dataset(row, with_report=True)


def _create_row(db: Database, **values) -> DatasetRow:
    with db.write() as session:
        return store.create_dataset(session, **values)


def create_upload(
    db: Database,
    settings: Settings,
    *,
    temp_path: Path,
    original_filename: str,
    size: int,
    name: str | None = None,
) -> Dataset:
    """Register a file the API received into ``temp_path`` (inside ``datasets_dir``).

    Raises:
        Unsupported: a bad extension (415 ``unsupported_file``).
        DataError: empty (``empty_file``), not UTF-8 or fake Parquet (``unsupported_file``), or
            unreadable as a table (``invalid_data``); all 422, and nothing is kept.
    """
    try:
        ext = check_upload_name(original_filename)
        check_upload_content(temp_path, ext)
        dataset_id = new_id()
        final = datasets_dir(settings) / f"{dataset_id}{ext}"
        temp_path.replace(final)
    except BaseException:
        temp_path.unlink(missing_ok=True)
        raise
    clean_name = (name or "").strip()[:255] or display_name(original_filename)
    row = _create_row(
        db,
        id=dataset_id,
        name=clean_name,
        kind="upload",
        stored_name=final.name,
        original_filename=original_filename.replace("\x00", "")[:255],
        size_bytes=size,
        status="validating",
    )
    try:
        row = validate_dataset(db, settings, row)
    except BaseException:
        with db.write() as session:
            store.delete_dataset(session, row.id)
        final.unlink(missing_ok=True)
        raise
    return to_dataset(row, with_report=True)


def register_hub_dataset(db: Database, settings: Settings, body: HubDatasetIn) -> Dataset:
    """Register a hub dataset by id, split and subset; a job reads and validates it.

    Raises:
        HubUnavailable: the hub cannot be reached and the dataset is not cached (503).
        LoralabError: no such dataset on the hub (422 ``hub_dataset_not_found``), or gated.
    """
    hub.check_dataset(body.hub_id)
    label = body.hub_id + (f" ({body.subset})" if body.subset else "") + f" [{body.split}]"
    row = _create_row(
        db,
        name=((body.name or "").strip() or label)[:255],
        kind="hub",
        hub_id=body.hub_id,
        split=body.split,
        subset=body.subset,
        status="validating",
    )
    return to_dataset(validate_dataset(db, settings, row), with_report=True)


def delete_dataset(db: Database, settings: Settings, dataset_id: str) -> None:
    """Delete a dataset and its file (409 ``dataset_in_use`` while a job uses it)."""
    with db.write() as session:
        row = store.delete_dataset(session, dataset_id)
    path = dataset_file(settings, row)
    if path is not None:
        path.unlink(missing_ok=True)
