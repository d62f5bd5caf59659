"""Adapters: what training runs made, promoted checkpoints and registered PEFT folders.

An adapter is made when a training run completes (by its worker), from a complete checkpoint
(``promote_checkpoint``), or from a PEFT folder already on the server (``register_adapter``,
checked against its base model). Everything downstream takes ``adapter:<id>``. Nothing here
imports the training stack: adapter folders are read as JSON and safetensors headers.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import select

from loralab.config import Settings, StrictModel
from loralab.errors import Conflict, FieldProblem, ModelError, NotFound
from loralab.jobs import list_checkpoints
from loralab.jobs.adapter_files import (
    adapters_root,
    base_reference,
    check_fits_base,
    copy_adapter_files,
    describe_adapter,
    register_run_adapter,
)
from loralab.jobs.refs import resolve_model_ref
from loralab.jobs.run_files import read_run_card, runs_root
from loralab.services import UtcDateTime, hub
from loralab.store import AdapterRow, Database, JobRow, new_id, reading
from loralab.store import adapters as store

__all__ = [
    "Adapter",
    "AdapterRegistration",
    "CheckpointPromotion",
    "adapter_archive",
    "delete_adapter",
    "get_adapter",
    "list_adapters",
    "promote_checkpoint",
    "register_adapter",
    "register_finished_runs",
]


class AdapterFile(BaseModel):
    """One file of an adapter."""

    name: str
    size_bytes: int


class Adapter(BaseModel):
    """A LoRA adapter the server knows."""

    id: str = Field(description="Use as adapter:<id> wherever a model is taken.")
    name: str
    source: Literal["training", "checkpoint", "external"]
    path: str
    base_model: str = Field(description="What it is loaded onto: a hub id or a local folder.")
    base_ref: str | None = Field(description="The base model as a reference (model:<id>).")
    job_id: str | None = Field(description="The training run it came from.")
    step: int | None
    method: str | None
    metrics: dict[str, Any] | None
    size_bytes: int
    files: list[AdapterFile]
    info: dict[str, Any] | None = Field(description="Rank, alpha and target modules.")
    created_at: UtcDateTime
    in_use_by: list[str] = Field(description="Queued or running jobs that use it.")


class AdapterRegistration(StrictModel):
    """A PEFT adapter folder on the server to register."""

    path: str = Field(min_length=1, max_length=1024, description="Absolute path of the folder.")
    base_model: str = Field(
        min_length=1, max_length=1024, description="Its base model: model:<id> or a hub id."
    )
    name: str | None = Field(default=None, min_length=1, max_length=255)


class CheckpointPromotion(StrictModel):
    """A complete checkpoint of a training run to keep as an adapter."""

    job_id: str = Field(min_length=1, max_length=64)
    step: int = Field(ge=0, le=2**31 - 1)
    name: str | None = Field(default=None, min_length=1, max_length=255)


def _to_adapter(row: AdapterRow, users: list[str]) -> Adapter:
    return Adapter(
        id=row.id,
        name=row.name,
        source=row.source,  # type: ignore[arg-type]
        path=row.path,
        base_model=row.base_model,
        base_ref=row.base_ref,
        job_id=row.job_id,
        step=row.step,
        method=row.method,
        metrics=row.metrics,
        size_bytes=row.size_bytes or 0,
        files=[AdapterFile(**f) for f in row.files or []],
        info=row.info,
        created_at=row.created_at,
        in_use_by=users,
    )


def _not_found(adapter_id: str) -> NotFound:
    return NotFound(f"Adapter '{adapter_id}' does not exist.", code="adapter_not_found")


def list_adapters(db: Database) -> list[Adapter]:
    """Every adapter, newest first."""
    with reading(db) as session:
        rows = store.list_adapters(session)
        return [_to_adapter(r, store.jobs_using_adapter(session, r.id)) for r in rows]


def get_adapter(db: Database, adapter_id: str) -> Adapter:
    """One adapter (404 ``adapter_not_found``)."""
    with reading(db) as session:
        row = store.get_adapter(session, adapter_id)
        if row is None:
            raise _not_found(adapter_id)
        return _to_adapter(row, store.jobs_using_adapter(session, row.id))


def adapter_archive(db: Database, settings: Settings, adapter_id: str) -> tuple[Path, str]:
    """A zip of the adapter's files in a scratch file, and the name to download it as.

    The caller deletes the file when it has been sent. Raises NotFound (404) and ModelError
    (410 ``adapter_files_gone`` when its folder is no longer there).
    """
    adapter = get_adapter(db, adapter_id)
    folder = Path(adapter.path)
    names = [f.name for f in adapter.files if (folder / f.name).is_file()]
    if not names:
        raise ModelError(
            f"The files of adapter '{adapter.name}' are gone from {folder}.",
            code="adapter_files_gone",
            status=410,
            fix="Delete the adapter, or train it again.",
        )
    scratch = Path(settings.data_dir).expanduser() / "tmp"
    scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=scratch, suffix=".zip", delete=False) as handle:
        pass
    # Stored, not deflated: safetensors weights do not compress.
    with zipfile.ZipFile(handle.name, "w", compression=zipfile.ZIP_STORED) as archive:
        for name in names:
            archive.write(folder / name, arcname=name)
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in adapter.name)[:80]
    return Path(handle.name), f"{safe or 'adapter'}-{adapter.id[:8]}.zip"


def _owned_folder(settings: Settings, row: AdapterRow) -> Path | None:
    """The adapter's folder when loralab made it (and so may delete it)."""
    data_dir = Path(settings.data_dir).expanduser().resolve()
    folder = Path(row.path).resolve()
    if row.source == "checkpoint" and folder.parent == adapters_root(data_dir):
        return folder
    if row.source == "training" and folder.parent.parent == runs_root(data_dir):
        return folder
    return None  # a registered folder belongs to its owner


