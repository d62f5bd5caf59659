"""The worker's background thread: heartbeats, cancel requests, and the reporter's flushes.

Every ``interval`` seconds it stamps ``heartbeat_at`` on the job (the server marks a job whose
stamp is too old as interrupted) and reads ``cancel_requested`` (the stop also arrives as a
SIGTERM, but the store is the channel that works whatever started the worker). Between beats
it is the reporter's flusher: it writes step and log events as soon as they are queued, at most
every ``reporter.min_write_seconds``, so they reach the browser at once and the training thread
never waits for the database on their account.
"""

from __future__ import annotations

import logging
import os
import threading
import time

from sqlalchemy.exc import SQLAlchemyError

from loralab.jobs.reporter import StoreReporter
from loralab.store import Database
from loralab.store.jobs import get_job
from loralab.store.tables import utcnow

__all__ = ["Heartbeat"]

log = logging.getLogger("loralab.jobs")


class Heartbeat:
    """Runs beside the training loop in the worker process.

    Args:
        db: the store.
        job_id: the job.
        attempt: the attempt this worker runs; a different one in the row means the job is lost.
        interval: seconds between heartbeats.
        stop: set when a cancel is requested or the job is lost (the training stop flag).
        reporter: flushed between beats, as soon as it holds events.
        tick: the longest wait for events before checking whether a beat is due.
    """

    def __init__(
        self,
        db: Database,
        job_id: str,
        attempt: int,
        *,
        interval: float,
        stop: threading.Event,
        reporter: StoreReporter,
        tick: float = 0.5,
    ) -> None:
        self.db = db
        self.job_id = job_id
        self.attempt = attempt
        self.interval = interval
        self.stop = stop
        self.reporter = reporter
        self.tick = min(tick, interval)
        self.cancel_requested = False
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, name="loralab-heartbeat", daemon=True)

    def start(self) -> None:
        """Beat once now (recording this process's pid), then keep beating in the background."""
        self.beat()
        self._thread.start()

    def close(self) -> None:
        """Stop the thread (the caller writes the final status)."""
        self._closed.set()
        self.reporter.wake()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def beat(self) -> None:
        """Stamp the heartbeat and pick up a cancel request."""
        try:
            with self.db.write() as session:
                job = get_job(session, self.job_id)
                if job is None or job.attempts != self.attempt or job.status != "running":
                    lost = True
                else:
                    lost = False
                    job.heartbeat_at = utcnow()
                    # The launcher records the pid too, but it may have died before doing so.
                    job.pid = os.getpid()
                    cancel = bool(job.cancel_requested)
        except SQLAlchemyError as exc:
            log.warning("heartbeat for job %s failed: %s", self.job_id, exc)
            return
        if lost:
            log.warning("job %s no longer belongs to this worker; stopping", self.job_id)
            self.reporter.mark_lost()
            self.stop.set()
        elif cancel and not self.cancel_requested:
            self.cancel_requested = True
            self.stop.set()

    def _run(self) -> None:
        next_beat = time.monotonic() + self.interval
        while not self._closed.is_set():
            wait = min(self.tick, max(0.0, next_beat - time.monotonic()))
            try:
                written = self.reporter.write_queued(wait, self._closed)
            except Exception:  # never let a flush error end the heartbeats
                log.exception("flushing events of job %s failed", self.job_id)
                written = False
            if not written:  # the store is unreachable: the events stay queued, try again later
                self._closed.wait(self.tick)
            if self._closed.is_set():
                break
            if time.monotonic() >= next_beat:
                self.beat()
                next_beat = time.monotonic() + self.interval
