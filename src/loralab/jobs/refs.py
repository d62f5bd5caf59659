"""References in job specs, resolved in one place, without the training stack.

A request never names a file on the server. Models are ``model:<id>`` (a registered folder),
``adapter:<id>`` (a LoRA adapter: its base model plus the adapter's files) or a Hugging Face id;
datasets are ``dataset:<id>`` or a hub dataset id; eval splits are split names. The memory
estimate, job submission and (next) the playground, evaluation and export all resolve through
here, so they accept the same references.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from loralab.config import Settings
from loralab.errors import FieldProblem
from loralab.store.tables import AdapterRow, DatasetRow, JobRow, ModelRow

__all__ = [
    "HUB_ID_PATTERN",
    "SPLIT_PATTERN",
    "ModelRef",
    "is_hub_id",
    "resolve_dataset_ref",
    "resolve_model_ref",
    "split_problem",
]

# "name" or "owner/name": letters, digits, '.', '_', '-'. Never a path.
HUB_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}(/[A-Za-z0-9][A-Za-z0-9._-]{0,95})?$"
# A split name ("test", "train[:10%]"), never a file.
SPLIT_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.:%+\[\]-]{0,127}$"
_HUB_ID = re.compile(HUB_ID_PATTERN)
_SPLIT = re.compile(SPLIT_PATTERN)
_FILE_SUFFIXES = (".json", ".jsonl", ".csv", ".parquet", ".txt", ".arrow", ".gz", ".zst")


def is_hub_id(value: str) -> bool:
    """Whether ``value`` reads as a hub repository id (and so never as a path)."""
    return bool(_HUB_ID.match(value))


@dataclass(frozen=True)
class ModelRef:
    """What a model reference names.

    Attributes:
        load: what a worker loads as the base model: a hub id or a registered folder.
        adapter_id, adapter_path: the adapter on top of it, for ``adapter:<id>``.
        model_id: the registered model, for ``model:<id>``.
    """

    load: str
    adapter_id: str | None = None
    adapter_path: str | None = None
    model_id: str | None = None


def _problem(loc: str, message: str, fix: str | None = None) -> FieldProblem:
    return FieldProblem(loc=loc, message=message, fix=fix)


def _adapter_ref(row: AdapterRow) -> ModelRef:
    return ModelRef(load=row.base_model, adapter_id=row.id, adapter_path=row.path)


def resolve_model_ref(
    session: Session, ref: str, *, loc: str = "model.name_or_path"
) -> tuple[ModelRef | None, list[FieldProblem]]:
    """Resolve ``model:<id>``, ``adapter:<id>`` or a hub id.

    ``model:<job-id>`` (the form earlier releases gave a run's adapter) still names the adapter
    that run produced. Returns the reference, or None with the problems at ``loc``.
    """
    from loralab.store.adapters import adapter_of_job, get_adapter

    fix = "Register the local folder on the Models page and use its model:<id>."
    if ref.startswith("adapter:"):
        row = get_adapter(session, ref.removeprefix("adapter:"))
        if row is None:
            return None, [
                _problem(loc, f"adapter '{ref}' does not exist", "See the Adapters page.")
            ]
        return _adapter_ref(row), []
    if ref.startswith("model:"):
        key = ref.removeprefix("model:")
        model = session.get(ModelRow, key)
        if model is not None and model.kind == "local":
            return ModelRef(load=model.path, model_id=model.id), []
        job = session.get(JobRow, key)
        adapter = adapter_of_job(session, key) if job is not None else None
        if adapter is not None:
            return _adapter_ref(adapter), []
        return None, [_problem(loc, f"model '{ref}' does not exist", fix)]
    if not is_hub_id(ref):
        message = "must be a registered model (model:<id>), an adapter (adapter:<id>) or a hub id"
        return None, [_problem(loc, message, fix)]
    return ModelRef(load=ref), []


def split_problem(split: str | None, loc: str) -> FieldProblem | None:
    """A problem when ``split`` is not a split name (files are never accepted there)."""
    if split is None or _SPLIT.match(split):
        return None
    return _problem(
        loc,
        "must be a split name such as 'test'; files are not accepted here",
        fix="Upload the evaluation file into the training data, or use eval_fraction.",
    )


def resolve_dataset_ref(
    session: Session,
    settings: Settings,
    data: dict[str, Any],
    *,
    loc: str = "data.source",
) -> tuple[str | None, list[FieldProblem]]:
    """Point ``data`` (a DataConfig dumped to JSON) at the registered dataset, in place.

    ``dataset:<id>`` becomes the stored file (or its hub id, split and subset) and takes the
    dataset's reviewed format, field mapping and system prompt unless ``data`` sets its own;
    a hub dataset id stays as it is. Run inside the write transaction that stores the job: the
    dataset row is read ``FOR SHARE``, so a concurrent delete waits and then sees the job.

    Returns:
        The dataset id (None for a hub id) and the problems found.
    """
    source = data["source"]
    if not source.startswith("dataset:"):
        if not is_hub_id(source) or source.lower().endswith(_FILE_SUFFIXES):
            return None, [
                _problem(
                    loc,
                    "must be a registered dataset (dataset:<id>) or a Hugging Face dataset id",
                    fix="Upload the file on the Datasets page and use its dataset:<id>.",
                )
            ]
        return None, []
    dataset_id = source.removeprefix("dataset:")
    row = session.get(DatasetRow, dataset_id, with_for_update={"read": True})
    if row is None:
        return None, [_problem(loc, f"dataset '{dataset_id}' does not exist")]
    if row.status == "invalid":
        return None, [
            _problem(
                loc,
                f"dataset '{row.name}' did not pass validation: {row.error or 'see its report'}",
                fix="Fix the field mapping on the Datasets page, or upload a corrected file.",
            )
        ]
    if row.kind == "hub":
        data["source"] = row.hub_id
        data["split"] = row.split or data["split"]
        data["subset"] = row.subset or data["subset"]
    else:
        folder = (Path(settings.data_dir).expanduser() / "datasets").resolve()
        path = (folder / (row.stored_name or "")).resolve()
        if not row.stored_name or path.parent != folder or not path.is_file():
            return None, [_problem(loc, f"the file of dataset '{row.name}' is gone")]
        data["source"] = str(path)
    # The dataset's reviewed mapping applies unless the spec sets its own.
    if data.get("format", "auto") == "auto" and row.format:
        data["format"] = row.format
    if not data.get("field_mapping") and row.field_mapping:
        data["field_mapping"] = dict(row.field_mapping)
    if data.get("system_prompt") is None:
        data["system_prompt"] = row.system_prompt
    return row.id, []
