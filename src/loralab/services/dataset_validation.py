"""Validating a stored dataset: now, in the request, or by a ``validate`` job in a worker.

Files up to ``INLINE_VALIDATION_BYTES`` are validated in the request. Bigger files and hub
datasets are validated by a job, so the request returns at once (status ``validating``); a big
file's first rows are read first, so a wrong mapping is still reported at once. Errors name the
file the person uploaded, never the stored path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from loralab.config import DATA_FORMATS, DataConfig, Settings
from loralab.data import open_dataset
from loralab.data import validate_dataset as run_validation
from loralab.errors import DataError, FieldProblem, LoralabError, NotFound
from loralab.services import jobs
from loralab.services.dataset_files import dataset_file
from loralab.store import Database
from loralab.store import datasets as store
from loralab.store.db import reading
from loralab.store.tables import DatasetRow

__all__ = [
    "INLINE_VALIDATION_BYTES",
    "check_opens",
    "data_config",
    "public_error",
    "validate_dataset",
    "validates_in_job",
]

# Bigger files are validated by a "validate" job, so the request returns at once.
INLINE_VALIDATION_BYTES = 20 * 1024 * 1024


def validates_in_job(row: DatasetRow) -> bool:
    """Whether the dataset is validated by a job (hub datasets, big files), not in the request."""
    return row.kind == "hub" or (row.size_bytes or 0) > INLINE_VALIDATION_BYTES


def data_config(row: DatasetRow, settings: Settings) -> DataConfig:
    """The ``DataConfig`` that reads the dataset as it is set up now.

    Until the person chooses a format or mapping, detection runs afresh on each validation.

    Raises:
        NotFound: the uploaded file is gone (404 ``dataset_file_gone``).
    """
    if row.kind == "hub":
        source = row.hub_id or ""
    else:
        path = dataset_file(settings, row)
        if path is None or not path.is_file():
            raise NotFound(f"The file of dataset '{row.name}' is gone.", code="dataset_file_gone")
        source = str(path)
    chosen = bool(row.mapping_chosen)
    return DataConfig(
        source=source,
        split=row.split or "train",
        subset=row.subset,
        format=row.format if chosen and row.format in DATA_FORMATS else "auto",
        field_mapping=dict(row.field_mapping or {}) if chosen else {},
        system_prompt=row.system_prompt,
    )


def public_error(exc: DataError, row: DatasetRow, cfg: DataConfig) -> DataError:
    """The error with the stored file's path replaced by the name the person knows."""
    if row.kind != "upload":
        return exc
    shown = row.original_filename or row.name
    path = Path(cfg.source)

    def clean(text: str | None) -> str | None:
        return text and text.replace(str(path), shown).replace(path.name, shown)

    exc.message = clean(exc.message) or exc.message
    exc.args = (exc.message,)
    exc.fix = clean(exc.fix)
    exc.problems = [
        FieldProblem(loc=p.loc, message=clean(p.message) or "", line=p.line, fix=clean(p.fix))
        for p in exc.problems
    ]
    return exc


def _is_mapping_error(exc: DataError) -> bool:
    return any(p.loc == "format" or p.loc.startswith("field_mapping") for p in exc.problems)


def _problem_dicts(exc: LoralabError) -> list[dict[str, Any]]:
    return [p.to_dict() for p in exc.problems]


def check_opens(row: DatasetRow, cfg: DataConfig) -> DataError | None:
    """Read the first rows: a mapping problem is returned, a file-level one raised."""
    try:
        open_dataset(cfg)
    except DataError as exc:
        exc = public_error(exc, row, cfg)
        if _is_mapping_error(exc):
            return exc
        raise exc from None
    return None


def _record(db: Database, row: DatasetRow, report: dict[str, Any] | None, **result: Any):
    with db.write() as session:
        return store.record_validation(session, row.id, report, **result) or row


def _record_invalid(db: Database, row: DatasetRow, exc: DataError) -> DatasetRow:
    return _record(db, row, None, status="invalid", error=exc.message, problems=_problem_dicts(exc))


def _validate_now(db: Database, row: DatasetRow, cfg: DataConfig) -> DatasetRow:
    """Validate in this thread and store the result; file-level errors propagate."""
    try:
        report = run_validation(cfg)
    except DataError as exc:
        exc = public_error(exc, row, cfg)
        if not _is_mapping_error(exc):
            raise exc from None
        return _record_invalid(db, row, exc)
    usable = report.valid_rows > 0
    return _record(
        db,
        row,
        report.model_dump(mode="json"),
        status="ready" if usable else "invalid",
        error=None if usable else f"None of the {report.total_rows} rows can be used.",
        format=report.format,
        field_mapping=report.field_mapping,
        fingerprint=report.fingerprint,
    )


def _queue_validation(db: Database, settings: Settings, row: DatasetRow, cfg: DataConfig) -> None:
    # The one call into the jobs service: the "validate" kind's spec is jobs.validate.ValidateSpec.
    spec = {"dataset_id": row.id, "data": cfg.model_dump(mode="json")}
    jobs.submit_internal(
        db, settings, "validate", spec, name=f"validate {row.name}", dataset_id=row.id
    )


def _validate_in_job(
    db: Database, settings: Settings, row: DatasetRow, cfg: DataConfig
) -> DatasetRow:
    if row.kind != "hub":
        problem = check_opens(row, cfg)
        if problem is not None:
            return _record_invalid(db, row, problem)
    _record(db, row, None, status="validating", error=None)
    _queue_validation(db, settings, row, cfg)
    with reading(db) as session:
        return store.get_dataset(session, row.id)


def validate_dataset(db: Database, settings: Settings, row: DatasetRow) -> DatasetRow:
    """Validate the dataset as it is set up now, in the request or by a job; store the result.

    A format or mapping that does not fit makes the dataset ``invalid`` with the problems.

    Raises:
        NotFound: the uploaded file is gone.
        DataError: the file cannot be read at all (422; nothing is stored).
    """
    cfg = data_config(row, settings)
    if validates_in_job(row):
        return _validate_in_job(db, settings, row, cfg)
    return _validate_now(db, row, cfg)
