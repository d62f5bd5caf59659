"""The ``validate`` job: check a big dataset file in a worker instead of the request.

The datasets service queues it with ``services.jobs.submit_internal(db, settings, "validate",
spec, dataset_id=...)`` where ``spec`` (``ValidateSpec``) is::

    {"dataset_id": "<id>",
     "data": {<DataConfig: source (the stored file), format, field_mapping, system_prompt ...>},
     "max_seq_length": 2048}      # optional

The worker runs ``loralab.data.validate_dataset`` and stores the report on the dataset with
``store.datasets.record_validation``: ``ready`` when at least one row is usable, else
``invalid``; a dataset that cannot be read at all is ``invalid`` with the reason, and the job
fails with it too.
"""

from __future__ import annotations

from pydantic import Field

from loralab.config import DataConfig, StrictModel
from loralab.jobs.kinds import JobKind, Outcome, WorkContext

__all__ = ["KIND", "ValidateSpec", "run_validation"]


class ValidateSpec(StrictModel):
    """The dataset to check and how to read it (its stored file, format and mapping)."""

    dataset_id: str = Field(min_length=1, max_length=64)
    data: DataConfig
    max_seq_length: int = Field(default=2048, ge=16, le=262144)


def run_validation(ctx: WorkContext) -> Outcome:
    """Validate the job's dataset and record the report on it."""
    from loralab.data import validate_dataset
    from loralab.errors import LoralabError
    from loralab.store.datasets import record_validation

    spec = ValidateSpec.model_validate(ctx.job.config)
    reporter, dataset_id, data = ctx.reporter, spec.dataset_id, spec.data
    reporter.emit("phase", {"name": "validating", "message": "Reading and checking every row"})
    try:
        report = validate_dataset(data, max_seq_length=spec.max_seq_length)
    except LoralabError as exc:
        problems = [p.to_dict() for p in exc.problems]
        with reporter.db.write() as session:
            record_validation(
                session, dataset_id, None, status="invalid", error=exc.message, problems=problems
            )
        raise
    usable = report.valid_rows > 0
    error = None if usable else f"None of the {report.total_rows} rows could be used."
    with reporter.db.write() as session:
        record_validation(
            session,
            dataset_id,
            report.model_dump(mode="json"),
            status="ready" if usable else "invalid",
            error=error,
            format=report.format,
            field_mapping=report.field_mapping,
            fingerprint=report.fingerprint,
        )
    summary = {
        "dataset_id": dataset_id,
        "total_rows": report.total_rows,
        "valid_rows": report.valid_rows,
        "invalid_rows": report.invalid_rows,
    }
    reporter.emit("finished", summary)
    return Outcome("completed", summary)


KIND = JobKind(
    name="validate",
    title="Dataset validation",
    description="Read and check every row of a large dataset file, outside the request.",
    spec=ValidateSpec,
    run=run_validation,
    device=False,
    outputs="jobs",
    refers_to=("dataset",),
    submittable=False,
)
