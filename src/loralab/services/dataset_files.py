"""Where uploaded dataset files live: ``data_dir/datasets/<id><ext>``, under generated names."""

from __future__ import annotations

from pathlib import Path

from loralab.config import Settings
from loralab.store.tables import DatasetRow

__all__ = ["dataset_file", "datasets_dir"]


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
