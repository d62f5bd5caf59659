"""References in a submitted RunConfig, resolved on the server.

``data.source: "dataset:<id>"`` becomes the registered dataset's stored file (or its hub id,
split and subset), and takes the dataset's reviewed format, field mapping and system prompt
unless the config sets its own; ``model.name_or_path: "model:<id>"`` becomes the registered
local folder. Anything else must be a Hugging Face id: a request never names a file on the
server, so it can never point a worker at an arbitrary path.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from loralab.config import Settings
from loralab.errors import FieldProblem
from loralab.store.datasets import dataset_system_prompt
from loralab.store.tables import DatasetRow, ModelRow

__all__ = ["resolve_run_refs"]

# A hub id: "name" or "owner/name", letters, digits, '.', '_', '-'; never a path.
_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}(/[A-Za-z0-9][A-Za-z0-9._-]{0,95})?$")
_FILE_SUFFIXES = (".json", ".jsonl", ".csv", ".parquet", ".txt", ".arrow", ".gz", ".zst")
# A split name ("test", "train[:10%]"), never a file.
_SPLIT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:%+\[\]-]{0,127}$")


def _problem(loc: str, message: str, fix: str | None = None) -> FieldProblem:
    return FieldProblem(loc=f"config.{loc}", message=message, fix=fix)


def _resolve_dataset(
    session: Session, settings: Settings, data: dict[str, Any], problems: list[FieldProblem]
) -> str | None:
    """Point ``data`` at the registered dataset's file (or hub id); returns the dataset id."""
    source = data["source"]
    if not source.startswith("dataset:"):
        if not _HUB_ID.match(source) or source.lower().endswith(_FILE_SUFFIXES):
            problems.append(
                _problem(
                    "data.source",
                    "must be a registered dataset (dataset:<id>) or a Hugging Face dataset id",
                    fix="Upload the file on the Datasets page and use its dataset:<id>.",
                )
            )
        return None
    dataset_id = source.removeprefix("dataset:")
    # FOR SHARE: a concurrent delete of the dataset waits for this job, then sees it (409).
    row = session.get(DatasetRow, dataset_id, with_for_update={"read": True})
    if row is None:
        problems.append(_problem("data.source", f"dataset '{dataset_id}' does not exist"))
        return None
    if row.status == "invalid":
        problems.append(
            _problem(
                "data.source",
                f"dataset '{row.name}' did not pass validation: {row.error or 'see its report'}",
                fix="Fix the field mapping on the Datasets page, or upload a corrected file.",
            )
        )
        return None
    if row.kind == "hub":
        data["source"] = row.hub_id
        data["split"] = row.split or data["split"]
        data["subset"] = row.subset or data["subset"]
    else:
        folder = (Path(settings.data_dir).expanduser() / "datasets").resolve()
        path = (folder / (row.stored_name or "")).resolve()
        if not row.stored_name or path.parent != folder or not path.is_file():
            problems.append(_problem("data.source", f"the file of dataset '{row.name}' is gone"))
            return None
        data["source"] = str(path)
    # The dataset's reviewed mapping applies unless the config sets its own.
    if data["format"] == "auto" and row.format:
        data["format"] = row.format
    if not data["field_mapping"] and row.field_mapping:
        data["field_mapping"] = dict(row.field_mapping)
    if data.get("system_prompt") is None:
        data["system_prompt"] = dataset_system_prompt(row)
    return row.id


def _resolve_model(session: Session, model: dict[str, Any], problems: list[FieldProblem]) -> None:
    ref = model["name_or_path"]
    if not ref.startswith("model:"):
        if not _HUB_ID.match(ref):
            problems.append(
                _problem(
                    "model.name_or_path",
                    "must be a registered model (model:<id>) or a Hugging Face model id",
                    fix="Register the local folder on the Models page and use its model:<id>.",
                )
            )
        return
    row = session.get(ModelRow, ref.removeprefix("model:"))
    if row is None:
        problems.append(_problem("model.name_or_path", f"model '{ref}' does not exist"))
    elif row.kind != "local":
        problems.append(
            _problem(
                "model.name_or_path",
                f"'{row.name}' is an adapter, not a base model",
                fix=f"Train on its base model ({row.base_model}) instead.",
            )
        )
    else:
        model["name_or_path"] = row.path


def _check_split(data: dict[str, Any], problems: list[FieldProblem]) -> None:
    split = data.get("eval_split")
    if split is not None and not _SPLIT.match(split):
        problems.append(
            _problem(
                "data.eval_split",
                "must be a split name such as 'test'; files are not accepted here",
                fix="Upload the evaluation file into the training data, or use eval_fraction.",
            )
        )


def resolve_run_refs(
    session: Session, settings: Settings, raw: dict[str, Any]
) -> tuple[str | None, list[FieldProblem]]:
    """Resolve the references in ``raw`` (a RunConfig dumped to JSON) in place.

    Run inside the write transaction that stores the job: the dataset row is read ``FOR SHARE``
    so a concurrent delete of it waits and then sees the job.

    Returns:
        The dataset id (None for a hub dataset given by id) and every problem found, each at
        its ``config.<section>.<field>`` path.
    """
    problems: list[FieldProblem] = []
    dataset_id = _resolve_dataset(session, settings, raw["data"], problems)
    _resolve_model(session, raw["model"], problems)
    _check_split(raw["data"], problems)
    return dataset_id, problems
