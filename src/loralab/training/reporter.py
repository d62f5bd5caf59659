"""How a training run tells the world what it is doing: small event dataclasses and a Reporter.

The recipe never prints and never touches the database. It hands events to a ``Reporter``: the
job worker's writes them to the store (the browser charts them), the CLI's draws a progress bar,
tests collect them in a ``ListReporter``. Every event has ``to_dict()`` with a ``type`` key and a
``time`` (Unix seconds), so it can go to JSON unchanged.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Literal, Protocol, TypeVar, runtime_checkable

__all__ = [
    "CheckpointSaved",
    "EvalResult",
    "Event",
    "Failed",
    "Finished",
    "ListReporter",
    "LogLine",
    "MultiReporter",
    "Phase",
    "PhaseName",
    "Reporter",
    "RunStarted",
    "Stopped",
    "StepProgress",
    "describe_event",
]

# Start-up and wind-down phases, named so the UI can say what is happening before the first step
# and why 100% is not reached until the files are on disk.
PhaseName = Literal["preparing_data", "loading_model", "tokenizing", "first_step", "saving"]


@dataclass(frozen=True, kw_only=True)
class _Event:
    type: ClassVar[str] = "event"
    time: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        """The event as a JSON-ready dict, with its ``type``."""
        return {"type": self.type, **asdict(self)}


@dataclass(frozen=True, kw_only=True)
class RunStarted(_Event):
    """The trainer is built and about to take its first step (or its first step after a resume)."""

    type: ClassVar[str] = "run_started"
    method: str
    total_steps: int
    num_epochs: float
    train_examples: int
    eval_examples: int
    effective_batch_size: int
    trainable_params: int
    total_params: int
    output_dir: str
    resumed_from: int | None = None  # the step of the checkpoint resumed from, if any
    device: str = "cpu"
    threads: int | None = None
    stage: Literal["train", "warmup"] = "train"


@dataclass(frozen=True, kw_only=True)
class Phase(_Event):
    """A named phase started, or moved on (``current`` of ``total`` when it can be counted)."""

    type: ClassVar[str] = "phase"
    name: PhaseName
    message: str
    current: int | None = None
    total: int | None = None


@dataclass(frozen=True, kw_only=True)
class StepProgress(_Event):
    """One optimizer step done. ``loss``/``learning_rate``/``grad_norm`` are set on logging steps.

    ``metrics`` holds the method's own numbers on logging steps, under the trainer's names: for
    GRPO ``reward``, ``reward_std``, ``rewards/<function>/mean`` and ``/std``, ``kl`` (beta > 0),
    ``clip_ratio/*``, ``completions/mean_length`` (``min_length``, ``max_length``), ``entropy``;
    for DPO/ORPO ``rewards/margins``, ``rewards/accuracies``, ``logps/chosen``, ``logps/rejected``.
    ``stage`` is ``"warmup"`` for the steps of an SFT warm-up run before the method's own.

    ``elapsed_seconds`` counts training time across resumes. The ETA comes from a moving window of
    recent step times in this session (never from the time before a resume): ``eta_seconds`` is
    the mean, ``eta_low_seconds``/``eta_high_seconds`` the quartiles, ``eta_basis`` says so.
    """

    type: ClassVar[str] = "step"
    step: int
    total_steps: int
    epoch: float
    loss: float | None = None
    learning_rate: float | None = None
    grad_norm: float | None = None
    tokens_per_second: float | None = None
    elapsed_seconds: float = 0.0
    eta_seconds: float | None = None
    eta_low_seconds: float | None = None
    eta_high_seconds: float | None = None
    eta_basis: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    stage: Literal["train", "warmup"] = "train"


@dataclass(frozen=True, kw_only=True)
class EvalResult(_Event):
    """An evaluation finished; ``metrics`` holds ``eval_loss`` and friends."""

    type: ClassVar[str] = "eval"
    step: int
    metrics: dict[str, float]


@dataclass(frozen=True, kw_only=True)
class CheckpointSaved(_Event):
    """A checkpoint is complete on disk (its COMPLETE marker is written) and can be resumed from."""

    type: ClassVar[str] = "checkpoint"
    step: int
    path: str


@dataclass(frozen=True, kw_only=True)
class LogLine(_Event):
    """A line for the run's log."""

    type: ClassVar[str] = "log"
    message: str
    level: Literal["debug", "info", "warning", "error"] = "info"


@dataclass(frozen=True, kw_only=True)
class Finished(_Event):
    """The run completed: the adapter and run card are on disk."""

    type: ClassVar[str] = "finished"
    step: int
    metrics: dict[str, float]
    adapter_path: str
    run_card_path: str
    elapsed_seconds: float


@dataclass(frozen=True, kw_only=True)
class Stopped(_Event):
    """The run stopped on request; resume from ``checkpoint_path`` (None if no step ran)."""

    type: ClassVar[str] = "stopped"
    step: int
    checkpoint_path: str | None
    reason: str = "stop requested"


@dataclass(frozen=True, kw_only=True)
class Failed(_Event):
    """The run failed. ``code`` is the LoralabError code when there is one."""

    type: ClassVar[str] = "failed"
    reason: str
    code: str | None = None
    fix: str | None = None
    traceback: str | None = None


Event = (
    RunStarted
    | Phase
    | StepProgress
    | EvalResult
    | CheckpointSaved
    | LogLine
    | Finished
    | Stopped
    | Failed
)

E = TypeVar("E", bound=_Event)


@runtime_checkable
class Reporter(Protocol):
    """Receives every event of a run, in order, on the training thread. Keep ``report`` quick."""

    def report(self, event: Event) -> None: ...


class ListReporter:
    """Keeps every event in ``events``; for tests, and for a worker that flushes in batches."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def report(self, event: Event) -> None:
        self.events.append(event)

    def of(self, kind: type[E]) -> list[E]:
        """The events of one class, in order (e.g. ``reporter.of(StepProgress)``)."""
        return [e for e in self.events if isinstance(e, kind)]

    # No __len__ on purpose: an empty reporter must stay truthy (`reporter or default`).
    def __iter__(self) -> Iterator[Event]:
        return iter(self.events)


class MultiReporter:
    """Sends each event to several reporters, in the order given."""

    def __init__(self, *reporters: Reporter) -> None:
        self.reporters = list(reporters)

    def report(self, event: Event) -> None:
        for reporter in self.reporters:
            reporter.report(event)


def _threads(n: int | None) -> str:
    return "default threads" if not n else f"{n} thread{'' if n == 1 else 's'}"


def describe_event(event: Event) -> str | None:
    """The line a run's log shows for a milestone (start, eval, checkpoint, end), else None.

    Steps, phases and log lines have their own displays; a failure is logged with its traceback
    by whoever runs the recipe.
    """
    if isinstance(event, RunStarted):
        resumed = f", resumed from step {event.resumed_from}" if event.resumed_from else ""
        what = f"an SFT warm-up for {event.method}" if event.stage == "warmup" else event.method
        return (
            f"Training {what} on {event.device} ({_threads(event.threads)}): "
            f"{event.train_examples} examples, {event.total_steps} steps, effective batch "
            f"{event.effective_batch_size}, {event.trainable_params:,} of "
            f"{event.total_params:,} parameters trainable{resumed}."
        )
    if isinstance(event, EvalResult):
        shown = ", ".join(f"{k} {v:.4g}" for k, v in event.metrics.items() if "loss" in k)
        return f"eval at step {event.step}: {shown or 'done'}"
    if isinstance(event, CheckpointSaved):
        return f"checkpoint saved: {event.path}"
    if isinstance(event, Finished):
        loss = event.metrics.get("train_loss")
        shown = f" (train_loss {loss:.4g})" if isinstance(loss, (int, float)) else ""
        return f"Finished at step {event.step}{shown}; adapter: {event.adapter_path}"
    if isinstance(event, Stopped):
        where = event.checkpoint_path or "no checkpoint (no step had run)"
        return f"Stopped at step {event.step} ({event.reason}); resume from {where}"
    return None
