"""Changing a dataset (the PATCH): rename it, or set its format, mapping or system prompt.

A rename is stored at once. A new format, mapping or system prompt is tried on the first rows
first: when it does not fit, the request fails and the dataset keeps its old setup; when it
fits, it is stored (the format and mapping as the person's choice) and the dataset is
validated again.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from loralab.config import DATA_FORMATS, DataConfig, Settings, StrictModel
from loralab.errors import LoralabError
from loralab.services.dataset_validation import check_opens, data_config, validate_dataset
from loralab.services.datasets import Dataset, to_dataset
from loralab.store import Database
from loralab.store import datasets as store
from loralab.store.db import reading
from loralab.store.tables import DatasetRow

__all__ = ["DatasetUpdate", "update_dataset"]


class DatasetUpdate(StrictModel):
    """Changes to a dataset; a changed format, mapping or system prompt re-validates it."""

    name: str | None = Field(default=None, min_length=1, max_length=255)
    format: Literal[DATA_FORMATS] | None = None  # type: ignore[valid-type]
    field_mapping: dict[str, str] | None = Field(default=None, max_length=32)
    system_prompt: str | None = Field(default=None, max_length=20_000)


def _rename(db: Database, dataset_id: str, name: str) -> DatasetRow:
    with db.write() as session:
        row = store.get_dataset(session, dataset_id)
        row.name = name.strip() or row.name
        return row


def _check_not_validating(row: DatasetRow) -> None:
    if row.status == "validating":
        raise LoralabError(
            f"Dataset '{row.name}' is being validated.",
            code="dataset_validating",
            status=409,
            fix="Wait for the validation to finish, then change it.",
        )


def _remap(cfg: DataConfig, changes: dict[str, Any]) -> None:
    # A new format without a mapping maps afresh; a mapping without a format keeps the format.
    if "format" in changes or "field_mapping" in changes:
        cfg.format = changes.get("format") or cfg.format
        cfg.field_mapping = changes.get("field_mapping") or {}


def _set_system_prompt(cfg: DataConfig, changes: dict[str, Any]) -> None:
    if "system_prompt" in changes:
        cfg.system_prompt = changes["system_prompt"] or None


def _check_fits(row: DatasetRow, cfg: DataConfig) -> None:
    # Hub datasets are read by jobs only; their validation job reports a misfit.
    if row.kind != "upload":
        return
    problem = check_opens(row, cfg)
    if problem is not None:
        raise problem  # the person's new mapping is wrong: say so and keep the old one


def _store_setup(db: Database, row: DatasetRow, cfg: DataConfig) -> DatasetRow:
    chosen = cfg.format != "auto" or bool(cfg.field_mapping)
    with db.write() as session:
        return store.update_dataset(
            session,
            row.id,
            format=cfg.format if cfg.format != "auto" else row.format,
            field_mapping=dict(cfg.field_mapping) if cfg.field_mapping else row.field_mapping,
            system_prompt=cfg.system_prompt,
            mapping_chosen=chosen,
        )


def update_dataset(
    db: Database, settings: Settings, dataset_id: str, body: DatasetUpdate
) -> Dataset:
    """Rename, or change the format, mapping or system prompt and validate again.

    Raises:
        NotFound: no such dataset.
        Conflict: it is being validated (409 ``dataset_validating``).
        DataError: the new format or mapping does not fit the columns (422; nothing changes).
    """
    changes = body.model_dump(exclude_unset=True)
    name = changes.pop("name", None)
    if name is not None:
        row = _rename(db, dataset_id, name)
    else:
        with reading(db) as session:
            row = store.get_dataset(session, dataset_id)
    if not changes:
        return to_dataset(row, with_report=True)
    _check_not_validating(row)
    cfg = data_config(row, settings)
    _remap(cfg, changes)
    _set_system_prompt(cfg, changes)
    _check_fits(row, cfg)
    row = _store_setup(db, row, cfg)
    return to_dataset(validate_dataset(db, settings, row), with_report=True)
