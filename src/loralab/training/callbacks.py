"""TrainerCallbacks shared by every recipe: graceful stop, atomic checkpoints, progress events.

Order matters in the Trainer's callback list (transformers 5.23 calls them in order, after its
own DefaultFlowCallback): ``StopOnRequest`` first (it may ask for a save), then
``CompleteCheckpoints`` (it must see that save request), then ``ReportProgress`` (it must see
whether this step will be logged). ``training_callbacks()`` builds them in that order.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from transformers import TrainerCallback

from loralab.training.checkpoints import (
    check_checkpoint_space,
    mark_complete,
    rotate_checkpoints,
    unmark,
)
from loralab.training.progress import StepClock
from loralab.training.reporter import (
    CheckpointSaved,
    EvalResult,
    Phase,
    Reporter,
    RunStarted,
    StepProgress,
)
from loralab.training.run import StopEvent

__all__ = [
    "CompleteCheckpoints",
    "ReportProgress",
    "RunFacts",
    "StopOnRequest",
    "method_metrics",
    "training_callbacks",
]


# Log keys that StepProgress carries in its own fields (or that are counters, not curves).
_OWN_FIELDS = frozenset(
    {"loss", "learning_rate", "grad_norm", "num_tokens", "epoch", "step", "total_flos"}
)


@dataclass(frozen=True)
class RunFacts:
    """What ``RunStarted`` reports that the Trainer does not know."""

    method: str
    train_examples: int
    eval_examples: int
    output_dir: str
    resumed_from: int | None
    device: str
    threads: int | None
    stage: Literal["train", "warmup"] = "train"


class StopOnRequest(TrainerCallback):
    """At the end of a step where ``stop.is_set()``, save a checkpoint and end training.

    ``requested_at`` is the step where the stop took effect (None if it never did).
    """

    def __init__(self, stop: StopEvent | None) -> None:
        self.stop = stop
        self.requested_at: int | None = None

    def on_step_end(self, args, state, control, **kwargs):
        if self.stop is not None and self.stop.is_set() and self.requested_at is None:
            self.requested_at = state.global_step
            control.should_save = True
            control.should_log = True  # so the last loss before the stop is reported
            control.should_training_stop = True
        return control


class CompleteCheckpoints(TrainerCallback):
    """Marks each checkpoint complete once on disk, rotates old ones, reports ``CheckpointSaved``.

    Args:
        reporter: gets a ``CheckpointSaved`` after the marker is written.
        clock: gives the elapsed training time stored in the marker (for ETA/elapsed on resume).
        keep: how many complete checkpoints to keep (None keeps all).
    """

    def __init__(self, reporter: Reporter, clock: StepClock, keep: int | None) -> None:
        self.reporter = reporter
        self.clock = clock
        self.keep = keep
        self.last_path: Path | None = None

    def on_step_end(self, args, state, control, **kwargs):
        if control.should_save and state.is_world_process_zero:
            # The Trainer is about to (re)write checkpoint-N; it must not look complete meanwhile.
            path = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            if path.is_dir():
                unmark(path)
            # A full disk fails the run with the numbers, not with a half-written checkpoint.
            check_checkpoint_space(args.output_dir, state.global_step)
        return control

    def on_save(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:  # only the main process writes checkpoints
            return control
        path = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        mark_complete(
            path,
            {
                "step": state.global_step,
                "max_steps": state.max_steps,
                "elapsed_seconds": round(self.clock.elapsed, 3),
            },
        )
        rotate_checkpoints(args.output_dir, self.keep)
        self.last_path = path
        self.reporter.report(CheckpointSaved(step=state.global_step, path=str(path)))
        return control


class ReportProgress(TrainerCallback):
    """Turns Trainer events into ``RunStarted``, ``Phase``, ``StepProgress`` and ``EvalResult``."""

    def __init__(self, reporter: Reporter, clock: StepClock, facts: RunFacts) -> None:
        self.reporter = reporter
        self.clock = clock
        self.facts = facts
        self.train_metrics: dict[str, float] = {}  # the Trainer's summary at the end of train()
        self.last_eval: dict[str, float] = {}
        self.last_loss: float | None = None
        self.last_metrics: dict[str, float] = {}  # the method's own, from the last logged step

    # With several processes (torchrun), only the main one reports.
    def on_train_begin(self, args, state, control, model=None, **kwargs):
        self.clock.start()
        if not state.is_world_process_zero:
            return control
        trainable, total = _count_params(model)
        self.reporter.report(
            RunStarted(
                method=self.facts.method,
                total_steps=state.max_steps,
                num_epochs=float(state.num_train_epochs),
                train_examples=self.facts.train_examples,
                eval_examples=self.facts.eval_examples,
                effective_batch_size=args.per_device_train_batch_size
                * args.gradient_accumulation_steps
                * max(args.world_size, 1),
                trainable_params=trainable,
                total_params=total,
                output_dir=self.facts.output_dir,
                resumed_from=self.facts.resumed_from,
                device=self.facts.device,
                threads=self.facts.threads,
                stage=self.facts.stage,
            )
        )
        if state.global_step < state.max_steps:
            self.reporter.report(
                Phase(name="first_step", message=f"Running step {state.global_step + 1}")
            )
        return control

    def on_step_end(self, args, state, control, **kwargs):
        self.clock.tick()
        if state.global_step >= state.max_steps:
            control.should_log = True  # always report the final loss, whatever logging_steps
        # A logged step is reported from on_log, with its loss.
        if not control.should_log and state.is_world_process_zero:
            self.reporter.report(self._step(state))
        return control

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = logs or {}
        if not state.is_world_process_zero:
            return control
        if "loss" in logs:
            tokens = logs.get("num_tokens")
            self.last_loss = _num(logs.get("loss"))
            self.last_metrics = method_metrics(logs)
            self.reporter.report(
                self._step(
                    state,
                    loss=self.last_loss,
                    learning_rate=_num(logs.get("learning_rate")),
                    grad_norm=_num(logs.get("grad_norm")),
                    tokens_per_second=(
                        self.clock.tokens_per_second(float(tokens)) if tokens is not None else None
                    ),
                    metrics=self.last_metrics,
                )
            )
        elif "train_runtime" in logs:
            self.train_metrics = {k: float(v) for k, v in logs.items() if _num(v) is not None}
        return control

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        clean = {
            k: float(v) for k, v in (metrics or {}).items() if _num(v) is not None and k != "epoch"
        }
        self.last_eval = clean
        if state.is_world_process_zero:
            self.reporter.report(EvalResult(step=state.global_step, metrics=clean))
        return control

    def _step(self, state, **values: Any) -> StepProgress:
        eta = self.clock.eta(state.global_step, state.max_steps)
        return StepProgress(
            step=state.global_step,
            total_steps=state.max_steps,
            epoch=float(state.epoch or 0.0),
            elapsed_seconds=round(self.clock.elapsed, 3),
            eta_seconds=eta.seconds if eta else None,
            eta_low_seconds=eta.low if eta else None,
            eta_high_seconds=eta.high if eta else None,
            eta_basis=eta.basis if eta else None,
            stage=self.facts.stage,
            **values,
        )


def training_callbacks(
    reporter: Reporter,
    clock: StepClock,
    facts: RunFacts,
    *,
    stop: StopEvent | None,
    keep_checkpoints: int | None,
) -> tuple[StopOnRequest, CompleteCheckpoints, ReportProgress]:
    """The three callbacks, in the order the Trainer must call them."""
    return (
        StopOnRequest(stop),
        CompleteCheckpoints(reporter, clock, keep_checkpoints),
        ReportProgress(reporter, clock, facts),
    )


def method_metrics(logs: dict[str, Any]) -> dict[str, float]:
    """The numbers of a training log beyond loss, learning rate and grad norm, by their
    trainer names (``reward``, ``rewards/format/mean``, ``kl``, ``rewards/margins`` ...)."""
    out = {}
    for key, value in logs.items():
        number = _num(value)
        if number is not None and key not in _OWN_FIELDS and not key.startswith("eval_"):
            out[key] = number
    return out


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _count_params(model) -> tuple[int, int]:
    if model is None:
        return 0, 0
    trainable = total = 0
    for p in model.parameters():
        n = p.numel()
        # 4-bit weights are packed two to a byte (bitsandbytes Params4bit); count real weights.
        if hasattr(p, "quant_state"):
            n *= 2
        total += n
        if p.requires_grad:
            trainable += n
    return trainable, total
