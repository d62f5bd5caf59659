"""``EventHub``: one poller per server process that fans job events out to every WebSocket.

Workers are other processes that write events to the store, so the server learns of them by
polling. One poll per socket costs queries in proportion to the sockets (50 browsers on one run
were 200+ queries a second); the hub polls once for all of them, as one asyncio task:

- every ``poll_seconds``, while a job stream is open: one query for ``(status, last_seq)`` of
  the jobs that have subscribers, then one query per job whose ``last_seq`` moved for its new
  events, which go to the queue of every subscriber of that job;
- every ``list_poll_seconds``, while a job-list stream is open: one query for the jobs that
  changed; each change goes to every list subscriber;
- with no subscriber it does not query at all.

A job stream subscribes first and replays its backlog from the store after, so an event can
reach it twice (backlog and hub) or, for a job the hub was not following yet, not at all. Every
``JobUpdate`` carries the job's ``last_seq``: the stream skips the seqs it has sent and reads a
gap from the store (``loralab.api.routes.job_events``), which keeps "every event exactly once, in
order" per connection. A subscriber that falls far behind gets updates without events and reads
them from the store itself, so no queue grows without bound.

``create_app`` keeps one hub on ``app.state.event_hub`` and its lifespan starts and stops it.
Without the lifespan (a bare ``TestClient``) the first subscriber starts it on its own event
loop, and a subscriber whose hub task has gone with another loop starts a new one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from starlette.concurrency import run_in_threadpool

from loralab.services import jobs as service
from loralab.store import Database
from loralab.store.jobs import ACTIVE_STATUSES
from loralab.store.tables import utcnow

__all__ = ["Closing", "EventHub", "JobUpdate", "Subscription"]

log = logging.getLogger("loralab.api")

POLL_SECONDS = 0.1
LIST_POLL_SECONDS = 0.5
PAGE = 500
MAX_PAGES_PER_POLL = 20  # the rest of a huge burst comes on the next poll
MAX_QUEUED = 1000  # a subscriber this far behind reads events from the store itself
# Rows committed a little out of time order must still be seen by the job-list stream.
LIST_OVERLAP = timedelta(seconds=5)
LIST_BACKLOG = timedelta(seconds=60)


@dataclass(frozen=True)
class JobUpdate:
    """What changed in one job: its status (None once it no longer exists), its ``last_seq``
    and the new events (possibly none, or fewer than up to ``last_seq``)."""

    status: str | None
    last_seq: int
    events: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Closing:
    """The stream must end: the server is stopping, or the client fell too far behind."""

    code: int
    reason: str


class Subscription:
    """One stream's queue of hub items; use as a context manager (leaving unsubscribes)."""

    def __init__(self, hub: EventHub, job_id: str | None) -> None:
        self.hub = hub
        self.job_id = job_id  # None: the job-list stream
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self.primed = False  # has had an update since the hub began following its job
        self.snapshot: list[dict[str, Any]] = []  # list streams: the recent changes to start with

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.hub._unsubscribe(self)


