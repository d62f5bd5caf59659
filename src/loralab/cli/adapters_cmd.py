"""``loralab adapters list | show | download | delete | register | promote``.

Works on a data dir's database directly (the same one ``loralab serve`` uses), so no server is
needed.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, TypeVar

import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from loralab.cli.store import DataDir, open_store
from loralab.errors import FieldProblem, InvalidRequest
from loralab.services.adapters import (
    Adapter,
    AdapterRegistration,
    CheckpointPromotion,
    adapter_archive,
    delete_adapter,
    get_adapter,
    list_adapters,
    promote_checkpoint,
    register_adapter,
)

app = typer.Typer(no_args_is_help=True)
console = Console()
M = TypeVar("M", bound=BaseModel)

AsJson = typer.Option(False, "--json", help="Print JSON instead of text.")


def _request(model: type[M], **values: Any) -> M:
    """The request the service takes; a value it refuses is an ``invalid_request``."""
    try:
        return model(**values)
    except ValidationError as exc:
        problems = [
            FieldProblem(loc=".".join(map(str, e["loc"])), message=e["msg"]) for e in exc.errors()
        ]
        raise InvalidRequest("Invalid options.", problems=problems) from None


def _size(n: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _when(adapter: Adapter) -> str:
    return adapter.created_at.strftime("%Y-%m-%d %H:%M")


def _echo_json(adapter: Adapter) -> None:
    typer.echo(adapter.model_dump_json(indent=2))


def _report(verb: str, adapter: Adapter, as_json: bool) -> None:
    if as_json:
        _echo_json(adapter)
        return
    console.print(
        f"{verb} [bold]{escape(adapter.name)}[/] as adapter:{adapter.id} ({_size(adapter.size_bytes)})"
    )


@app.command("list")
def list_command(data_dir: Path | None = DataDir, as_json: bool = AsJson) -> None:
    """List the adapters, newest first."""
    with open_store(data_dir) as (_, db):
        adapters = list_adapters(db)
    if as_json:
        typer.echo(json.dumps([a.model_dump(mode="json") for a in adapters], indent=2))
        return
    if not adapters:
        console.print("No adapters yet: train a run, or `loralab adapters register` a folder.")
        return
    table = Table(title="Adapters")
    table.add_column("id", no_wrap=True)  # ids are copied into commands; never break them
    for col in ("name", "base model", "source", "method", "step", "size", "created"):
        table.add_column(col, justify="right" if col in ("step", "size") else "left")
    for a in adapters:
        table.add_row(
            a.id,
            escape(a.name),
            escape(a.base_ref or a.base_model),
            a.source,
            a.method or "",
            "" if a.step is None else str(a.step),
            _size(a.size_bytes),
            _when(a),
        )
    console.print(table)


@app.command("show")
def show_command(
    id: str = typer.Argument(..., help="The adapter's id."),  # documented as ID
    data_dir: Path | None = DataDir,
    as_json: bool = AsJson,
) -> None:
    """Show every field of an adapter and its files."""
    with open_store(data_dir) as (_, db):
        a = get_adapter(db, id)
    if as_json:
        _echo_json(a)
        return
    info = a.info or {}
    targets = info.get("target_modules")
    metrics = a.metrics or {}
    rows = {
        "id": f"{a.id} (use as adapter:{a.id})",
        "name": a.name,
        "source": a.source,
        "path": a.path,
        "base model": a.base_model + (f" ({a.base_ref})" if a.base_ref else ""),
        "job": a.job_id or "",
        "step": "" if a.step is None else str(a.step),
        "method": a.method or "",
        "rank": "" if info.get("r") is None else f"r={info['r']}, alpha={info.get('alpha')}",
        "target modules": ", ".join(targets) if isinstance(targets, list) else str(targets or ""),
        "metrics": ", ".join(f"{k} {_number(v)}" for k, v in metrics.items()),
        "size": _size(a.size_bytes),
        "created": _when(a),
        "in use by": ", ".join(a.in_use_by),
    }
    for label, value in rows.items():
        if value:
            console.print(f"[bold]{label}[/]: {escape(value)}")
    table = Table(title="Files")
    table.add_column("file")
    table.add_column("size", justify="right")
    for f in a.files:
        table.add_row(escape(f.name), _size(f.size_bytes))
    console.print(table)


@app.command("download")
def download_command(
    id: str = typer.Argument(..., help="The adapter's id."),  # documented as ID
    output: str | None = typer.Option(
        None,
        "--output",
        "-o",
        help="The zip to write, or a folder to put it in (default NAME-ID.zip here).",
    ),
    data_dir: Path | None = DataDir,
) -> None:
    """Write the adapter's files as a zip (PEFT's from_pretrained loads the unzipped folder)."""
    with open_store(data_dir) as (settings, db):
        scratch, filename = adapter_archive(db, settings, id)
    try:
        target = Path(output or filename).expanduser()
        if target.is_dir() or (output or "").endswith(("/", os.sep)):
            target = target / filename
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(scratch, target)
    finally:
        scratch.unlink(missing_ok=True)
    typer.echo(str(target.resolve()))  # plain, never wrapped: scripts read this line


@app.command("delete")
def delete_command(
    id: str = typer.Argument(..., help="The adapter's id."),  # documented as ID
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    data_dir: Path | None = DataDir,
) -> None:
    """Delete an adapter and the files loralab made for it (a registered folder stays)."""
    with open_store(data_dir) as (settings, db):
        a = get_adapter(db, id)
        if not yes:
            kept = " (its folder stays)" if a.source == "external" else ""
            typer.confirm(f"Delete adapter '{a.name}' ({a.id}){kept}?", abort=True)
        delete_adapter(db, settings, a.id)
    console.print(f"deleted adapter {escape(a.name)} ({a.id})")


@app.command("register")
def register_command(
    path: Path = typer.Argument(..., help="A PEFT adapter folder (what save_pretrained wrote)."),
    base_model: str = typer.Option(
        ..., "--base-model", help="What it was trained on: model:<id> or a Hugging Face id."
    ),
    name: str | None = typer.Option(None, "--name", help="A name (default: the folder's)."),
    data_dir: Path | None = DataDir,
    as_json: bool = AsJson,
) -> None:
    """Register an adapter folder on this machine, checked against its base model."""
    # The service takes absolute paths only (it serves remote clients too); here a relative
    # path means the current directory.
    body = _request(
        AdapterRegistration,
        path=str(path.expanduser().absolute()),
        base_model=base_model,
        name=name or None,
    )
    with open_store(data_dir) as (_, db):
        a = register_adapter(db, body)
    _report("registered", a, as_json)


@app.command("promote")
def promote_command(
    job_id: str = typer.Argument(..., help="The training run's job id."),
    step: int = typer.Argument(..., min=0, help="The step of a complete checkpoint."),
    name: str | None = typer.Option(None, "--name", help="A name (default: RUN @ step STEP)."),
    data_dir: Path | None = DataDir,
    as_json: bool = AsJson,
) -> None:
    """Keep a training run's complete checkpoint as an adapter (its files are copied)."""
    body = _request(CheckpointPromotion, job_id=job_id, step=step, name=name or None)
    with open_store(data_dir) as (settings, db):
        a = promote_checkpoint(db, settings, body)
    _report("promoted", a, as_json)
