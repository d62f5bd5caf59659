"""``loralab export ADAPTER_ID``: the export recipe in the foreground, no server needed.

The adapter is looked up in the data dir's database (as ``loralab adapters`` does); the checks
are the server's (tools, sizes, free disk); the files go to ``--out`` or
``<data dir>/exports/<id>``.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from loralab.config import Settings
from loralab.errors import ConfigError, FieldProblem, InvalidRequest
from loralab.jobs.export_job import ExportSpec, plan_from_config, prepare_export
from loralab.jobs.kinds import Submission
from loralab.store import Database, migrate, new_id

console = Console()


class _Printer:
    """Prints the recipe's phases, steps and log lines."""

    def emit(self, kind: str, data: dict) -> None:
        if kind == "step":
            console.print(f"[dim]step {data['step']}/{data['total_steps']}[/]")

    def log(self, message: str, level: str = "info") -> None:
        style = "yellow" if level == "warning" else ""
        console.print(f"[{style}]{escape(message)}[/]" if style else escape(message))


def register(app: typer.Typer) -> None:
    app.command("export")(export_command)


def export_command(
    adapter_id: str = typer.Argument(help="The adapter's id (see `loralab adapters list`)."),
    format_: list[str] = typer.Option(
        ["adapter", "merged", "gguf"],
        "--format",
        help="adapter, merged or gguf; repeat for several.",
    ),
    quant: list[str] = typer.Option(
        ["f16", "q8_0", "q4_k_m"], "--quant", help="GGUF quantization (f16, q8_0, q4_k_m ...)."
    ),
    dtype: str = typer.Option("float16", "--dtype", help="Merged weights: float16 or bfloat16."),
    parity: bool = typer.Option(True, "--parity/--no-parity", help="Check each GGUF vs HF."),
    modelfile: bool = typer.Option(True, "--modelfile/--no-modelfile", help="Ollama Modelfile."),
    prompt: list[str] = typer.Option([], "--prompt", help="A parity prompt; repeat for several."),
    name: str | None = typer.Option(None, "--name", help="The files' base name."),
    out: Path | None = typer.Option(None, "--out", help="Output folder (default: data dir)."),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="The data dir (~/.loralab)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Export an adapter: PEFT folder, merged weights, GGUF files, Modelfile, parity report."""
    settings = Settings(**({"data_dir": data_dir} if data_dir is not None else {}))
    try:
        spec = ExportSpec(
            adapter=f"adapter:{adapter_id.removeprefix('adapter:')}",
            formats=format_,
            quantizations=quant,
            dtype=dtype,
            parity=parity,
            modelfile=modelfile,
            parity_prompts=prompt or None,
            name=name,
        )
    except ValueError as exc:
        problems = [
            FieldProblem(loc=".".join(map(str, e["loc"])), message=e["msg"])
            for e in getattr(exc, "errors", lambda: [])()
        ]
        raise InvalidRequest("Invalid options.", problems=problems) from None
    job_id = new_id()
    target = (out or settings.data_dir / "exports" / job_id).expanduser().resolve()
    db = Database(settings.resolved_database_url)
    try:
        migrate(db)
        with db.write() as session:
            prepared = prepare_export(session, settings, Submission(spec, job_id, target))
    finally:
        db.dispose()
    if prepared.problems:
        for p in prepared.problems:
            console.print(f"[red]{escape(p.loc)}[/]: {escape(p.message)}")
        raise ConfigError(f"The export has {len(prepared.problems)} problem(s).")
    from loralab.export import run_export

    result = run_export(plan_from_config(prepared.config), target, _Printer(), threading.Event())
    if as_json:
        console.print_json(json.dumps(result))
        return
    for f in result["files"]:
        console.print(f"{escape(str(target / f['name']))}  {f['size_bytes']:,} bytes")
    if result["suspect"]:
        console.print("[bold yellow]suspect[/]: the F16 file disagrees with the merged model")
