"""Models: the catalog, registered local folders, adapters from finished jobs, memory estimates.

A RunConfig sent to the API names its model as a hub id or ``model:<id>`` (a registered folder);
the only place a filesystem path enters is ``register_model``, which checks it is a model
folder and keeps it. Nothing here loads weights or imports torch.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from loralab.config import RunConfig, Settings, StrictModel
from loralab.data import ChatTemplate, load_chat_template, load_light_tokenizer
from loralab.errors import ConfigError, Conflict, FieldProblem, ModelError, NotFound
from loralab.jobs import build_tiny_model
from loralab.models import (
    CatalogEntry,
    MemoryEstimate,
    detect_hardware,
    estimate_memory,
    list_catalog,
    read_arch_dims,
)
from loralab.services import UtcDateTime, hub
from loralab.store import Database
from loralab.store import models as store
from loralab.store.tables import JobRow, ModelRow

__all__ = [
    "CatalogModel",
    "Model",
    "ModelList",
    "ModelRegistration",
    "TinyModelRequest",
    "delete_model",
    "estimate_run",
    "get_model",
    "list_catalog_models",
    "list_models",
    "load_template_and_tokenizer",
    "make_demo_model",
    "register_model",
    "resolve_model_dir",
]

_HUB_ID = re.compile(hub.HUB_ID_PATTERN)


class CatalogModel(CatalogEntry):
    """A catalog entry, with its size in billions of parameters."""

    params_b: float = Field(description="Parameters, in billions.")


class Model(BaseModel):
    """A model the server knows: a registered local folder, or an adapter a job trained."""

    id: str = Field(description="Use as model:<id> in a RunConfig or a preview.")
    name: str
    kind: Literal["local", "adapter"]
    path: str
    base_model: str | None = Field(description="The base model an adapter was trained on.")
    job_id: str | None = Field(description="The job that trained an adapter.")
    info: dict[str, Any] | None = Field(default=None, description="What the folder holds.")
    created_at: UtcDateTime


class ModelList(BaseModel):
    """Registered local models and trained adapters."""

    local: list[Model]
    adapters: list[Model]


class ModelRegistration(StrictModel):
    """A local model folder to register (it must hold config.json)."""

    path: str = Field(min_length=1, max_length=1024, description="Absolute path of the folder.")
    name: str | None = Field(default=None, min_length=1, max_length=255)


class TinyModelRequest(StrictModel):
    """Which tiny demo model to build."""

    arch: Literal["qwen2", "llama"] = Field(
        default="qwen2", description="The real architecture the tiny model is a small copy of."
    )


def list_catalog_models(family: str | None = None) -> list[CatalogModel]:
    """The model catalog, optionally for one family (404 for an unknown family)."""
    return [
        CatalogModel(**entry.model_dump(), params_b=round(entry.parameters / 1e9, 3))
        for entry in list_catalog(family)
    ]


def _to_model(row: ModelRow) -> Model:
    return Model(
        id=row.id,
        name=row.name,
        kind="adapter" if row.kind == "adapter" else "local",
        path=row.path,
        base_model=row.base_model,
        job_id=row.job_id,
        info=row.info,
        created_at=row.created_at,
    )


def _adapter_from_job(job: JobRow) -> Model | None:
    folder = Path(job.output_dir or "") / "adapter"
    if not job.output_dir or not (folder / "adapter_config.json").is_file():
        return None
    base = ((job.config or {}).get("model") or {}).get("name_or_path")
    try:
        adapter_cfg = json.loads((folder / "adapter_config.json").read_text(encoding="utf-8"))
        base = adapter_cfg.get("base_model_name_or_path") or base
    except (OSError, ValueError, AttributeError):
        pass
    return Model(
        id=job.id,
        name=job.name or f"adapter {job.id[:8]}",
        kind="adapter",
        path=str(folder),
        base_model=base,
        job_id=job.id,
        created_at=job.finished_at or job.created_at,
    )


def list_models(db: Database) -> ModelList:
    """Registered local folders, and the adapters of completed jobs (newest first)."""
    local = [_to_model(r) for r in store.list_models(db, kind="local")]
    adapters = [_to_model(r) for r in store.list_models(db, kind="adapter")]
    known = {a.job_id for a in adapters}
    for job in store.completed_jobs(db):
        if job.id not in known and (adapter := _adapter_from_job(job)) is not None:
            adapters.append(adapter)
    return ModelList(local=local, adapters=adapters)


def get_model(db: Database, model_id: str) -> Model:
    """A registered model or a job's adapter, by id (404 ``model_not_found``)."""
    row = store.get_model(db, model_id)
    if row is not None:
        return _to_model(row)
    job = store.get_job(db, model_id)
    adapter = _adapter_from_job(job) if job is not None and job.status == "completed" else None
    if adapter is None:
        raise NotFound(f"Model '{model_id}' does not exist.", code="model_not_found")
    return adapter


