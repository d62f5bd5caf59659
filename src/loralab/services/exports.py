"""Exports: ``export`` jobs, their files, and what an export of an adapter would take.

An export is an ``export`` job (``loralab.jobs.export_job``); its files are the ones its
result lists, under ``<data dir>/exports/<job-id>/``. A download names a file of that list,
never a path. Nothing here imports the ML stack.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from loralab.config import Settings
from loralab.errors import ConfigError, Conflict, FieldProblem, NotFound
from loralab.export import QUANTIZATIONS, free_disk_bytes, tool_status
from loralab.jobs.export_job import ExportSpec, estimate_for
from loralab.jobs.refs import resolve_model_ref
from loralab.services.jobs import Job, JobCreate, list_jobs, submit_job, to_job
from loralab.store import Database, reading
from loralab.store import jobs as job_store
from loralab.store.tables import AdapterRow

__all__ = [
    "ExportEstimate",
    "estimate_export",
    "export_file",
    "get_export",
    "list_exports",
    "start_export",
]


class QuantizationInfo(BaseModel):
    """One GGUF weight type, and whether this server can make it."""

    name: str
    description: str
    tool: str = Field(description="converter (llama.cpp's convert_hf_to_gguf) or llama_cpp.")
    available: bool
    size_bytes: int = Field(description="About how large this adapter's file would be.")


class ExportEstimate(BaseModel):
    """What exporting an adapter would write, and what this server can do."""

    adapter_id: str
    base_model: str
    parameters: int
    formats: dict[str, int] = Field(description="Bytes of the adapter and merged outputs.")
    quantizations: list[QuantizationInfo]
    free_bytes: int = Field(description="Free disk under the data dir.")
    converter: bool = Field(description="llama.cpp's converter is installed.")
    llama_cpp: bool = Field(description="llama-cpp-python is installed (K-quants, parity).")
    fix: str | None = Field(description="How to install what is missing.")


def _not_found(job_id: str) -> NotFound:
    return NotFound(f"Export '{job_id}' does not exist.", code="export_not_found")


def start_export(
    db: Database, settings: Settings, body: ExportSpec, name: str | None = None
) -> Job:
    """Queue an export (422 for a bad spec, a missing tool or too little disk)."""
    config = body.model_dump(mode="json", exclude_unset=True)
    return submit_job(db, settings, JobCreate(kind="export", config=config, name=name))


def list_exports(db: Database) -> list[Job]:
    """Every export, newest first."""
    return list_jobs(db, kind="export")


def _export_row(session, job_id: str):
    row = job_store.get_job(session, job_id)
    if row is None or row.kind != "export":
        raise _not_found(job_id)
    return row


def get_export(db: Database, job_id: str) -> Job:
    """One export (404 ``export_not_found``)."""
    with reading(db) as session:
        return to_job(_export_row(session, job_id))


def export_file(db: Database, settings: Settings, job_id: str, name: str) -> tuple[Path, str, bool]:
    """The file ``name`` of a completed export: ``(path, download name, is_temporary)``.

    A folder (``adapter``, ``merged``) comes as a zip made for the download. Raises NotFound
    (404 ``export_not_found``, ``export_file_not_found``: not in the result's list, or gone)
    and Conflict (409 ``export_not_ready``).
    """
    with reading(db) as session:
        row = _export_row(session, job_id)
    if row.status != "completed":
        raise Conflict(
            f"Export '{job_id}' is {row.status}; its files are listed once it completes.",
            code="export_not_ready",
        )
    names = {f["name"] for f in (row.result or {}).get("files", [])}
    root = (Path(settings.data_dir).expanduser() / "exports" / job_id).resolve()
    if name not in names:
        raise NotFound(
            f"Export '{job_id}' has no file '{name[:200]}'.", code="export_file_not_found"
        )
    path = (root / name).resolve()
    if root not in path.parents or not path.exists():
        raise NotFound(
            f"The file '{name}' of export '{job_id}' is gone.", code="export_file_not_found"
        )
    if path.is_file():
        return path, path.name, False
    fd, temp = tempfile.mkstemp(prefix="loralab-export-", suffix=".zip")
    os.close(fd)
    with zipfile.ZipFile(temp, "w", zipfile.ZIP_DEFLATED) as archive:
        for item in sorted(path.rglob("*")):
            if item.is_file():
                archive.write(item, Path(path.name) / item.relative_to(path))
    return Path(temp), f"{path.name}.zip", True


def estimate_export(db: Database, settings: Settings, adapter: str) -> ExportEstimate:
    """Sizes of every output of ``adapter:<id>``, the free disk and the tools here."""
    with reading(db) as session:
        ref, problems = resolve_model_ref(session, adapter, loc="adapter")
        if ref is not None and ref.adapter_id is None:
            problems = [FieldProblem(loc="adapter", message="must be an adapter:<id>")]
        if problems or ref is None:
            raise ConfigError(f"Cannot estimate an export of '{adapter[:80]}'.", problems=problems)
        row = session.get(AdapterRow, ref.adapter_id)
    assert row is not None
    spec = ExportSpec(
        adapter=f"adapter:{row.id}",
        formats=["adapter", "merged", "gguf"],
        quantizations=list(QUANTIZATIONS),
    )
    est: dict[str, Any] = estimate_for(spec, row.base_model, row.path)
    tools = tool_status()
    available = set(tools.available_quantizations())
    by_kind = {f["format"]: f["size_bytes"] for f in est["files"] if f["format"] != "gguf"}
    quants = [
        QuantizationInfo(
            name=f["quantization"],
            description=QUANTIZATIONS[f["quantization"]].description,
            tool=QUANTIZATIONS[f["quantization"]].tool,
            available=f["quantization"] in available,
            size_bytes=f["size_bytes"],
        )
        for f in est["files"]
        if f["format"] == "gguf"
    ]
    return ExportEstimate(
        adapter_id=row.id,
        base_model=row.base_model,
        parameters=est["parameters"],
        formats=by_kind,
        quantizations=quants,
        free_bytes=free_disk_bytes(settings.data_dir),
        converter=tools.converter,
        llama_cpp=tools.llama_cpp,
        fix=tools.fix,
    )
