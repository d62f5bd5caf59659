"""Every kind of job, listed once. Adding a kind is one module with its ``KIND`` and one line
here; the store, scheduler, event stream and the UI's generic job view need no edits."""

from __future__ import annotations

from loralab.errors import ConfigError, FieldProblem
from loralab.jobs import (
    demo_model,
    evaluate_job,
    export_job,
    generate_job,
    push_job,
    starter_model,
    train_job,
    validate,
)
from loralab.jobs.kinds import JobKind

__all__ = ["JOB_KINDS", "device_kinds", "get_kind"]

JOB_KINDS: dict[str, JobKind] = {
    kind.name: kind
    for kind in (
        train_job.KIND,
        validate.KIND,
        demo_model.KIND,
        starter_model.KIND,
        evaluate_job.KIND,
        generate_job.KIND,
        export_job.KIND,
        push_job.KIND,
    )
}


def get_kind(name: str, *, loc: str = "kind") -> JobKind:
    """The kind called ``name`` (422 ``unknown_job_kind`` naming the known ones)."""
    kind = JOB_KINDS.get(name)
    if kind is None:
        known = ", ".join(JOB_KINDS)
        raise ConfigError(
            f"Unknown job kind '{name[:64]}'.",
            code="unknown_job_kind",
            problems=[FieldProblem(loc=loc, message=f"must be one of: {known}")],
            fix=f"Use one of: {known}.",
        )
    return kind


def device_kinds() -> tuple[str, ...]:
    """The kinds that need a device (they share the device budget)."""
    return tuple(name for name, kind in JOB_KINDS.items() if kind.device)
