"""Datasets: register an uploaded file or a hub dataset, validate it, preview it, delete it.

Uploaded files live in ``data_dir/datasets/<id><ext>``; the name the user's file had is kept as
display metadata only. A file that cannot be read at all (empty, not UTF-8, not Parquet, not a
table) is refused with a 422 and nothing is kept. A file that can be read is stored with its
validation report: ``ready`` when at least one row is usable, else ``invalid`` with the reason,
so a wrong field mapping can be fixed with ``update_dataset``. Files over
``INLINE_VALIDATION_BYTES`` and hub datasets are validated by a ``validate`` job instead.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from loralab.config import DATA_FORMATS, DataConfig, Settings, StrictModel
from loralab.data import PreviewSample, ValidationReport, open_dataset, preview_samples
from loralab.data import validate_dataset as run_validation
from loralab.errors import DataError, FieldProblem, LoralabError, NotFound, Unsupported
from loralab.services import UtcDateTime, hub
from loralab.services.uploads import check_upload_content, check_upload_name, display_name
from loralab.store import Database
from loralab.store import datasets as store
from loralab.store.tables import DatasetRow

__all__ = [
    "INLINE_VALIDATION_BYTES",
    "Dataset",
    "DatasetPreview",
    "DatasetUpdate",
    "HubDatasetIn",
    "Problem",
    "create_upload",
    "dataset_file",
    "datasets_dir",
    "delete_dataset",
    "get_dataset",
    "list_datasets",
    "preview_dataset",
    "register_hub_dataset",
    "update_dataset",
]

# Bigger files are validated by a "validate" job, so the request returns at once.
INLINE_VALIDATION_BYTES = 20 * 1024 * 1024
_SPLIT = r"^[A-Za-z0-9_][A-Za-z0-9_.:%+\[\]-]{0,63}$"
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
    split: str = Field(default="train", pattern=_SPLIT)
    subset: str | None = Field(default=None, pattern=_SUBSET)
    name: str | None = Field(default=None, min_length=1, max_length=255)


class DatasetUpdate(StrictModel):
    """Changes to a dataset; a changed format, mapping or system prompt re-validates it."""

    name: str | None = Field(default=None, min_length=1, max_length=255)
    format: Literal[DATA_FORMATS] | None = None  # type: ignore[valid-type]
    field_mapping: dict[str, str] | None = Field(default=None, max_length=32)
    system_prompt: str | None = Field(default=None, max_length=20_000)


class DatasetPreview(BaseModel):
    """The first rows rendered as training will see them, trained-on text marked."""

    samples: list[PreviewSample]
    format: str | None
    field_mapping: dict[str, str]
    template: str = Field(description="Which chat template rendered the samples.")


# --- reading --------------------------------------------------------------------------------


def _to_dataset(row: DatasetRow, *, with_report: bool = False) -> Dataset:
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
    return [_to_dataset(row) for row in store.list_datasets(db)]


def get_dataset(db: Database, dataset_id: str) -> Dataset:
    """One dataset with its validation report (404 ``dataset_not_found``)."""
    return _to_dataset(store.get_dataset(db, dataset_id), with_report=True)


def datasets_dir(settings: Settings) -> Path:
    """The folder that holds uploaded files."""
    return (settings.data_dir.expanduser() / "datasets").resolve()


def dataset_file(settings: Settings, row: DatasetRow) -> Path | None:
    """The stored file of an uploaded dataset (never outside ``datasets_dir``), or None."""
    if row.kind != "upload" or not row.stored_name:
        return None
    folder = datasets_dir(settings)
    path = (folder / row.stored_name).resolve()
    return path if path.parent == folder else None


# --- validating ---------------------------------------------------------------------------------


def _data_config(row: DatasetRow, settings: Settings) -> DataConfig:
    if row.kind == "hub":
        source = row.hub_id or ""
    else:
        path = dataset_file(settings, row)
        if path is None or not path.is_file():
            raise NotFound(f"The file of dataset '{row.name}' is gone.", code="dataset_file_gone")
        source = str(path)
    return DataConfig(
        source=source,
        split=row.split or "train",
        subset=row.subset,
        format=row.format if row.format in DATA_FORMATS and not _auto(row) else "auto",
        field_mapping=dict(row.field_mapping or {}) if not _auto(row) else {},
        system_prompt=store.dataset_system_prompt(row),
    )


def _auto(row: DatasetRow) -> bool:
    # Until the person sets a format or mapping, detection runs afresh on each validation.
    return not bool((row.report or {}).get(store.CHOSEN_KEY))


def _is_mapping_error(exc: DataError) -> bool:
    return any(p.loc == "format" or p.loc.startswith("field_mapping") for p in exc.problems)


def _problems(exc: LoralabError) -> list[dict[str, Any]]:
    return [p.to_dict() for p in exc.problems]


def _public(exc: DataError, row: DatasetRow, cfg: DataConfig) -> DataError:
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


def _validate_now(db: Database, row: DatasetRow, cfg: DataConfig) -> DatasetRow:
    """Validate in this thread and store the result; file-level errors propagate."""
    try:
        report = run_validation(cfg)
    except DataError as exc:
        exc = _public(exc, row, cfg)
        if not _is_mapping_error(exc):
            raise exc from None
        return (
            store.record_validation(
                db, row.id, None, status="invalid", error=exc.message, problems=_problems(exc)
            )
            or row
        )
    usable = report.valid_rows > 0
    return (
        store.record_validation(
            db,
            row.id,
            report.model_dump(mode="json"),
            status="ready" if usable else "invalid",
            error=None if usable else f"None of the {report.total_rows} rows can be used.",
            format=report.format,
            field_mapping=report.field_mapping,
            fingerprint=report.fingerprint,
        )
        or row
    )


def _check_opens(row: DatasetRow, cfg: DataConfig) -> DataError | None:
    """Read the first rows: a mapping problem is returned, a file-level one raised."""
    try:
        open_dataset(cfg)
    except DataError as exc:
        exc = _public(exc, row, cfg)
        if _is_mapping_error(exc):
            return exc
        raise exc from None
    return None


def _submit_validation(db: Database, settings: Settings, row: DatasetRow, cfg: DataConfig):
    submit = _jobs_submit_task()
    if submit is None:
        return None
    config = {"dataset_id": row.id, "data": cfg.model_dump(mode="json")}
    return submit(db, settings, "validate", config, name=f"validate {row.name}", dataset_id=row.id)


def _jobs_submit_task() -> Callable[..., Any] | None:
    try:
        from loralab.services import jobs
    except ModuleNotFoundError as exc:  # the jobs service is optional until installed
        if exc.name != "loralab.services.jobs":
            raise
        return None
    return getattr(jobs, "submit_task", None)


def _validate(db: Database, settings: Settings, row: DatasetRow, *, big: bool) -> DatasetRow:
    cfg = _data_config(row, settings)
    if big or row.kind == "hub":
        problem = _check_opens(row, cfg) if row.kind != "hub" else None
        if problem is not None:
            return (
                store.record_validation(
                    db,
                    row.id,
                    None,
                    status="invalid",
                    error=problem.message,
                    problems=_problems(problem),
                )
                or row
            )
        store.record_validation(db, row.id, None, status="validating", error=None)
        if _submit_validation(db, settings, row, cfg) is not None:
            return store.get_dataset(db, row.id)
        if row.kind == "hub":
            return (
                store.record_validation(
                    db,
                    row.id,
                    None,
                    status="invalid",
                    error="Hub datasets are validated by a job, and this server runs no jobs.",
                )
                or row
            )
    return _validate_now(db, row, cfg)


# --- use cases ------------------------------------------------------------------------------------


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
        dataset_id = store.new_id()
        final = datasets_dir(settings) / f"{dataset_id}{ext}"
        temp_path.replace(final)
    except BaseException:
        temp_path.unlink(missing_ok=True)
        raise
    clean_name = (name or "").strip()[:255] or display_name(original_filename)
    row = store.create_dataset(
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
        row = _validate(db, settings, row, big=size > INLINE_VALIDATION_BYTES)
    except BaseException:
        store.delete_dataset(db, row.id)
        final.unlink(missing_ok=True)
        raise
    return _to_dataset(row, with_report=True)


def register_hub_dataset(db: Database, settings: Settings, body: HubDatasetIn) -> Dataset:
    """Register a hub dataset by id, split and subset; a job reads and validates it.

    Raises:
        HubUnavailable: the hub cannot be reached and the dataset is not cached (503).
        LoralabError: no such dataset on the hub (422 ``hub_dataset_not_found``), or gated.
    """
    hub.check_dataset(body.hub_id)
    label = body.hub_id + (f" ({body.subset})" if body.subset else "") + f" [{body.split}]"
    row = store.create_dataset(
        db,
        name=((body.name or "").strip() or label)[:255],
        kind="hub",
        hub_id=body.hub_id,
        split=body.split,
        subset=body.subset,
        status="validating",
    )
    return _to_dataset(_validate(db, settings, row, big=True), with_report=True)


def update_dataset(
    db: Database, settings: Settings, dataset_id: str, body: DatasetUpdate
) -> Dataset:
    """Rename, or change the format, mapping or system prompt and validate again.

    Raises:
        NotFound: no such dataset.
        Conflict: it is being validated (409 ``dataset_validating``).
        DataError: the new format or mapping does not fit the columns (422; nothing changes).
    """
    row = store.get_dataset(db, dataset_id)
    changes = body.model_dump(exclude_unset=True)
    if "name" in changes and changes["name"] is not None:
        row = store.update_dataset(db, dataset_id, name=changes.pop("name").strip() or row.name)
    changes.pop("name", None)
    if not changes:
        return _to_dataset(row, with_report=True)
    if row.status == "validating":
        raise LoralabError(
            f"Dataset '{row.name}' is being validated.",
            code="dataset_validating",
            status=409,
            fix="Wait for the validation to finish, then change it.",
        )
    cfg = _data_config(row, settings)
    if "format" in changes or "field_mapping" in changes:
        cfg.format = changes.get("format") or cfg.format
        cfg.field_mapping = changes.get("field_mapping") or {}
    if "system_prompt" in changes:
        cfg.system_prompt = changes["system_prompt"] or None
    problem = _check_opens(row, cfg) if row.kind == "upload" else None
    if problem is not None:
        raise problem  # the person's new mapping is wrong: say so and keep the old one
    row = store.update_dataset(
        db,
        dataset_id,
        format=cfg.format if cfg.format != "auto" else row.format,
        field_mapping=dict(cfg.field_mapping) if cfg.field_mapping else row.field_mapping,
        system_prompt=cfg.system_prompt,
        chosen=cfg.format != "auto" or bool(cfg.field_mapping),
    )
    big = row.kind == "hub" or (row.size_bytes or 0) > INLINE_VALIDATION_BYTES
    return _to_dataset(_validate(db, settings, row, big=big), with_report=True)


def delete_dataset(db: Database, settings: Settings, dataset_id: str) -> None:
    """Delete a dataset and its file (409 ``dataset_in_use`` while a job uses it)."""
    row = store.delete_dataset(db, dataset_id)
    path = dataset_file(settings, row)
    if path is not None:
        path.unlink(missing_ok=True)


def preview_dataset(
    db: Database,
    settings: Settings,
    dataset_id: str,
    *,
    n: int = 3,
    model: str | None = None,
    max_seq_length: int | None = None,
) -> DatasetPreview:
    """The first ``n`` usable rows rendered with ``model``'s chat template (ChatML without).

    Raises:
        NotFound: no such dataset or model.
        Unsupported: a hub dataset (its rows are read by jobs, not by the server).
        DataError: the format or mapping does not fit (422, with the fields to fix).
        ModelError: the model has no chat template or tokenizer.json.
    """
    row = store.get_dataset(db, dataset_id)
    if row.kind == "hub":
        raise Unsupported(
            "Previews of hub datasets are not available yet; see the validation report.",
            code="preview_unavailable",
        )
    cfg = _data_config(row, settings)
    template, tokenizer = None, None
    if model:
        from loralab.services.models import load_template_and_tokenizer

        template, tokenizer = load_template_and_tokenizer(db, model)
    try:
        samples = preview_samples(
            cfg, n=n, chat_template=template, tokenizer=tokenizer, max_seq_length=max_seq_length
        )
    except DataError as exc:
        raise _public(exc, row, cfg) from None
    origin = samples[0].template if samples else ("ChatML" if template is None else "model")
    opened_format = cfg.format if cfg.format != "auto" else row.format
    return DatasetPreview(
        samples=samples,
        format=opened_format,
        field_mapping=dict(cfg.field_mapping or row.field_mapping or {}),
        template=origin,
    )
