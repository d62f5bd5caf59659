"""Job event WebSockets.

- ``/api/jobs/{id}/events?since=SEQ`` sends every event with ``seq > SEQ`` as
  ``{seq, type, data, time}``, then streams new ones as the worker writes them. Each event goes
  out once per connection, in order; a client that reconnects with the last seq it saw gets the
  rest exactly once. The server closes with 1000 once the job has ended and every event is sent
  (reconnect after a resume), with 4404 for an unknown (or deleted) job, and with 1001 when the
  server stops.
- ``/api/jobs/events`` streams ``{job_id, kind, status, progress, step, total_steps}`` when a job
  changes, starting with the active and recently changed ones.

The worker is another process, so the server polls the store, but once per process, not once
per socket: the app's ``EventHub`` (``loralab.api.event_hub``) polls a few times a second while
any stream is open and pushes what is new to every stream. A job stream subscribes to the hub
before it replays its backlog from the store (``PAGE`` events a query), skips seqs it has
already sent, and reads from the store any it has not seen yet when the hub says the job is
further along.
"""

from __future__ import annotations

import asyncio
import contextlib

from fastapi import APIRouter, Query, WebSocket
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocketDisconnect, WebSocketState

from loralab.api.deps import DbDep
from loralab.api.event_hub import Closing, EventHub, JobUpdate, Subscription
from loralab.errors import NotFound
from loralab.services import jobs as service
from loralab.store import Database
from loralab.store.jobs import FINAL_STATUSES

router = APIRouter()

PAGE = 500
CLOSE_NOT_FOUND = 4404
HUB_CHECK_SECONDS = 1.0  # how often a waiting stream makes sure the hub's task is alive


class _Listener:
    """Reads (and ignores) what the client sends, to notice when it disconnects."""

    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket
        self.task: asyncio.Task | None = None

    async def next_item(self, sub: Subscription) -> object | None:
        """The next item the hub queued for ``sub``; None once the client has disconnected."""
        getter = asyncio.ensure_future(sub.queue.get())
        try:
            while True:
                if self.task is None:
                    self.task = asyncio.create_task(self.websocket.receive())
                done, _ = await asyncio.wait(
                    {getter, self.task},
                    timeout=HUB_CHECK_SECONDS,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if getter in done:
                    return getter.result()
                if self.task in done:
                    task, self.task = self.task, None
                    try:
                        message = task.result()
                    except (WebSocketDisconnect, RuntimeError):
                        return None
                    if message.get("type") == "websocket.disconnect":
                        return None
                    continue
                sub.hub.ensure_running()
        finally:
            if not getter.done():
                getter.cancel()

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()


async def _close(websocket: WebSocket, code: int, reason: str = "") -> None:
    if websocket.application_state != WebSocketState.DISCONNECTED:
        with contextlib.suppress(RuntimeError):  # the client went first
            await websocket.close(code=code, reason=reason)


def _hub(websocket: WebSocket) -> EventHub:
    return websocket.app.state.event_hub


@router.websocket("/events")
async def job_list_events(websocket: WebSocket) -> None:
    """Status and progress changes of every job, for the job list."""
    await websocket.accept()
    listener = _Listener(websocket)
    try:
        with _hub(websocket).subscribe_list() as sub:
            for update in sub.snapshot:
                await websocket.send_json(update)
            while True:
                item = await listener.next_item(sub)
                if item is None:
                    return
                if isinstance(item, Closing):
                    await _close(websocket, item.code, item.reason)
                    return
                await websocket.send_json(item)
    except WebSocketDisconnect:
        return
    finally:
        listener.cancel()


async def _send_stored(
    websocket: WebSocket, db: Database, job_id: str, last: int, upto: int | None = None
) -> tuple[int, str]:
    """Send the stored events after ``last`` (up to ``upto``, else all) page by page; return
    the last seq sent and the job's status (NotFound for an unknown job)."""
    while True:
        limit = PAGE if upto is None else max(1, min(PAGE, upto - last))
        events, status = await run_in_threadpool(service.job_events, db, job_id, last, limit)
        for event in events:
            await websocket.send_json(event)
            last = event["seq"]
        if len(events) < limit or (upto is not None and last >= upto):
            return last, status


async def _follow(
    websocket: WebSocket, db: Database, job_id: str, last: int, update: JobUpdate
) -> int:
    """Send what ``update`` adds after seq ``last``, exactly once and in order; new ``last``."""
    for event in update.events:
        seq = event["seq"]
        if seq <= last:
            continue  # already sent from the backlog
        if seq > last + 1:  # the hub began following after our backlog read: fill the gap
            last, _ = await _send_stored(websocket, db, job_id, last, seq - 1)
        await websocket.send_json(event)
        last = seq
    if last < update.last_seq:
        last, _ = await _send_stored(websocket, db, job_id, last, update.last_seq)
    return last


@router.websocket("/{job_id}/events")
async def job_event_stream(
    websocket: WebSocket,
    job_id: str,
    db: DbDep,
    since: int = Query(default=0, ge=0, le=2**31 - 1, description="The last seq already seen."),
) -> None:
    """Replay a job's events after ``since``, then stream new ones until the job ends."""
    await websocket.accept()
    listener = _Listener(websocket)
    try:
        with _hub(websocket).subscribe_job(job_id) as sub:
            last, status = await _send_stored(websocket, db, job_id, since)
            while status not in FINAL_STATUSES:
                item = await listener.next_item(sub)
                if item is None:
                    return
                if isinstance(item, Closing):
                    await _close(websocket, item.code, item.reason)
                    return
                assert isinstance(item, JobUpdate)
                if item.status is None:
                    raise NotFound("gone", code="job_not_found")
                last = await _follow(websocket, db, job_id, last, item)
                status = item.status
            await _close(websocket, 1000, status)
    except NotFound:
        await _close(websocket, CLOSE_NOT_FOUND, "job_not_found")
    except WebSocketDisconnect:
        return
    finally:
        listener.cancel()
