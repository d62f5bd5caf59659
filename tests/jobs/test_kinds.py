"""Adding a kind is one ``JobKind`` and one registry entry: the store, the scheduler, the API
and the worker's loop take it as it is. Proved with a kind that exists only in this test."""

from __future__ import annotations

import threading

import pytest
from fastapi.testclient import TestClient
from pydantic import Field

from loralab.api.app import create_app
from loralab.config import StrictModel
from loralab.jobs import JOB_KINDS, JobKind, Outcome, StoreReporter, WorkContext
from loralab.jobs.worker import run_job
from loralab.store.db import reading
from loralab.store.jobs import claim_queued_jobs, get_job


class CountSpec(StrictModel):
    """Count to a number."""

    to: int = Field(ge=1, le=100, description="Where to stop.")


def run_count(ctx: WorkContext) -> Outcome:
    for n in range(1, ctx.job.config["to"] + 1):
        ctx.reporter.emit("step", {"step": n, "total_steps": ctx.job.config["to"]})
    return Outcome("completed", {"counted": ctx.job.config["to"]})


COUNT = JobKind(
    name="count",
    title="Count",
    description="Counts, for the test.",
    spec=CountSpec,
    run=run_count,
    outputs="jobs",
)


@pytest.fixture
def count_kind(monkeypatch):
    monkeypatch.setitem(JOB_KINDS, "count", COUNT)
    return COUNT


def test_a_new_kind_is_submitted_listed_and_run_without_other_edits(count_kind, settings):
    app = create_app(settings)
    client = TestClient(app)  # no scheduler: this test runs the worker's loop itself
    db = app.state.db
    try:
        bad = client.post("/api/jobs", json={"kind": "count", "config": {"to": 0}})
        assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == "config.to"
        r = client.post("/api/jobs", json={"kind": "count", "config": {"to": 3}, "name": "c"})
        assert r.status_code == 201, r.text
        job = r.json()
        assert job["kind_title"] == "Count" and job["status"] == "queued"
        assert job["config"] == {"to": 3}
        assert (settings.data_dir / "jobs" / job["id"]).is_dir()  # its declared output root
        kinds = {k["name"] for k in client.get("/api/jobs/kinds").json()}
        assert "count" in kinds
        assert [j["id"] for j in client.get("/api/jobs", params={"kind": "count"}).json()] == [
            job["id"]
        ]

        with db.write() as session:
            (row,) = claim_queued_jobs(session, 1)
        reporter = StoreReporter(db, row.id, row.attempts)
        outcome = run_job(row, reporter, threading.Event(), settings)
        reporter.close(outcome.status, exit_code=0, result=outcome.result)

        done = client.get(f"/api/jobs/{job['id']}").json()
        assert done["status"] == "completed" and done["result"] == {"counted": 3}
        assert done["step"] == 3 and done["total_steps"] == 3
        with reading(db) as session:
            assert get_job(session, job["id"]).result == {"counted": 3}
    finally:
        db.dispose()