def delete_adapter(db: Database, settings: Settings, adapter_id: str) -> None:
    """Delete an adapter and the files loralab made for it (a registered folder stays).

    Raises NotFound (404) and Conflict (409 ``adapter_in_use`` while a queued or running job
    uses it).
    """
    with db.write() as session:
        row = store.get_adapter(session, adapter_id)
        if row is None:
            raise _not_found(adapter_id)
        users = store.jobs_using_adapter(session, row.id)
        if users:
            raise Conflict(
                f"Adapter '{row.name}' is in use by job {users[0]}.",
                code="adapter_in_use",
                fix="Wait until that job has ended, or cancel it, then delete the adapter.",
            )
        folder = _owned_folder(settings, row)
        store.delete_adapter(session, row)
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


def _local_folder(raw: str) -> Path:
    from loralab.services.models import local_folder

    try:
        return local_folder(raw)
    except ModelError as exc:  # worded for model folders; say it of the adapter
        raise ModelError(
            exc.message.replace("model folder", "adapter folder"),
            code="invalid_adapter",
            problems=exc.problems,
            fix="Give the full path of the folder PEFT's save_pretrained wrote "
            "(adapter_config.json and adapter_model.safetensors).",
        ) from None


def _base_dir(base: str) -> Path | None:
    """The base model's folder on this machine (registered, or a cached hub snapshot)."""
    folder = Path(base)
    if folder.is_absolute():
        return folder if folder.is_dir() else None
    return hub.cached_snapshot(base)


def register_adapter(db: Database, body: AdapterRegistration) -> Adapter:
    """Register a PEFT adapter folder on the server, checked against its base model.

    Raises:
        ModelError: not an absolute folder with adapter_config.json and safetensors weights,
            or its layer sizes do not match the base model (422 ``invalid_adapter``).
        ConfigError-like ModelError: an unknown base model reference (422 at ``base_model``).
        Conflict: the folder is registered already (409 ``adapter_exists``).
    """
    folder = _local_folder(body.path)
    described = describe_adapter(folder)
    with db.write() as session:
        ref, problems = resolve_model_ref(session, body.base_model.strip(), loc="base_model")
        if ref is not None and ref.adapter_id:
            problems = [FieldProblem(loc="base_model", message="must be a model, not an adapter")]
        if problems or ref is None:
            raise ModelError(
                f"The base model of the adapter cannot be used: {problems[0].message}.",
                code="invalid_adapter",
                problems=problems,
                fix="Use model:<id> of a registered folder, or a Hugging Face model id.",
            )
        mismatch = check_fits_base(folder, _base_dir(ref.load))
        if mismatch:
            raise ModelError(
                f"{folder} does not fit {body.base_model}: {mismatch[0]}.",
                code="invalid_adapter",
                problems=[FieldProblem(loc="base_model", message=mismatch[0])],
                fix="Register it with the base model it was trained on.",
            )
        row = store.add_adapter(
            session,
            path=str(folder),
            name=((body.name or "").strip() or folder.name)[:255],
            source="external",
            base_model=ref.load,
            base_ref=body.base_model.strip(),
            job_id=None,
            step=None,
            method=None,
            metrics=None,
            size_bytes=described["size_bytes"],
            files=described["files"],
            info=described["info"],
        )
        return _to_adapter(row, [])


