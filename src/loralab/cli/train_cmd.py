"""``loralab train CONFIG.yaml``: the training recipe in the foreground, with a progress bar.

Ctrl-C stops gracefully: the run finishes its current step, saves a checkpoint and exits with
code 130; ``--resume`` continues from it. A second Ctrl-C aborts at once.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

from loralab.config import PRESETS, load_run_config
from loralab.training import describe_event

console = Console()

# Stopped or aborted by the user, as shells report Ctrl-C. SystemExit rather than typer.Exit:
# the root app runs click with standalone_mode=False, where click returns an Exit's code
# instead of exiting (click 8), and cli/app.py's main() drops that return value.
EXIT_INTERRUPTED = 130


def register(app: typer.Typer) -> None:
    """Add the ``train`` command to the root app."""
    app.command("train")(train_command)


def train_command(
    config: Path = typer.Argument(..., help="A run config YAML (see examples/)."),
    set_: list[str] = typer.Option(
        [], "--set", help="Override a field, e.g. --set train.max_steps=10 (repeatable)."
    ),
    preset: str | None = typer.Option(
        None,
        "--preset",
        help=f"Lay the config over a preset of its train.method ({', '.join(PRESETS['sft'])} "
        "for sft), or METHOD/NAME, e.g. grpo/gspo.",
    ),
    resume: bool = typer.Option(
        False, "--resume", help="Continue from the last complete checkpoint in the output folder."
    ),
    output_dir: Path | None = typer.Option(
        None, "--output-dir", "-o", help="Write here instead of the config's output.dir."
    ),
) -> None:
    """Fine-tune a model with LoRA as the config says. Ctrl-C stops with a checkpoint."""
    cfg = load_run_config(config, overrides=set_, preset=preset)
    if output_dir is not None:
        cfg.output.dir = str(output_dir)

    # Imported here: torch and friends take seconds to load, and `loralab --help` should not.
    from loralab.training import train

    stop = threading.Event()
    reporter = ConsoleReporter(console)
    try:
        with _stop_on_signals(stop), reporter:
            result = train(cfg, reporter, resume=resume, stop=stop)
    except KeyboardInterrupt:
        console.print("[red]Aborted.[/] Checkpoints already complete are still resumable.")
        raise SystemExit(EXIT_INTERRUPTED) from None

    if result.status == "stopped":
        again = f"loralab train {config} --resume" + (
            f" --output-dir {output_dir}" if output_dir else ""
        )
        if result.checkpoint_dir:
            console.print(
                f"Stopped at step {result.step}/{result.total_steps}.\n"
                f"  checkpoint: {result.checkpoint_dir}\n  resume with: {again}"
            )
        else:
            console.print("Stopped before the first step; nothing to resume.")
        raise SystemExit(EXIT_INTERRUPTED)

    metrics = ", ".join(
        f"{k} {v:.4g}" for k, v in result.metrics.items() if k in ("train_loss", "eval_loss")
    )
    console.print(
        f"[green]Finished[/] at step {result.step}/{result.total_steps}"
        + (f" ({metrics})" if metrics else "")
        + f".\n  adapter:    {result.adapter_dir}"
        + f"\n  checkpoint: {result.checkpoint_dir}"
        + f"\n  run card:   {result.run_card}"
    )


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """First SIGINT/SIGTERM sets ``stop``; a second SIGINT raises KeyboardInterrupt."""

    def on_signal(signum, frame):
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set()
        console.print(
            "[yellow]Stopping after this step and saving a checkpoint[/] "
            "(Ctrl-C again to abort without saving)."
        )

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s" if m else f"{s}s"


class ConsoleReporter:
    """Shows a run in the terminal: named phases, then a live bar with loss, LR, tok/s and ETA.

    When the output is not a terminal (a pipe, a CI log), it prints one plain line per event
    instead, so logs stay readable.
    """

    def __init__(self, console: Console) -> None:
        self.console = console
        self.live = console.is_terminal
        self.progress: Progress | None = None
        self.task = None
        self._last_stats = ""

    def __enter__(self) -> ConsoleReporter:
        if self.live:
            self.progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[stats]}"),
                console=self.console,
                transient=False,
            )
            self.progress.start()
            self.task = self.progress.add_task("Starting", total=None, stats="")
        return self

    def __exit__(self, *exc) -> None:
        if self.progress is not None:
            self.progress.stop()

    def _print(self, text: str) -> None:
        target = self.progress.console if self.progress is not None else self.console
        # soft_wrap: a log file or CI page should get whole lines, not 80-column fragments.
        target.print(text, highlight=False, soft_wrap=not self.live)

    def _update(self, **kwargs) -> None:
        if self.progress is not None and self.task is not None:
            self.progress.update(self.task, **kwargs)

    def report(self, event) -> None:
        kind = event.type
        if kind == "phase":
            if self.live:
                if event.total is not None:  # a counted phase: show its own progress
                    self._update(
                        description=escape(event.message),
                        total=event.total,
                        completed=event.current or 0,
                    )
                else:
                    self._update(description=escape(event.message))
            elif event.current is None or event.current in (0, event.total):
                self._print(f"{event.name}: {escape(event.message)}")
        elif kind == "run_started":
            self._print(f"{escape(describe_event(event))}\n  output: {escape(event.output_dir)}")
            self._update(total=event.total_steps, completed=event.resumed_from or 0)
        elif kind == "step":
            self._step(event)
        elif kind in ("eval", "checkpoint"):
            self._print(escape(describe_event(event)))
        elif kind == "log":
            self._print(f"{event.level}: {escape(event.message)}")
        # "failed" is not printed here: the CLI's main prints the error once, with its code.

    def _step(self, event) -> None:
        parts = []
        if event.loss is not None:
            parts.append(f"loss {event.loss:.4f}")
        if event.learning_rate is not None:
            parts.append(f"lr {event.learning_rate:.2e}")
        if event.tokens_per_second is not None:
            parts.append(f"{event.tokens_per_second:,.0f} tok/s")
        if parts:
            self._last_stats = " ".join(parts)
        eta = ""
        if event.eta_seconds:
            eta = f"ETA {_duration(event.eta_seconds)} ({_duration(event.eta_low_seconds)}-" + (
                f"{_duration(event.eta_high_seconds)})"
            )
        stats = f"{self._last_stats}  {_duration(event.elapsed_seconds)} elapsed  {eta}".strip()
        if self.live:
            self._update(
                description=f"epoch {event.epoch:.2f}",
                total=event.total_steps,
                completed=event.step,
                stats=stats,
            )
        elif event.loss is not None:
            self._print(f"step {event.step}/{event.total_steps}  {stats}")
