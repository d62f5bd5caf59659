"""The ``validate`` job kind: a worker checks a dataset and records the report on it."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest

from loralab.jobs import Scheduler
from loralab.services import jobs as service
from loralab.store.datasets import create_dataset
from loralab.store.jobs import reading
from loralab.store.tables import DatasetRow

from .jobs_support import wait_status, worker_log


def _stored_dataset(db, settings, source: Path) -> tuple[str, Path]:
    folder = Path(settings.data_dir) / "datasets"
    folder.mkdir(parents=True, exist_ok=True)
    stored = folder / f"{uuid.uuid4().hex}{source.suffix}"
    shutil.copyfile(source, stored)
    with db.write() as session:
        row = create_dataset(
            session, name=source.name, kind="upload", stored_name=stored.name, status="validating"
        )
    return row.id, stored


@pytest.mark.parametrize(
    ("sample", "job_status", "dataset_status"),
    [
        ("openai_messages_sample.jsonl", "completed", "ready"),
        ("malformed/empty.jsonl", "failed", "invalid"),
    ],
)
def test_validate_job_records_the_report(
    db, settings, formats_dir, sample, job_status, dataset_status
):
    source = formats_dir / sample
    if not source.exists():
        pytest.fail(f"sample {source} is missing")
    dataset_id, stored = _stored_dataset(db, settings, source)
    job = service.submit_internal(
        db,
        settings,
        "validate",
        {"dataset_id": dataset_id, "data": {"source": str(stored)}, "max_seq_length": 256},
        dataset_id=dataset_id,
    )
    scheduler = Scheduler(db, settings, poll_seconds=0.2).start()
    try:
        row = wait_status(db, job.id, ("completed", "failed", "interrupted"), timeout=120)
    finally:
        scheduler.stop()

    assert row.status == job_status, worker_log(settings, job.id)
    with reading(db) as session:
        dataset = session.get(DatasetRow, dataset_id)
    assert dataset.status == dataset_status
    if dataset_status == "ready":
        assert dataset.report["total_rows"] == 200
        assert dataset.format == "messages"
    else:
        assert dataset.error
        assert row.reason
