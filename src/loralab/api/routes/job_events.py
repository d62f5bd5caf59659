"""Job event WebSockets.

- ``/api/jobs/{id}/events?since=SEQ`` sends every event with ``seq > SEQ`` as
  ``{seq, type, data, time}``, then streams new ones as the worker writes them. Each event goes
  out once per connection, in order; a client that reconnects with the last seq it saw gets the
  rest exactly once. The server closes with 1000 once the job has ended and every event is sent
  (reconnect after a resume), and with 4404 for an unknown job.
- ``/api/jobs/events`` streams ``{job_id, status, progress, step, total_steps}`` whenever a job
  changes, starting with the active and recently changed ones.

The worker is another process, so both poll the store (a few cheap indexed queries a second).
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

from fastapi import APIRouter, Query, WebSocket
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocketDisconnect, WebSocketState

from loralab.api.deps import DbDep
from loralab.errors import NotFound
from loralab.services import jobs as service
from loralab.store.jobs import FINAL_STATUSES
from loralab.store.tables import utcnow

router = APIRouter()

EVENT_POLL_SECONDS = 0.25
LIST_POLL_SECONDS = 0.5
PAGE = 500
# Rows committed a little out of time order must still be seen by the job-list stream.
LIST_OVERLAP = timedelta(seconds=5)
LIST_BACKLOG = timedelta(seconds=60)
CLOSE_NOT_FOUND = 4404


class _Listener:
    """Reads (and ignores) what the client sends, to notice when it disconnects."""

    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket
        self.task: asyncio.Task | None = None

    async def gone_within(self, seconds: float) -> bool:
        """Wait up to ``seconds``; True once the client has disconnected."""
        if self.task is None:
            self.task = asyncio.create_task(self.websocket.receive())
        done, _ = await asyncio.wait({self.task}, timeout=seconds)
        if not done:
            return False
        task, self.task = self.task, None
        try:
            message = task.result()
        except (WebSocketDisconnect, RuntimeError):
            return True
        return message.get("type") == "websocket.disconnect"

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()


async def _close(websocket: WebSocket, code: int, reason: str = "") -> None:
    if websocket.application_state != WebSocketState.DISCONNECTED:
        with contextlib.suppress(RuntimeError):  # the client went first
            await websocket.close(code=code, reason=reason)


@router.websocket("/events")
async def job_list_events(websocket: WebSocket, db: DbDep) -> None:
    """Status and progress changes of every job, for the job list."""
    await websocket.accept()
    sent: dict[str, tuple] = {}
    since = utcnow() - LIST_BACKLOG
    listener = _Listener(websocket)
    try:
        while True:
            started = utcnow()
            updates = await run_in_threadpool(service.job_updates, db, since)
            since = started - LIST_OVERLAP
            for update in updates:
                key = (update["status"], update["progress"], update["step"], update["total_steps"])
                if sent.get(update["job_id"]) != key:
                    sent[update["job_id"]] = key
                    await websocket.send_json(update)
            if await listener.gone_within(LIST_POLL_SECONDS):
                return
    except WebSocketDisconnect:
        return
    finally:
        listener.cancel()


@router.websocket("/{job_id}/events")
async def job_event_stream(
    websocket: WebSocket,
    job_id: str,
    db: DbDep,
    since: int = Query(default=0, ge=0, le=2**31 - 1, description="The last seq already seen."),
) -> None:
    """Replay a job's events after ``since``, then stream new ones until the job ends."""
    await websocket.accept()
    last = since
    listener = _Listener(websocket)
    try:
        while True:
            try:
                events, status = await run_in_threadpool(service.job_events, db, job_id, last, PAGE)
            except NotFound:
                await _close(websocket, CLOSE_NOT_FOUND, "job_not_found")
                return
            for event in events:
                await websocket.send_json(event)
                last = event["seq"]
            if len(events) == PAGE:
                continue  # more backlog: send it before waiting
            if status in FINAL_STATUSES:
                await _close(websocket, 1000, status)
                return
            if await listener.gone_within(EVENT_POLL_SECONDS):
                return
    except WebSocketDisconnect:
        return
    finally:
        listener.cancel()