def _checkpoint_metrics(folder: Path, step: int) -> dict[str, Any] | None:
    """The last logged loss (and eval loss) up to ``step``, from the checkpoint's trainer state."""
    try:
        state = json.loads((folder / "trainer_state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    metrics: dict[str, Any] = {}
    for entry in state.get("log_history") or []:
        if not isinstance(entry, dict) or (entry.get("step") or 0) > step:
            continue
        for key in ("loss", "eval_loss"):
            if isinstance(entry.get(key), (int, float)):
                metrics["train_loss" if key == "loss" else key] = entry[key]
    return metrics or None


def promote_checkpoint(db: Database, settings: Settings, body: CheckpointPromotion) -> Adapter:
    """Keep a complete checkpoint of a training run as an adapter (its files are copied, so
    the run may prune or delete the checkpoint later).

    Raises NotFound (404 ``job_not_found`` / ``checkpoint_not_found``), Conflict (409
    ``checkpoint_incomplete``, ``adapter_exists``).
    """
    with reading(db) as session:
        job = session.get(JobRow, body.job_id)
    if job is None or job.kind != "train":
        raise NotFound(f"Training run '{body.job_id}' does not exist.", code="job_not_found")
    found = {c.step: c for c in list_checkpoints(job.output_dir)} if job.output_dir else {}
    checkpoint = found.get(body.step)
    if checkpoint is None:
        steps = ", ".join(str(s) for s in sorted(found)) or "none yet"
        raise NotFound(
            f"Run '{body.job_id}' has no checkpoint at step {body.step} (it has: {steps}).",
            code="checkpoint_not_found",
        )
    if not checkpoint.complete:
        raise Conflict(
            f"Checkpoint {checkpoint.path_name} is still being written.",
            code="checkpoint_incomplete",
            fix="Wait a moment and promote it again.",
        )
    source = Path(job.output_dir) / "checkpoints" / checkpoint.path_name
    described = describe_adapter(source)
    adapter_id = new_id()
    target = adapters_root(settings.data_dir) / adapter_id
    copy_adapter_files(source, target)
    config = job.config or {}
    label = job.name or config.get("name") or f"run {job.id[:8]}"
    try:
        with db.write() as session:
            base = (config.get("model") or {}).get("name_or_path") or ""
            row = store.add_adapter(
                session,
                id=adapter_id,
                path=str(target),
                name=((body.name or "").strip() or f"{label} @ step {body.step}")[:255],
                source="checkpoint",
                base_model=base,
                base_ref=base_reference(session, base),
                job_id=job.id,
                step=body.step,
                method=(config.get("train") or {}).get("method") or "sft",
                metrics=_checkpoint_metrics(source, body.step),
                size_bytes=described["size_bytes"],
                files=described["files"],
                info=described["info"],
            )
            return _to_adapter(row, [])
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise


def register_finished_runs(db: Database) -> int:
    """Give every completed training run that has an adapter folder its adapter row.

    Runs on server start: a data dir from a release before adapters were resources, or a
    worker that ended between saving the adapter and registering it. Returns how many were
    added.
    """
    has_adapter = (
        select(AdapterRow.id)
        .where(AdapterRow.job_id == JobRow.id, AdapterRow.source == "training")
        .exists()
    )
    query = select(JobRow).where(JobRow.kind == "train", JobRow.status == "completed", ~has_adapter)
    with reading(db) as session:
        jobs = list(session.scalars(query))
    added = 0
    for job in jobs:
        try:
            with db.write() as session:
                row = register_run_adapter(session, job, read_run_card(job.output_dir or ""))
                if row is not None:
                    fresh = session.get(JobRow, job.id)
                    if fresh is not None and not (fresh.result or {}).get("adapter_id"):
                        fresh.result = {**(fresh.result or {}), "adapter_id": row.id}
                    added += 1
        except (ModelError, Conflict):
            continue  # a broken or already registered folder: the run page still shows it
    return added
