"""Job event WebSockets: replay then stream, exactly once across reconnects, the job list stream.

A thread writes events through the worker's own ``StoreReporter`` (the same batches and row
locks a worker process uses) while real WebSocket clients read them through the app.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass

import pytest
from starlette.websockets import WebSocketDisconnect

from loralab.jobs import StoreReporter
from loralab.store.jobs import add_job, claim_queued_jobs, new_job_id


@dataclass(frozen=True)
class Step:
    step: int
    total: int

    def to_dict(self):
        return {
            "type": "step",
            "time": time.time(),
            "step": self.step,
            "total_steps": self.total,
            "epoch": 0.1,
            "loss": 1.0 / self.step,
        }


def running_job(db) -> tuple[str, int]:
    with db.write() as session:
        add_job(session, job_id=new_job_id(), kind="train", config={})
    with db.write() as session:
        (job,) = claim_queued_jobs(session, 1)
    return job.id, job.attempts


class Writer(threading.Thread):
    """Reports ``steps`` step events like a fast training run, then ends the job."""

    def __init__(self, db, job_id: str, attempt: int, steps: int, status: str = "completed"):
        super().__init__(daemon=True)
        self.reporter = StoreReporter(db, job_id, attempt, flush_seconds=0.05)
        self.steps, self.status = steps, status

    def run(self) -> None:
        for step in range(1, self.steps + 1):
            self.reporter.report(Step(step, self.steps))
            if step % 10 == 0:
                self.reporter.log(f"step {step}")
            time.sleep(0.004)
        self.reporter.close(self.status, exit_code=0)


def receive(ws, count: int | None = None) -> tuple[list[dict], int | None]:
    """Up to ``count`` messages (all, if None) and the close code if the server closed."""
    messages = []
    while count is None or len(messages) < count:
        try:
            messages.append(ws.receive_json())
        except WebSocketDisconnect as exc:
            return messages, exc.code
    return messages, None


def assert_exactly_once(events: list[dict], last_seq: int) -> None:
    assert [e["seq"] for e in events] == list(range(1, last_seq + 1))


def last_seq_of(client, job_id: str) -> int:
    return client.get(f"/api/jobs/{job_id}").json()["last_seq"]


def test_stream_replays_then_follows_until_the_job_ends(bare_client, db):
    job_id, attempt = running_job(db)
    writer = Writer(db, job_id, attempt, steps=200)
    writer.start()
    time.sleep(0.2)  # some events are history, the rest arrive while connected

    with bare_client.websocket_connect(f"/api/jobs/{job_id}/events?since=0") as ws:
        events, code = receive(ws)
    writer.join()

    assert code == 1000
    assert_exactly_once(events, last_seq_of(bare_client, job_id))
    assert events[0] == {**events[0], "type": "status", "data": {"status": "queued", "attempt": 0}}
    assert events[-1]["type"] == "status" and events[-1]["data"]["status"] == "completed"
    assert [e["data"]["step"] for e in events if e["type"] == "step"] == list(range(1, 201))
    assert set(events[5]) == {"seq", "type", "data", "time"}


def test_reconnecting_client_gets_every_event_exactly_once(bare_client, db):
    job_id, attempt = running_job(db)
    writer = Writer(db, job_id, attempt, steps=300)
    writer.start()

    seen: list[dict] = []
    code = None
    for _ in range(50):  # disconnect after every few events, reconnect with the last seq
        since = seen[-1]["seq"] if seen else 0
        with bare_client.websocket_connect(f"/api/jobs/{job_id}/events?since={since}") as ws:
            batch, code = receive(ws, count=17)
        seen.extend(batch)
        if code is not None:
            break
    if code is None:  # take the rest in one go
        with bare_client.websocket_connect(
            f"/api/jobs/{job_id}/events?since={seen[-1]['seq']}"
        ) as ws:
            batch, code = receive(ws)
        seen.extend(batch)
    writer.join()

    assert code == 1000
    assert_exactly_once(seen, last_seq_of(bare_client, job_id))


def test_stream_of_an_ended_job_replays_from_since_and_closes(bare_client, db):
    job_id, attempt = running_job(db)
    writer = Writer(db, job_id, attempt, steps=20, status="stopped")
    writer.run()
    last = last_seq_of(bare_client, job_id)

    with bare_client.websocket_connect(f"/api/jobs/{job_id}/events?since={last - 3}") as ws:
        events, code = receive(ws)
    assert code == 1000
    assert [e["seq"] for e in events] == [last - 2, last - 1, last]
    with bare_client.websocket_connect(f"/api/jobs/{job_id}/events?since={last}") as ws:
        assert receive(ws) == ([], 1000)


def test_stream_of_unknown_job_closes_with_4404(bare_client):
    with bare_client.websocket_connect(f"/api/jobs/{uuid.uuid4().hex}/events") as ws:
        assert receive(ws) == ([], 4404)


def test_negative_since_is_refused(bare_client, db):
    job_id, _ = running_job(db)
    url = f"/api/jobs/{job_id}/events?since=-1"
    with pytest.raises(WebSocketDisconnect), bare_client.websocket_connect(url) as ws:
        ws.receive_json()


def test_job_list_stream_reports_status_and_progress(bare_client, db):
    with bare_client.websocket_connect("/api/jobs/events") as ws:
        job_id, attempt = running_job(db)
        Writer(db, job_id, attempt, steps=10).run()
        updates = []
        while not updates or updates[-1]["status"] != "completed":
            update = ws.receive_json()
            if update["job_id"] == job_id:
                updates.append(update)

    assert set(updates[-1]) == {"job_id", "status", "progress", "step", "total_steps"}
    assert updates[-1]["step"] == 10 and updates[-1]["total_steps"] == 10
    # Nothing is repeated: each update differs from the one before it.
    assert all(a != b for a, b in zip(updates, updates[1:], strict=False))