class EventHub:
    """Polls the store for every stream of this process and pushes to their queues.

    Args:
        db: the store.
        poll_seconds: seconds between polls for job events; None for no background task at all
            (a test then drives ``poll_once`` itself).
        list_poll_seconds: seconds between polls for the job list.
    """

    def __init__(
        self,
        db: Database,
        *,
        poll_seconds: float | None = POLL_SECONDS,
        list_poll_seconds: float = LIST_POLL_SECONDS,
    ) -> None:
        self.db = db
        self.poll_seconds = poll_seconds
        self.list_poll_seconds = list_poll_seconds
        # Subscribers may live on other event loops (threads): every field below is guarded.
        self._lock = threading.Lock()
        self._job_subs: dict[str, set[Subscription]] = {}
        self._list_subs: set[Subscription] = set()
        self._followed: dict[str, tuple[int, str]] = {}  # job -> (last seq pushed, status)
        self._list_generation = 0
        self._list_since: datetime | None = None
        self._list_sent: dict[str, tuple] = {}
        self._list_recent: dict[str, tuple[dict[str, Any], float]] = {}
        self._next_list_poll = 0.0
        self._task: asyncio.Task | None = None
        self._wake: asyncio.Event | None = None
        self._stopped = False

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the polling task on the running event loop (it idles until a subscriber)."""
        self._stopped = False
        self.ensure_running()

    async def stop(self) -> None:
        """Stop polling and tell every open stream to close (1001, the server is going away)."""
        self._stopped = True
        with self._lock:
            task, self._task = self._task, None
            subs = [*self._list_subs, *(s for group in self._job_subs.values() for s in group)]
        if task is not None and not task.done() and task.get_loop() is asyncio.get_running_loop():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for sub in subs:
            _push(sub, Closing(1001, "server_stopping"))

    def ensure_running(self) -> None:
        """Start the polling task on this loop unless one runs (streams call this now and then:
        without the lifespan the task lives on the loop of the stream that started it)."""
        if self.poll_seconds is None or self._stopped:
            return
        with self._lock:
            task = self._task
            if task is not None and not task.done() and not task.get_loop().is_closed():
                return
            self._task = asyncio.get_running_loop().create_task(self._run(), name="event-hub")

    # -- subscribing -----------------------------------------------------------------------------

    def subscribe_job(self, job_id: str) -> Subscription:
        """Follow one job's events; subscribe before reading the backlog."""
        sub = Subscription(self, job_id)
        with self._lock:
            self._job_subs.setdefault(job_id, set()).add(sub)
        self.ensure_running()
        self._wake_up()
        return sub

    def subscribe_list(self) -> Subscription:
        """Follow every job's status and progress; ``sub.snapshot`` holds what to send first
        (active jobs and those changed in the last minute, as far as the hub has seen)."""
        sub = Subscription(self, None)
        with self._lock:
            if not self._list_subs:  # start afresh: a minute back, as a new page expects
                self._reset_list()
            sub.snapshot = [update for update, _seen in self._list_recent.values()]
            self._list_subs.add(sub)
        self.ensure_running()
        self._wake_up()
        return sub

    def subscriber_count(self) -> int:
        """Open streams (job and list) subscribed now."""
        with self._lock:
            return len(self._list_subs) + sum(len(s) for s in self._job_subs.values())

    def _unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            if sub.job_id is None:
                self._list_subs.discard(sub)
                if not self._list_subs:
                    self._reset_list()
                return
            subs = self._job_subs.get(sub.job_id)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._job_subs[sub.job_id]
                    self._followed.pop(sub.job_id, None)

    def _reset_list(self) -> None:
        self._list_generation += 1
        self._list_since = None
        self._list_sent.clear()
        self._list_recent.clear()
        self._next_list_poll = 0.0

    # -- polling ---------------------------------------------------------------------------------

    async def _run(self) -> None:
        wake = self._wake = asyncio.Event()
        while not self._stopped:
            if not self.subscriber_count():
                wake.clear()
                if not self.subscriber_count():
                    await wake.wait()  # idle: no query until a stream subscribes
                continue
            try:
                await self.poll_once(lists=time.monotonic() >= self._next_list_poll)
            except Exception:  # a database hiccup must not end streaming for good
                log.exception("event hub poll failed")
                await asyncio.sleep(1.0)
                continue
            await asyncio.sleep(self.poll_seconds or POLL_SECONDS)

    def _wake_up(self) -> None:
        task, wake = self._task, self._wake
        if task is None or wake is None or task.done():
            return
        loop = task.get_loop()
        with contextlib.suppress(RuntimeError):  # that loop has just closed
            if _running_loop() is loop:
                wake.set()
            else:
                loop.call_soon_threadsafe(wake.set)

    async def poll_once(self, *, lists: bool = True) -> None:
        """One round: new events of every subscribed job and, if ``lists``, job-list changes."""
        with self._lock:
            wanted = {job_id: self._followed.get(job_id) for job_id in self._job_subs}
        if wanted:
            heads, fetched = await run_in_threadpool(self._read_jobs, wanted)
            self._deliver_jobs(wanted, heads, fetched)
        if not lists:
            return
        with self._lock:
            if not self._list_subs:
                return
            generation = self._list_generation
            since = self._list_since or utcnow() - LIST_BACKLOG
        self._next_list_poll = time.monotonic() + self.list_poll_seconds
        started = utcnow()
        updates = await run_in_threadpool(service.job_updates, self.db, since)
        self._deliver_list(generation, started, updates)

    def _read_jobs(
        self, wanted: dict[str, tuple[int, str] | None]
    ) -> tuple[dict[str, tuple[str, int]], dict[str, list[dict[str, Any]]]]:
        heads = service.job_heads(self.db, list(wanted))
        fetched: dict[str, list[dict[str, Any]]] = {}
        for job_id, followed in wanted.items():
            head = heads.get(job_id)
            if head is None or followed is None or head[1] <= followed[0]:
                continue  # gone, newly followed (its streams read the backlog), or no news
            events: list[dict[str, Any]] = []
            since = followed[0]
            for _ in range(MAX_PAGES_PER_POLL):
                page = service.new_job_events(self.db, job_id, since, PAGE)
                events += page
                if len(page) < PAGE:
                    break
                since = page[-1]["seq"]
            fetched[job_id] = events
        return heads, fetched

    def _deliver_jobs(
        self,
        wanted: dict[str, tuple[int, str] | None],
        heads: dict[str, tuple[str, int]],
        fetched: dict[str, list[dict[str, Any]]],
    ) -> None:
        dead: list[Subscription] = []
        with self._lock:
            for job_id, subs in self._job_subs.items():
                if job_id not in wanted or self._followed.get(job_id) != wanted[job_id]:
                    continue  # subscribed (again) during this round: the next one covers it
                head = heads.get(job_id)
                if head is None:
                    self._followed.pop(job_id, None)
                    for sub in subs:
                        _push(sub, JobUpdate(None, 0), dead)
                    continue
                status, last_seq = head
                events = fetched.get(job_id, [])
                before = wanted[job_id]
                pushed = events[-1]["seq"] if events else (before[0] if before else last_seq)
                self._followed[job_id] = (pushed, status)
                changed = bool(events) or before is None or before[1] != status
                top = max(last_seq, pushed)
                for sub in subs:
                    if not (changed or not sub.primed):
                        continue
                    behind = sub.queue.qsize() >= MAX_QUEUED
                    _push(sub, JobUpdate(status, top, [] if behind else events), dead)
                    sub.primed = True
        for sub in dead:
            self._unsubscribe(sub)

    def _deliver_list(
        self, generation: int, started: datetime, updates: list[dict[str, Any]]
    ) -> None:
        dead: list[Subscription] = []
        now = time.monotonic()
        with self._lock:
            if generation != self._list_generation:
                return  # every list stream left (and maybe new ones came) during this round
            self._list_since = started - LIST_OVERLAP
            for update in updates:
                job_id = update["job_id"]
                key = (update["status"], update["progress"], update["step"], update["total_steps"])
                if self._list_sent.get(job_id) == key:
                    continue
                self._list_sent[job_id] = key
                self._list_recent.pop(job_id, None)
                self._list_recent[job_id] = (update, now)
                for sub in self._list_subs:
                    if sub.queue.qsize() >= MAX_QUEUED:
                        _push(sub, Closing(1013, "too_far_behind"), dead)
                    else:
                        _push(sub, update, dead)
            backlog = LIST_BACKLOG.total_seconds()
            for job_id, (update, seen) in list(self._list_recent.items()):
                if update["status"] not in ACTIVE_STATUSES and now - seen > backlog:
                    del self._list_recent[job_id]
        for sub in dead:
            self._unsubscribe(sub)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _push(sub: Subscription, item: Any, dead: list[Subscription] | None = None) -> None:
    """Queue ``item`` for ``sub`` on its own loop; a sub whose loop has closed goes to ``dead``."""
    try:
        if _running_loop() is sub.loop:
            sub.queue.put_nowait(item)
        else:
            sub.loop.call_soon_threadsafe(sub.queue.put_nowait, item)
    except RuntimeError:
        if dead is not None:
            dead.append(sub)
