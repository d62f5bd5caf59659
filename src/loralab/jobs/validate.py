"""The ``validate`` job: check a big dataset file in a worker instead of the request.

The datasets service queues it with ``services.jobs.submit_task(db, settings, "validate",
config, dataset_id=...)`` where ``config`` is::

    {"dataset_id": "<id>",
     "data": {<DataConfig: source (the stored file), format, field_mapping, system_prompt ...>},
     "max_seq_length": 2048}      # optional

The worker runs ``loralab.data.validate_dataset`` and stores the report on the dataset with
``store.datasets.record_validation``: ``ready`` when at least one row is usable, else
``invalid``; a dataset that cannot be read at all is ``invalid`` with the reason, and the job
fails with it too.
"""

from __future__ import annotations

from typing import Any

from loralab.errors import LoralabError
from loralab.jobs.reporter import StoreReporter
from loralab.store.tables import JobRow

__all__ = ["run_validation"]


def run_validation(job: JobRow, reporter: StoreReporter) -> str:
    """Validate the job's dataset and record the report on it; returns ``completed``."""
    from loralab.config import DataConfig
    from loralab.data import validate_dataset
    from loralab.store.datasets import record_validation

    cfg: dict[str, Any] = job.config or {}
    dataset_id = cfg.get("dataset_id") or job.dataset_id
    if not dataset_id or "data" not in cfg:
        raise LoralabError(
            "A validate job needs 'dataset_id' and 'data' in its config.", code="invalid_job"
        )
    data = DataConfig.model_validate(cfg["data"])
    reporter.emit("phase", {"name": "validating", "message": "Reading and checking every row"})
    try:
        report = validate_dataset(data, max_seq_length=int(cfg.get("max_seq_length", 2048)))
    except LoralabError as exc:
        problems = [p.to_dict() for p in exc.problems]
        record_validation(
            reporter.db, dataset_id, None, status="invalid", error=exc.message, problems=problems
        )
        raise
    usable = report.valid_rows > 0
    error = None if usable else f"None of the {report.total_rows} rows could be used."
    record_validation(
        reporter.db,
        dataset_id,
        report.model_dump(mode="json"),
        status="ready" if usable else "invalid",
        error=error,
        format=report.format,
        field_mapping=report.field_mapping,
        fingerprint=report.fingerprint,
    )
    reporter.emit(
        "finished",
        {
            "dataset_id": dataset_id,
            "total_rows": report.total_rows,
            "valid_rows": report.valid_rows,
            "invalid_rows": report.invalid_rows,
        },
    )
    return "completed"
