"""The end of every recipe, shared: save the adapter and the run card, report how it ended.

    trainer.train() done -> adapter/ + tokenizer (unless stopped) -> run_card.json + README.md
    -> Finished or Stopped event -> RunResult

SFT's recipe spells these steps out itself; the preference and GRPO recipes call
``finish_run`` so each of them stays a page long.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from loralab.config import RunConfig
from loralab.training.builders import Choice
from loralab.training.callbacks import ReportProgress, StopOnRequest
from loralab.training.environment import ThreadChoice
from loralab.training.layout import RunLayout, save_adapter
from loralab.training.progress import StepClock
from loralab.training.reporter import Finished, Phase, Reporter, Stopped
from loralab.training.run import RunResult, StopEvent
from loralab.training.run_card import build_run_card, write_run_card

__all__ = [
    "final_metrics",
    "finish_run",
    "library_warnings_silenced",
    "stop_requested",
    "stopped_before_training",
]


def finish_run(
    trainer,
    tokenizer,
    config: RunConfig,
    layout: RunLayout,
    reporter: Reporter,
    *,
    stop_cb: StopOnRequest,
    progress_cb: ReportProgress,
    clock: StepClock,
    data_facts: dict[str, Any],
    timings: dict[str, float],
    started: float,
    resumed_from: int | None,
    threads: int | None,
    device: str,
    speed: Mapping[str, Choice | ThreadChoice] | None = None,
) -> RunResult:
    """After ``trainer.train()``: save the adapter (unless the run stopped), write the run card,
    report ``Finished`` or ``Stopped`` and return the ``RunResult``.

    ``speed`` is what the recipe decided for itself (``threads``, ``gradient_checkpointing``),
    each with its reason; the run card records them as SFT's does.
    """
    state = trainer.state
    stopped = stop_cb.requested_at is not None and state.global_step < state.max_steps
    adapter = None
    if not stopped:
        reporter.report(Phase(name="saving", message="Saving the adapter and run card"))
        mark = time.monotonic()
        model = trainer.model
        if "ref" in getattr(model, "peft_config", {}):  # TRL's frozen copy of a continued adapter
            model.delete_adapter("ref")
        save_adapter(model, tokenizer, layout.adapter)
        adapter = layout.adapter
        timings["save"] = time.monotonic() - mark
    timings["total"] = time.monotonic() - started
    metrics = final_metrics(progress_cb, clock)
    checkpoint = layout.last_checkpoint()
    status = "stopped" if stopped else "completed"
    card = write_run_card(
        layout.root,
        build_run_card(
            config,
            status=status,
            step=state.global_step,
            total_steps=state.max_steps,
            metrics=metrics,
            data=data_facts,
            timings=timings,
            adapter_path=str(adapter) if adapter else None,
            checkpoint_path=str(checkpoint) if checkpoint else None,
            resumed_from=resumed_from,
            threads=threads,
            device=device,
            speed={name: choice.facts() for name, choice in speed.items()} if speed else None,
        ),
    )
    if stopped:
        reporter.report(
            Stopped(step=state.global_step, checkpoint_path=str(checkpoint) if checkpoint else None)
        )
    else:
        reporter.report(
            Finished(
                step=state.global_step,
                metrics=metrics,
                adapter_path=str(adapter),
                run_card_path=str(card),
                elapsed_seconds=round(clock.elapsed, 3),
            )
        )
    return RunResult(
        status=status,
        step=state.global_step,
        total_steps=state.max_steps,
        output_dir=layout.root,
        adapter_dir=adapter,
        checkpoint_dir=checkpoint,
        run_card=card,
        resumed_from=resumed_from,
        metrics=metrics,
    )


def final_metrics(progress_cb: ReportProgress, clock: StepClock) -> dict[str, float]:
    """The run card's metrics: the last loss, the mean loss, the last eval, the last method
    metrics (reward, margins ...) and the training seconds."""
    metrics: dict[str, float] = {}
    if progress_cb.last_loss is not None:
        metrics["train_loss"] = progress_cb.last_loss
    if "train_loss" in progress_cb.train_metrics:
        metrics["train_loss_mean"] = progress_cb.train_metrics["train_loss"]
    metrics.update(progress_cb.last_metrics)
    metrics.update(progress_cb.last_eval)
    metrics["train_seconds"] = round(clock.elapsed, 3)
    return metrics


@contextmanager
def library_warnings_silenced() -> Iterator[None]:
    """Warnings of the libraries that nobody can act on (see each filter's reason)."""
    with warnings.catch_warnings():
        # peft 0.21 reads model.is_gradient_checkpointing, deprecated by transformers 5.23.
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*")
        # trl 1.16 warns on every experimental import (ORPO lives in trl.experimental).
        warnings.filterwarnings("ignore", message=".*experimental.*", category=UserWarning)
        yield


def stop_requested(stop: StopEvent | None) -> bool:
    """Whether a stop was asked for (checked between the phases before training)."""
    return stop is not None and stop.is_set()


def stopped_before_training(layout: RunLayout, reporter: Reporter) -> RunResult:
    """Report a stop that came before the first step; nothing to resume from."""
    reporter.report(Stopped(step=0, checkpoint_path=None, reason="stopped before the first step"))
    return RunResult(status="stopped", step=0, total_steps=0, output_dir=layout.root)
