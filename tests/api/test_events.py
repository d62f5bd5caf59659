"""Job event WebSockets: replay then stream, exactly once across reconnects, the job list stream.

A thread writes events through the worker's own ``StoreReporter`` (the same batches and row
locks a worker process uses) while real WebSocket clients read them through the app.

The app's ``EventHub`` polls for every socket at once. Tests that need to know exactly when it
polls replace it with one that has no background task (``poll_seconds=None``) and call
``poll_once`` themselves; with ``bare_client`` every socket runs on an event loop of its own,
so those polls also cover the hub pushing to other loops.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import uuid
from dataclasses import dataclass

import pytest
from sqlalchemy import event
from starlette.websockets import WebSocketDisconnect

from loralab.api import event_hub
from loralab.api.event_hub import EventHub
from loralab.api.routes import job_events
from loralab.jobs import StoreReporter
from loralab.store import Database
from loralab.store.jobs import add_job, claim_queued_jobs, delete_job, lock_job, new_job_id


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

    fields = {"job_id", "kind", "status", "progress", "step", "total_steps"}
    assert set(updates[-1]) == fields and updates[-1]["kind"] == "train"
    assert updates[-1]["step"] == 10 and updates[-1]["total_steps"] == 10
    # Nothing is repeated: each update differs from the one before it.
    assert all(a != b for a, b in zip(updates, updates[1:], strict=False))


# -- the event hub: one poll per process, whatever the number of sockets -------------------------


class QueryCounter:
    """Counts the statements an engine runs (``before_cursor_execute``)."""

    def __init__(self, engine) -> None:
        self.engine, self.count = engine, 0
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, *_args) -> None:
        self.count += 1

    def take(self) -> int:
        count, self.count = self.count, 0
        return count

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._seen)


@pytest.fixture
def manual_hub(app, db) -> EventHub:
    """A hub without a background task: it polls only when the test calls ``poll``."""
    hub = EventHub(db, poll_seconds=None)
    app.state.event_hub = hub
    return hub


def poll(hub: EventHub) -> None:
    asyncio.run(hub.poll_once())


@pytest.fixture
def writer_db(settings):
    """A second Database on the same store, as a worker process has (its queries not counted)."""
    other = Database(settings.resolved_database_url)
    yield other
    other.dispose()


def write_steps(reporter: StoreReporter, first: int, count: int) -> None:
    for step in range(first, first + count):
        reporter.report(Step(step, 1000))
    reporter.flush()


def queries_to_stream(bare_client, db, writer_db, hub, sockets: int) -> list[int]:
    """Queries the app makes to deliver a batch of events, then the end, to ``sockets`` sockets
    on one job (all of them caught up first)."""
    job_id, attempt = running_job(db)
    reporter = StoreReporter(writer_db, job_id, attempt, flush_seconds=60)
    start = last_seq_of(bare_client, job_id)
    counter = QueryCounter(db.engine)
    try:
        with contextlib.ExitStack() as stack:
            url = f"/api/jobs/{job_id}/events?since=0"
            clients = [
                stack.enter_context(bare_client.websocket_connect(url)) for _ in range(sockets)
            ]
            for ws in clients:
                assert_exactly_once(receive(ws, count=start)[0], start)
            poll(hub)  # the hub starts following the job
            write_steps(reporter, 1, 30)
            counter.take()
            poll(hub)
            for ws in clients:
                batch, code = receive(ws, count=30)
                assert code is None
                assert [e["seq"] for e in batch] == list(range(start + 1, start + 31))
            during = counter.take()
            reporter.close("completed", exit_code=0)
            poll(hub)
            for ws in clients:
                batch, code = receive(ws)
                assert code == 1000 and [e["type"] for e in batch] == ["status"]
            at_end = counter.take()
    finally:
        counter.close()
    return [during, at_end]


def test_queries_do_not_grow_with_the_number_of_sockets(bare_client, db, writer_db, manual_hub):
    one = queries_to_stream(bare_client, db, writer_db, manual_hub, sockets=1)
    many = queries_to_stream(bare_client, db, writer_db, manual_hub, sockets=12)
    assert many == one
    assert all(count > 0 for count in one)  # the counter sees the hub's queries


def test_hub_queries_nothing_without_subscribers(bare_client, db, manual_hub):
    job_id, _ = running_job(db)
    with bare_client.websocket_connect(f"/api/jobs/{job_id}/events") as ws:
        receive(ws, count=2)
        poll(manual_hub)
    assert manual_hub.subscriber_count() == 0
    counter = QueryCounter(db.engine)
    try:
        poll(manual_hub)
        assert counter.take() == 0
    finally:
        counter.close()


def test_stream_fills_the_gap_before_the_hub_followed_and_skips_what_it_replayed(
    bare_client, db, writer_db, manual_hub
):
    job_id, attempt = running_job(db)
    reporter = StoreReporter(writer_db, job_id, attempt, flush_seconds=60)
    base = f"/api/jobs/{job_id}/events"
    with bare_client.websocket_connect(f"{base}?since=0") as first:
        seen_first, _ = receive(first, count=2)
        write_steps(reporter, 1, 5)  # after its backlog, before the hub follows the job
        poll(manual_hub)  # follows from here: the 5 reach `first` from the store
        seen_first += receive(first, count=5)[0]
        write_steps(reporter, 6, 5)  # the hub has not read these yet...
        with bare_client.websocket_connect(f"{base}?since=0") as second:
            seen_second, _ = receive(second, count=12)  # ...the second socket's backlog has
            poll(manual_hub)  # the hub now pushes them to both
            seen_first += receive(first, count=5)[0]
            reporter.close("completed", exit_code=0)
            poll(manual_hub)
            rest, code_second = receive(second)
            seen_second += rest
        rest, code_first = receive(first)
        seen_first += rest

    last = last_seq_of(bare_client, job_id)
    assert code_first == code_second == 1000
    assert_exactly_once(seen_first, last)
    assert_exactly_once(seen_second, last)


def test_backlog_gaps_and_hub_reads_are_paged(bare_client, db, writer_db, manual_hub, monkeypatch):
    monkeypatch.setattr(job_events, "PAGE", 4)
    monkeypatch.setattr(event_hub, "PAGE", 4)
    job_id, attempt = running_job(db)
    reporter = StoreReporter(writer_db, job_id, attempt, flush_seconds=60)
    write_steps(reporter, 1, 21)
    with bare_client.websocket_connect(f"/api/jobs/{job_id}/events?since=0") as ws:
        seen, _ = receive(ws, count=23)  # backlog: 6 pages
        write_steps(reporter, 22, 13)
        poll(manual_hub)  # a gap of 13 read from the store in pages
        seen += receive(ws, count=13)[0]
        write_steps(reporter, 35, 25)
        poll(manual_hub)  # the hub reads 25 in pages
        seen += receive(ws, count=25)[0]
        reporter.close("stopped", exit_code=0)
        poll(manual_hub)
        rest, code = receive(ws)
    assert code == 1000
    assert_exactly_once(seen + rest, last_seq_of(bare_client, job_id))


def test_stream_of_a_job_deleted_while_streaming_closes_with_4404(bare_client, db, manual_hub):
    job_id, _ = running_job(db)
    with bare_client.websocket_connect(f"/api/jobs/{job_id}/events") as ws:
        receive(ws, count=2)
        poll(manual_hub)
        with db.write() as session:
            delete_job(session, lock_job(session, job_id))
        poll(manual_hub)
        assert receive(ws) == ([], 4404)


def test_streams_close_with_1001_when_the_hub_stops(bare_client, db, manual_hub):
    job_id, _ = running_job(db)
    with (
        bare_client.websocket_connect(f"/api/jobs/{job_id}/events") as job_ws,
        bare_client.websocket_connect("/api/jobs/events") as list_ws,
    ):
        receive(job_ws, count=2)
        poll(manual_hub)
        list_ws.receive_json()
        asyncio.run(manual_hub.stop())
        assert receive(job_ws) == ([], 1001)
        assert receive(list_ws)[1] == 1001


def test_disconnected_clients_are_unsubscribed(bare_client, db):
    hub = bare_client.app.state.event_hub
    job_id, attempt = running_job(db)
    with (
        bare_client.websocket_connect(f"/api/jobs/{job_id}/events") as ws,
        bare_client.websocket_connect("/api/jobs/events"),
    ):
        receive(ws, count=2)
        assert hub.subscriber_count() == 2
    for _ in range(500):  # bounded: the streams end as their clients go
        if hub.subscriber_count() == 0:
            break
        time.sleep(0.01)
    assert hub.subscriber_count() == 0
    Writer(db, job_id, attempt, steps=3).run()


def test_job_list_streams_share_the_hub_and_a_late_one_starts_with_recent_changes(bare_client, db):
    def until_completed(ws, job_id):
        updates = []
        while not updates or updates[-1]["status"] != "completed":
            update = ws.receive_json()
            if update["job_id"] == job_id:
                updates.append(update)
        return updates

    with (
        bare_client.websocket_connect("/api/jobs/events") as first,
        bare_client.websocket_connect("/api/jobs/events") as second,
    ):
        job_id, attempt = running_job(db)
        Writer(db, job_id, attempt, steps=10).run()
        seen_first, seen_second = until_completed(first, job_id), until_completed(second, job_id)
        with bare_client.websocket_connect("/api/jobs/events") as late:
            assert until_completed(late, job_id)[-1] == seen_first[-1]
    for updates in (seen_first, seen_second):
        assert updates[-1]["step"] == 10
        assert all(a != b for a, b in zip(updates, updates[1:], strict=False))
