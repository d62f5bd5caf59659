"""What a job produced: its metric curves, log lines, checkpoints and run card.

Curves and logs come from the job's events in the store; checkpoints and the run card from its
run folder (read without the training stack).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from loralab.errors import NotFound
from loralab.jobs import list_checkpoints, read_run_card
from loralab.services import UtcDateTime
from loralab.store import Database
from loralab.store import jobs as store
from loralab.store.events import events_of_type, last_events_of_type

__all__ = [
    "Checkpoint",
    "JobLogs",
    "JobMetrics",
    "LogLine",
    "StepMetrics",
    "job_checkpoints",
    "job_logs",
    "job_metrics",
    "job_run_card",
]


class StepMetrics(BaseModel):
    """One optimizer step's training metrics (None on steps that did not log).

    ``metrics`` holds the method's own numbers by the trainer's names: for GRPO ``reward``,
    ``reward_std``, ``rewards/<function>/mean`` and ``/std``, ``kl``, ``clip_ratio/*``,
    ``completions/mean_length`` ..., ``entropy``; for DPO ``rewards/margins``,
    ``rewards/accuracies``, ``logps/chosen`` ...
    """

    step: int
    loss: float | None = None
    learning_rate: float | None = None
    grad_norm: float | None = None
    tokens_per_second: float | None = None
    epoch: float | None = None
    metrics: dict[str, float] = Field(default_factory=dict)


class JobMetrics(BaseModel):
    """The whole run's curves: every step, and every evaluation (``{step, eval_loss, ...}``).

    ``warmup_steps`` are the steps of an SFT warm-up that ran before the method's own (GRPO
    with ``train.warmup``); their step numbers start again at 1.
    """

    steps: list[StepMetrics]
    evals: list[dict[str, Any]]
    warmup_steps: list[StepMetrics] = Field(default_factory=list)


class LogLine(BaseModel):
    """One line of a job's log."""

    seq: int
    level: str
    message: str
    time: UtcDateTime


class JobLogs(BaseModel):
    """The newest lines of a job's log, oldest first."""

    lines: list[LogLine]


class Checkpoint(BaseModel):
    """A ``checkpoint-N`` folder; only ``complete`` ones can be resumed from."""

    step: int
    path_name: str
    complete: bool
    created_at: UtcDateTime


def _not_found(job_id: str) -> NotFound:
    return NotFound(f"Job '{job_id}' does not exist.", code="job_not_found")


def job_metrics(db: Database, job_id: str) -> JobMetrics:
    """Every step's training metrics and every evaluation, for the charts.

    After a resume the steps redone since the checkpoint replace the ones reported before it.
    """
    with store.reading(db) as session:
        if store.get_job(session, job_id) is None:
            raise _not_found(job_id)
        events = events_of_type(session, job_id, ("step", "eval"))
    steps: dict[int, StepMetrics] = {}
    warmup: dict[int, StepMetrics] = {}
    evals: dict[int, dict[str, Any]] = {}
    for e in events:
        step = e.data.get("step")
        if step is None:
            continue
        if e.type == "step":
            fields = {k: e.data.get(k) for k in _SCALARS}
            extra = e.data.get("metrics") or {}
            numbers = {k: float(v) for k, v in extra.items() if isinstance(v, (int, float))}
            into = warmup if e.data.get("stage") == "warmup" else steps
            into[step] = StepMetrics(step=step, metrics=numbers, **fields)
        else:
            evals[step] = {"step": step, **(e.data.get("metrics") or {})}
    return JobMetrics(
        steps=[steps[k] for k in sorted(steps)],
        evals=[evals[k] for k in sorted(evals)],
        warmup_steps=[warmup[k] for k in sorted(warmup)],
    )


_SCALARS = ("loss", "learning_rate", "grad_norm", "tokens_per_second", "epoch")


def job_logs(db: Database, job_id: str, tail: int = 200) -> JobLogs:
    """The newest ``tail`` lines of the job's log."""
    with store.reading(db) as session:
        if store.get_job(session, job_id) is None:
            raise _not_found(job_id)
        events = last_events_of_type(session, job_id, ("log",), tail)
    return JobLogs(
        lines=[
            LogLine(
                seq=e.seq,
                level=str(e.data.get("level", "info")),
                message=str(e.data.get("message", "")),
                time=store.as_utc(e.created_at),
            )
            for e in events
        ]
    )


def _output_dir(db: Database, job_id: str) -> Path | None:
    with store.reading(db) as session:
        row = store.get_job(session, job_id)
    if row is None:
        raise _not_found(job_id)
    return Path(row.output_dir) if row.output_dir else None


def job_checkpoints(db: Database, job_id: str) -> list[Checkpoint]:
    """The run's checkpoints, oldest first."""
    output_dir = _output_dir(db, job_id)
    if output_dir is None:
        return []
    return [
        Checkpoint(step=c.step, path_name=c.path_name, complete=c.complete, created_at=c.created_at)
        for c in list_checkpoints(output_dir)
    ]


def job_run_card(db: Database, job_id: str) -> dict[str, Any]:
    """The run card (404 ``run_card_not_found`` until the run has written it)."""
    output_dir = _output_dir(db, job_id)
    card = read_run_card(output_dir) if output_dir is not None else None
    if card is None:
        raise NotFound(
            f"Job '{job_id}' has no run card yet; it is written when the run ends.",
            code="run_card_not_found",
        )
    return card
