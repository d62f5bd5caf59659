"""``loralab config show | schema``."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.syntax import Syntax

from loralab.config import (
    PRESETS,
    RunConfig,
    apply_overrides,
    apply_preset,
    dump_run_config,
    load_run_config,
    parse_run_config,
)

app = typer.Typer(no_args_is_help=True)
console = Console()


@app.command("show")
def show(
    config: Path | None = typer.Argument(None, help="A run config YAML; omit to show a preset."),
    preset: str = typer.Option(
        "recommended",
        help="Preset: NAME of the method that --set train.method=... names (sft when none), or "
        "METHOD/NAME. " + "; ".join(f"{m}: {', '.join(n)}" for m, n in PRESETS.items()) + ".",
    ),
    set_: list[str] = typer.Option([], "--set", help="Override a field: section.field=value."),
) -> None:
    """Print the fully resolved config (every default filled in) as YAML."""
    if config is not None:
        cfg = load_run_config(config, overrides=set_)
    else:
        raw = apply_preset(apply_overrides({}, set_), preset)
        raw.setdefault("model", {"name_or_path": "Qwen/Qwen2.5-0.5B-Instruct"})
        raw.setdefault("data", {"source": "data.jsonl"})
        cfg = parse_run_config(raw)
    console.print(Syntax(dump_run_config(cfg), "yaml", background_color="default"))


@app.command("schema")
def schema() -> None:
    """Print the RunConfig JSON schema (the same one the UI and REST API use)."""
    typer.echo(json.dumps(RunConfig.model_json_schema(), indent=2))
