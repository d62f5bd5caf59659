"""A job's whole life through the real app: real worker processes train the tiny model on the CPU.

Submit and stream every event, cancel and resume, and a worker killed with SIGKILL.
"""

from __future__ import annotations

import io
import os
import re
import signal
import zipfile

import pytest
from starlette.websockets import WebSocketDisconnect

from loralab.store.events import events_after
from loralab.store.jobs import reading

from .jobs_support import (
    integrity_ok,
    job_row,
    process_gone,
    wait_for,
    wait_status,
    wait_step,
    worker_log,
)

MAX_STEPS = 6


def receive_all(ws) -> tuple[list[dict], int]:
    """Every message until the server closes the socket; returns them and the close code."""
    messages = []
    while True:
        try:
            messages.append(ws.receive_json())
        except WebSocketDisconnect as exc:
            return messages, exc.code


def assert_contiguous(events: list[dict], first: int = 1) -> None:
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(first, first + len(seqs))), seqs


@pytest.mark.slow
def test_job_completes_and_streams_every_event(client, db, settings, make_config):
    with client.websocket_connect("/api/jobs/events") as job_list:
        response = client.post(
            "/api/jobs", json={"config": make_config(max_steps=MAX_STEPS), "name": "tiny"}
        )
        assert response.status_code == 201, response.text
        job = response.json()
        assert job["status"] == "queued" and job["name"] == "tiny"
        # Paths come from the server, never from the request.
        assert job["config"]["output"]["dir"].endswith(f"/runs/{job['id']}")
        assert job["config"]["data"]["source"].startswith(str(settings.data_dir.resolve()))

        with client.websocket_connect(f"/api/jobs/{job['id']}/events?since=0") as ws:
            events, code = receive_all(ws)

        assert code == 1000
        assert_contiguous(events)
        final = client.get(f"/api/jobs/{job['id']}").json()
        assert final["status"] == "completed", worker_log(settings, job["id"])
        assert events[-1]["seq"] == final["last_seq"]
        types = [e["type"] for e in events]
        for expected in ("status", "started", "phase", "step", "checkpoint", "finished"):
            assert expected in types, types
        statuses = [e["data"]["status"] for e in events if e["type"] == "status"]
        assert statuses == ["queued", "running", "completed"]
        steps = [e["data"]["step"] for e in events if e["type"] == "step"]
        assert steps == list(range(1, MAX_STEPS + 1))

        assert final["step"] == MAX_STEPS and final["total_steps"] == MAX_STEPS
        assert final["progress"] == 1.0
        assert final["metrics"]["loss"] > 0
        assert final["exit_code"] == 0 and final["reason"] is None

        # The job list heard about every status of this job.
        seen = []
        while not seen or seen[-1] != "completed":
            update = job_list.receive_json()
            if update["job_id"] == job["id"] and (not seen or seen[-1] != update["status"]):
                seen.append(update["status"])
        assert seen[-1] == "completed" and "running" in seen

    metrics = client.get(f"/api/jobs/{job['id']}/metrics").json()
    assert [s["step"] for s in metrics["steps"]] == list(range(1, MAX_STEPS + 1))
    assert all(s["loss"] is not None for s in metrics["steps"])
    logs = client.get(f"/api/jobs/{job['id']}/logs", params={"tail": 5}).json()["lines"]
    assert 0 < len(logs) <= 5
    # A clean run's log says what happened, as `loralab train` prints it.
    everything = [
        line["message"] for line in client.get(f"/api/jobs/{job['id']}/logs").json()["lines"]
    ]
    # The thread count is the machine's (its physical cores), said in the line.
    assert any(re.match(r"Training sft on cpu \(\d+ threads?\): ", m) for m in everything)
    assert any(m.startswith("checkpoint saved: ") for m in everything)
    assert everything[-2].startswith(f"Finished at step {MAX_STEPS}")
    checkpoints = client.get(f"/api/jobs/{job['id']}/checkpoints").json()
    assert checkpoints and all(c["complete"] for c in checkpoints)
    assert checkpoints[-1]["step"] == MAX_STEPS
    card = client.get(f"/api/jobs/{job['id']}/run-card")
    assert card.status_code == 200 and card.json()["status"] == "completed"

    # Its adapter is a resource: registered by the worker, listed, downloadable as a zip.
    adapter_id = final["result"]["adapter_id"]
    assert everything[-1] == f"Adapter registered as adapter:{adapter_id}"
    adapter = client.get(f"/api/adapters/{adapter_id}").json()
    assert adapter["job_id"] == job["id"] and adapter["source"] == "training"
    assert adapter["step"] == MAX_STEPS and adapter["method"] == "sft"
    assert adapter["base_ref"] == make_config()["model"]["name_or_path"]  # model:<id>
    assert adapter["metrics"]["train_loss"] > 0 and adapter["size_bytes"] > 0
    assert [a["id"] for a in client.get("/api/adapters").json()] == [adapter_id]
    download = client.get(f"/api/adapters/{adapter_id}/download")
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/zip"
    assert "attachment" in download.headers["content-disposition"]
    names = zipfile.ZipFile(io.BytesIO(download.content)).namelist()
    assert {"adapter_config.json", "adapter_model.safetensors"} <= set(names)
    assert not [n for n in names if n.endswith((".pt", ".pth", ".bin"))]

    # Replaying from the middle gives exactly the rest.
    middle = events[len(events) // 2]["seq"]
    with client.websocket_connect(f"/api/jobs/{job['id']}/events?since={middle}") as ws:
        rest, _ = receive_all(ws)
    assert rest == events[middle:]


@pytest.mark.slow
@pytest.mark.parametrize("database_url", [None])  # SQLite; the happy path covers PostgreSQL
def test_cancel_saves_a_checkpoint_and_resume_finishes(client, db, settings, make_config):
    total = 24
    job = client.post("/api/jobs", json={"config": make_config(max_steps=total, save_steps=10)})
    job_id = job.json()["id"]
    wait_step(db, job_id, 2)

    cancelled = client.post(f"/api/jobs/{job_id}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["cancel_requested"] is True
    stopped = wait_status(db, job_id, ("stopped", "completed", "failed", "interrupted"))
    assert stopped.status == "stopped", worker_log(settings, job_id)
    assert stopped.step < total
    checkpoints = client.get(f"/api/jobs/{job_id}/checkpoints").json()
    assert checkpoints[-1] == {**checkpoints[-1], "step": stopped.step, "complete": True}
    again = client.post(f"/api/jobs/{job_id}/cancel")
    assert again.status_code == 409 and again.json()["code"] == "job_not_running"

    resumed = client.post(f"/api/jobs/{job_id}/resume")
    assert resumed.status_code == 200 and resumed.json()["status"] == "queued"
    done = wait_status(db, job_id, ("completed", "stopped", "failed", "interrupted"))
    assert done.status == "completed", worker_log(settings, job_id)
    assert done.step == total and done.attempts == 2

    with reading(db) as session:
        events = events_after(session, job_id, 0)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    started = [e.data for e in events if e.type == "started"]
    assert started[-1]["resumed_from"] == stopped.step
    metrics = client.get(f"/api/jobs/{job_id}/metrics").json()
    assert [s["step"] for s in metrics["steps"]] == list(range(1, total + 1))


@pytest.mark.slow
@pytest.mark.parametrize("database_url", [None])  # SQLite, whose file a kill could corrupt
def test_killed_worker_is_interrupted_and_resume_finishes(client, db, settings, make_config):
    total = 24
    job_id = client.post(
        "/api/jobs", json={"config": make_config(max_steps=total, save_steps=2)}
    ).json()["id"]
    row = wait_step(db, job_id, 3)  # a checkpoint (step 2) is complete by now
    assert row.status == "running" and row.pid

    os.kill(row.pid, signal.SIGKILL)
    interrupted = wait_status(db, job_id, ("interrupted", "completed", "failed"), timeout=15)
    assert interrupted.status == "interrupted", worker_log(settings, job_id)
    assert interrupted.exit_code == -9
    assert "SIGKILL" in interrupted.reason
    assert process_gone(row.pid)
    shown = client.get(f"/api/jobs/{job_id}").json()
    assert shown["status"] == "interrupted" and shown["reason"] == interrupted.reason

    assert client.post(f"/api/jobs/{job_id}/resume").status_code == 200
    done = wait_status(db, job_id, ("completed", "failed", "interrupted", "stopped"))
    assert done.status == "completed", worker_log(settings, job_id)
    assert done.step == total and done.attempts == 2
    with reading(db) as session:
        events = events_after(session, job_id, 0)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    resumed_from = [e.data["resumed_from"] for e in events if e.type == "started"][-1]
    assert resumed_from is not None and resumed_from >= 2
    wait_for(lambda: job_row(db, job_id).status == "completed", 5, "the row to stay completed")
    assert integrity_ok(settings)