def _folder_info(folder: Path) -> dict[str, Any]:
    dims = read_arch_dims(folder)  # ModelError when config.json is missing or lacks sizes
    try:
        weights = [
            p for p in folder.iterdir() if p.is_file() and p.suffix in (".safetensors", ".bin")
        ]
    except OSError as exc:
        raise ModelError(f"{folder} cannot be listed: {exc.strerror or exc}.") from None
    has_template = (folder / "chat_template.jinja").is_file()
    if not has_template and (folder / "tokenizer_config.json").is_file():
        try:
            cfg = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
            has_template = bool(isinstance(cfg, dict) and cfg.get("chat_template"))
        except (OSError, ValueError):
            pass
    return {
        "model_type": dims.model_type,
        "parameters": dims.count_parameters(),
        "weights_bytes": sum(p.stat().st_size for p in weights),
        "has_weights": bool(weights),
        "has_tokenizer": (folder / "tokenizer.json").is_file(),
        "has_chat_template": has_template,
    }


def _path_error(message: str, what: str) -> ModelError:
    return ModelError(
        message,
        problems=[FieldProblem(loc="path", message=what)],
        fix="Give the full path of the folder that holds config.json, e.g. /home/me/models/m.",
    )


def _local_folder(raw: str) -> Path:
    raw = raw.strip()
    try:
        path = Path(raw).expanduser()
    except RuntimeError:  # ~user that does not exist
        path = Path(raw)
    if "\x00" in raw or not path.is_absolute():
        raise _path_error("The model folder must be given as an absolute path.", "not absolute")
    try:
        folder = path.resolve()
        is_dir = folder.is_dir()
    except (OSError, RuntimeError) as exc:  # name too long, symlink loop, no permission
        detail = getattr(exc, "strerror", None) or str(exc)
        raise _path_error(f"The path cannot be used: {detail}.", "unusable path") from None
    if len(str(folder)) > 1024:
        raise _path_error("The model folder's path is over 1024 characters.", "path too long")
    if not is_dir:
        raise _path_error(f"{folder} is not a folder on the server.", "no such folder")
    return folder


def register_model(db: Database, body: ModelRegistration) -> Model:
    """Register a local model folder (absolute path, holding config.json).

    Raises:
        ModelError: not an absolute path to a folder with a readable config.json (422).
        Conflict: the folder is registered already (409 ``model_exists``).
    """
    folder = _local_folder(body.path)
    info = _folder_info(folder)
    name = ((body.name or "").strip() or folder.name)[:255]
    return _to_model(store.create_model(db, name=name, kind="local", path=str(folder), info=info))


