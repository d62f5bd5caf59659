"""What a kind of job is: declared once, in its own module, and listed in ``registry``.

A kind names its spec (a pydantic model validated when the job is submitted), how the server
prepares a submitted spec (resolving references, choosing the output folder), the runner the
worker calls, whether it needs a device, where its outputs live under the data dir, whether it
can resume, and what it refers to. The store, scheduler, event stream and the UI's generic job
view read these facts; none of them names a kind.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy.orm import Session

from loralab.config import Settings
from loralab.errors import FieldProblem

__all__ = ["OUTPUT_ROOTS", "JobKind", "Outcome", "Prepared", "Submission", "WorkContext"]

# Folders under the data dir; "jobs" holds the logs of kinds whose outputs live elsewhere.
OUTPUT_ROOTS = ("runs", "evaluations", "exports", "synth", "jobs")
OutputRoot = Literal["runs", "evaluations", "exports", "synth", "jobs"]


@dataclass
class Submission:
    """A validated spec on its way into the queue (``prepare`` sees and fills it)."""

    spec: BaseModel
    job_id: str
    output_dir: Path
    name: str | None = None


@dataclass
class Prepared:
    """What ``prepare`` made of a submission: the config the worker runs and its references."""

    config: dict[str, Any]
    name: str | None = None
    dataset_id: str | None = None
    adapter_id: str | None = None
    parent_id: str | None = None
    problems: list[FieldProblem] = field(default_factory=list)


@dataclass
class WorkContext:
    """What a runner gets: the job's row, its reporter, the stop flag and the settings."""

    job: Any  # store.tables.JobRow
    reporter: Any  # jobs.reporter.StoreReporter
    stop: threading.Event
    settings: Settings

    @property
    def resume(self) -> bool:
        """A later attempt (or a requested resume) continues from the last checkpoint."""
        return self.job.attempts > 1 or bool(self.job.resume_requested)


@dataclass
class Outcome:
    """How a runner ended: ``completed`` or ``stopped``, and what it produced."""

    status: str
    result: dict[str, Any] | None = None


def _keep(session: Session, settings: Settings, sub: Submission) -> Prepared:
    return Prepared(config=sub.spec.model_dump(mode="json"), name=sub.name)


@dataclass(frozen=True)
class JobKind:
    """One kind of job.

    Attributes:
        name: the ``kind`` stored on the job and sent in ``POST /api/jobs``.
        title: how the UI names one ("Training run").
        description: one line for people.
        spec: the pydantic model a submitted config must validate against.
        run: the worker's entry; imports the heavy stack inside, so importing a kind is cheap.
        device: needs a GPU (shares the device budget and is pinned with CUDA_VISIBLE_DEVICES);
            other kinds run beside them within the CPU job slots.
        outputs: the folder under the data dir that holds each job's outputs, by job id.
        resumable: a stopped, failed or interrupted job can be resumed.
        refers_to: what the job may point at: dataset, adapter, model, parent.
        submittable: accepted from ``POST /api/jobs``; the server starts the others itself.
        prepare: resolves the spec's references inside the submit transaction.
    """

    name: str
    title: str
    description: str
    spec: type[BaseModel]
    run: Callable[[WorkContext], Outcome]
    device: bool = False
    outputs: OutputRoot = "runs"
    resumable: bool = False
    refers_to: tuple[str, ...] = ()
    submittable: bool = True
    prepare: Callable[[Session, Settings, Submission], Prepared] = _keep

    def output_dir(self, data_dir: Path, job_id: str) -> Path:
        """Where a job of this kind writes: ``<data dir>/<outputs>/<job id>``."""
        return Path(data_dir).expanduser() / self.outputs / job_id
