"""``loralab bench [WORKLOAD ...]``: the benchmark workloads side by side, as ratios.

Each workload runs its configurations as whole processes, interleaved (A B A B), ``--repeats``
rounds, and prints a Markdown table of medians with ratios and the issue's goals;
``--record docs/benchmarks.md`` writes each workload's section into that file (``make bench``
does). Run it on an otherwise idle machine: the figures are only as quiet as the machine.
"""

from __future__ import annotations

import shlex
import sys
import tempfile
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from loralab.errors import InvalidRequest

console = Console(stderr=True)


def register(app: typer.Typer) -> None:
    app.command("bench")(bench_command)


def bench_command(
    workloads: list[str] = typer.Argument(
        None, help="Workloads to run (default: all). `--list` shows them.", show_default=False
    ),
    repeats: int = typer.Option(3, "--repeats", min=1, help="Rounds of every configuration."),
    quick: bool = typer.Option(
        False, "--quick", help="A smoke run at cut-down sizes; its figures are not results."
    ),
    record: Path | None = typer.Option(
        None, "--record", help="Write each workload's section into this Markdown file."
    ),
    work_dir: Path | None = typer.Option(
        None, "--work-dir", help="Keep models, data and runs here (default: a temp folder)."
    ),
    list_only: bool = typer.Option(False, "--list", help="List the workloads and exit."),
) -> None:
    """Benchmark loralab against what a user would otherwise run, side by side."""
    from loralab.bench import WORKLOADS

    if list_only:
        for w in WORKLOADS.values():
            print(f"{w.name:12} {w.summary}")
        return
    names = workloads or list(WORKLOADS)
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown:
        raise InvalidRequest(
            f"Unknown workload {', '.join(unknown)}.",
            fix=f"Choose from: {', '.join(WORKLOADS)} (`loralab bench --list`).",
        )
    command = (
        shlex.join(["loralab", "bench", *sys.argv[2:]]) if len(sys.argv) > 1 else "loralab bench"
    )
    if work_dir is None:
        with tempfile.TemporaryDirectory(prefix="loralab-bench-") as tmp:
            _run_all(names, Path(tmp), repeats, quick, record, command)
    else:
        work_dir.mkdir(parents=True, exist_ok=True)
        _run_all(names, work_dir.resolve(), repeats, quick, record, command)


def _run_all(names, work, repeats, quick, record, command) -> None:
    import importlib

    from loralab.bench import WORKLOADS
    from loralab.bench.report import machine_line, render
    from loralab.bench.report import record as write_record
    from loralab.bench.runner import BenchOptions

    options = BenchOptions(
        work_dir=work,
        repeats=repeats,
        quick=quick,
        log=lambda line: console.print(escape(line), style="dim"),
    )
    machine = machine_line()
    failed = []
    for name in names:
        workload = WORKLOADS[name]
        console.print(f"[bold]{name}[/]: {escape(workload.summary)}")
        module = importlib.import_module(f"loralab.bench.{workload.module}")
        try:
            result = module.run(name, options)
        except Exception as exc:  # one workload failing must not lose the others' figures
            console.print(f"[red]{name} failed:[/] {escape(str(exc))}")
            failed.append(name)
            continue
        section = render(result, command=command, machine=machine, quick=quick)
        print(section, flush=True)
        if record is not None and quick:
            console.print("not recorded: a --quick run's figures are not results", style="dim")
        elif record is not None:
            write_record(record, name, section)
            console.print(f"recorded in {escape(str(record))}", style="dim")
    if failed:
        raise typer.Exit(1)