def make_demo_model(db: Database, settings: Settings, body: TinyModelRequest) -> Model:
    """Build (once) and register a tiny demo model in the data dir: a random init of a real
    architecture with a locally trained tokenizer and a chat template, made offline in seconds.
    It learns little, but it runs the whole workflow on any CPU. Asking again returns it.

    Raises:
        ModelError: the build failed (422 ``tiny_model_failed``).
    """
    folder = (Path(settings.data_dir).expanduser() / "models" / f"tiny-{body.arch}").resolve()
    build_tiny_model(folder, body.arch)  # returns at once when the folder is already complete

    def registered() -> ModelRow | None:
        return next(
            (r for r in store.list_models(db, kind="local") if Path(r.path) == folder), None
        )

    row = registered()
    if row is None:
        try:
            row = store.create_model(
                db,
                name=f"tiny-{body.arch} (demo)",
                kind="local",
                path=str(folder),
                info=_folder_info(folder),
            )
        except Conflict:  # a concurrent request registered it first
            row = registered()
    return _to_model(row)


def delete_model(db: Database, model_id: str) -> None:
    """Forget a registered model; its files stay (404 ``model_not_found``)."""
    store.delete_model(db, model_id)


def resolve_model_dir(db: Database, ref: str) -> Path:
    """The folder a model reference names: ``model:<id>`` (registered or adapter), or a hub id
    whose files are in the local cache.

    Raises:
        NotFound: an unknown ``model:<id>``.
        ModelError: a path (not accepted), or a hub id that is not cached here.
    """
    if ref.startswith("model:"):
        return Path(get_model(db, ref.removeprefix("model:")).path)
    if not _HUB_ID.match(ref):
        raise ModelError(
            f"'{ref[:100]}' is not a model reference.",
            fix="Use model:<id> for a registered folder, or a Hugging Face model id.",
        )
    folder = hub.cached_snapshot(ref, "tokenizer_config.json") or hub.cached_snapshot(ref)
    if folder is None:
        raise ModelError(
            f"The files of {ref} are not in the local cache.",
            code="model_not_cached",
            fix="Register a downloaded copy of the model, or run a job with it once.",
        )
    return folder


def load_template_and_tokenizer(db: Database, ref: str) -> tuple[ChatTemplate, Any]:
    """The chat template and light tokenizer (``tokenizers``, no transformers) of a model ref;
    the tokenizer is None when the folder has no tokenizer.json."""
    folder = resolve_model_dir(db, ref)
    template = load_chat_template(folder)
    try:
        tokenizer = load_light_tokenizer(folder)
    except ModelError:
        tokenizer = None
    return template, tokenizer


def estimate_run(db: Database, settings: Settings, config: RunConfig) -> MemoryEstimate:
    """The run's peak memory on this machine's device, with a verdict and suggestions.

    Raises:
        ConfigError: the model is given as a path, or ``model:<id>`` is unknown (422).
        ModelError: the model's size cannot be worked out offline (422).
    """
    ref = config.model.name_or_path
    if ref.startswith("model:"):
        try:
            row = get_model(db, ref.removeprefix("model:"))
        except NotFound as exc:
            raise _ref_error(exc.message) from None
        if row.kind == "adapter":
            if not row.base_model:
                raise _ref_error(f"the base model of adapter '{row.name}' is unknown")
            ref = row.base_model
            if not _HUB_ID.match(ref) and not Path(ref).is_dir():
                raise _ref_error(f"the base model of adapter '{row.name}' is not on this machine")
        else:
            ref = row.path
    elif not _HUB_ID.match(ref):
        raise _ref_error("must be a registered model (model:<id>) or a Hugging Face model id")
    resolved = config.model_copy(
        update={"model": config.model.model_copy(update={"name_or_path": ref})}
    )
    estimate = estimate_memory(resolved, detect_hardware(settings.data_dir))
    return estimate.model_copy(update={"model": config.model.name_or_path})


def _ref_error(message: str) -> ConfigError:
    return ConfigError(
        f"model.name_or_path: {message}.",
        problems=[FieldProblem(loc="model.name_or_path", message=message)],
        fix="Register the local folder on the Models page and use its model:<id>.",
    )
